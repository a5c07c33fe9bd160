from decimal import Decimal

from django import forms

from matchpal.models import Organization
from providers.models import Provider
from providers.selectors import service_types


class ProviderForm(forms.ModelForm):
    service_types = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Provider
        fields = ["name", "email", "phone", "service_types", "default_pay_rate", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["service_types"].queryset = service_types(organization=organization)

    def clean_default_pay_rate(self) -> Decimal:
        # Mirrors the provider_pay_rate_not_negative constraint, whose own message would be
        # "Constraint … is violated."
        rate: Decimal = self.cleaned_data["default_pay_rate"]
        if rate < 0:
            raise forms.ValidationError("The pay rate cannot be negative.")
        return rate


class OwnProfileForm(forms.ModelForm):
    class Meta:
        model = Provider
        fields = ["name", "phone", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}
