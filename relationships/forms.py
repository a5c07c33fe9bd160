from decimal import Decimal

from django import forms

from grants.forms import MEASURES, IdempotentForm
from grants.models import Grant, GrantStatus, Unit
from matchpal.fields import PublicIdChoiceField
from matchpal.models import Organization, ServiceType
from providers.models import Provider, ProviderStatus
from students.models import Student, StudentStatus


class ProposeForm(IdempotentForm):
    student = PublicIdChoiceField(queryset=Student.objects.none())
    provider = PublicIdChoiceField(queryset=Provider.objects.none())
    service_type = PublicIdChoiceField(queryset=ServiceType.objects.none())
    amount = forms.IntegerField(min_value=1, max_value=100_000, label="Hours to allocate")
    measure = forms.ChoiceField(
        choices=[*MEASURES, ("sessions", "sessions")],
        initial="hours",
        label="Unit",
        help_text="Sessions are reserved from the student's grants in sessions only.",
    )
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

    def clean(self) -> dict[str, object] | None:
        data = super().clean() or {}
        student, service_type = data.get("student"), data.get("service_type")
        measure = data.get("measure")
        if not (student and service_type and measure):
            return data
        units = set(
            Grant.objects.filter(
                student=student,
                status=GrantStatus.ACTIVE,
                grantservicetype__service_type=service_type,
            ).values_list("unit", flat=True)
        )
        # Units never mix: say which unit the student's grants are in rather than a shortfall.
        if measure == "sessions" and Unit.SESSIONS not in units:
            self.add_error(
                "measure",
                f"{student.name} has no grant in sessions for {service_type.name}; "
                "propose in hours or minutes, or grant sessions first.",
            )
        elif measure != "sessions" and units == {Unit.SESSIONS}:
            self.add_error(
                "measure",
                f"{student.name}'s grants for {service_type.name} are in sessions; "
                "propose in sessions.",
            )
        return data

    def unit(self) -> str:
        return Unit.SESSIONS if self.cleaned_data["measure"] == "sessions" else Unit.MINUTES

    def quantity(self) -> int:
        """Minutes for a relationship counted in time; whole sessions for one in sessions."""
        amount: int = self.cleaned_data["amount"]
        return amount * 60 if self.cleaned_data["measure"] == "hours" else amount


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class AllocationForm(forms.Form):
    """The new allocation in the relationship's own unit: hours or minutes for one counted in
    time, whole sessions (no unit to choose) for one counted in sessions."""

    amount = forms.IntegerField(min_value=0, max_value=100_000, label="New allocation")
    measure = forms.ChoiceField(choices=MEASURES, initial="hours", label="Unit")
    reason = forms.CharField(max_length=500, required=False)

    def __init__(self, *args: object, unit: str = Unit.MINUTES, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.unit = unit
        if unit == Unit.SESSIONS:
            del self.fields["measure"]
            self.fields["amount"].label = "New allocation (sessions)"

    def quantity(self) -> int:
        amount: int = self.cleaned_data["amount"]
        if self.unit == Unit.SESSIONS or self.cleaned_data["measure"] == "minutes":
            return amount
        return amount * 60
