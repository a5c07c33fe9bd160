from decimal import Decimal

from django import forms

from grants.forms import MEASURES, IdempotentForm
from matchpal.models import Organization, ServiceType
from providers.models import Provider, ProviderStatus
from students.models import Student, StudentStatus


class ProposeForm(IdempotentForm):
    student = forms.ModelChoiceField(queryset=Student.objects.none())
    provider = forms.ModelChoiceField(queryset=Provider.objects.none())
    service_type = forms.ModelChoiceField(queryset=ServiceType.objects.none())
    amount = forms.IntegerField(min_value=1, max_value=100_000, label="Hours to allocate")
    measure = forms.ChoiceField(choices=MEASURES, initial="hours", label="Unit")
    provider_pay_rate = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=2,
        required=False,
        help_text="Per hour. Blank: the provider's default.",
    )
    client_rate = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=2,
        initial=Decimal("0.00"),
        help_text="Per hour.",
    )
    field_order = [
        "student",
        "provider",
        "service_type",
        "amount",
        "measure",
        "provider_pay_rate",
        "client_rate",
        "token",
    ]

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["student"].queryset = Student.objects.filter(
            organization=organization, status=StudentStatus.ACTIVE
        )
        self.fields["provider"].queryset = Provider.objects.filter(
            organization=organization, status=ProviderStatus.ACTIVE
        )
        self.fields["service_type"].queryset = ServiceType.objects.filter(
            organization=organization, is_active=True
        )

    def quantity(self) -> int:
        amount = self.cleaned_data["amount"]
        return amount if self.cleaned_data["measure"] == "minutes" else amount * 60


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RatesForm(forms.Form):
    provider_pay_rate = forms.DecimalField(
        min_value=Decimal(0), max_digits=8, decimal_places=2, help_text="Per hour."
    )
    client_rate = forms.DecimalField(
        min_value=Decimal(0), max_digits=8, decimal_places=2, help_text="Per hour."
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class AllocationForm(forms.Form):
    amount = forms.IntegerField(min_value=0, max_value=100_000, label="New allocation")
    measure = forms.ChoiceField(choices=MEASURES, initial="hours", label="Unit")
    reason = forms.CharField(max_length=500, required=False)

    def quantity(self) -> int:
        amount = self.cleaned_data["amount"]
        return amount if self.cleaned_data["measure"] == "minutes" else amount * 60
