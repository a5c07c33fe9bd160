from decimal import Decimal
from typing import Any, cast

from django import forms

from matchpal.constraints import ReadableModelForm
from matchpal.fields import BoundedDateField, PublicIdMultipleChoiceField, SingleLineField
from matchpal.models import Organization, ServiceType
from providers.models import ExceptionKind, MeetingMode, Provider, Weekday
from providers.selectors import service_types_for_form


class ServiceTypeChoices(PublicIdMultipleChoiceField):
    def label_from_instance(self, obj: ServiceType) -> str:
        return obj.name if obj.is_active else f"{obj.name} (inactive)"


class ProviderForm(ReadableModelForm):
    service_types = ServiceTypeChoices(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Provider
        fields = ["name", "email", "phone", "service_types", "default_pay_rate", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 3})}
        field_classes = {"name": SingleLineField}

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The active types, and the deactivated ones this provider already offers: saving the
        # form must not silently take those away.
        service_types_field = cast(ServiceTypeChoices, self.fields["service_types"])
        service_types_field.queryset = service_types_for_form(
            organization=organization, provider=self.instance if self.instance.pk else None
        )

    def clean_default_pay_rate(self) -> Decimal:
        # Mirrors the provider_pay_rate_not_negative constraint, whose own message would be
        # "Constraint … is violated."
        rate: Decimal = self.cleaned_data["default_pay_rate"]
        if rate < 0:
            raise forms.ValidationError("The pay rate cannot be negative.")
        return rate


class OwnProfileForm(ReadableModelForm):
    class Meta:
        model = Provider
        fields = ["name", "phone", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}
        field_classes = {"name": SingleLineField}


class WindowForm(forms.Form):
    weekday = forms.TypedChoiceField(choices=Weekday.choices, coerce=int)
    start = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    mode = forms.ChoiceField(choices=MeetingMode.choices, initial=MeetingMode.IN_PERSON)
    location = SingleLineField(
        max_length=300, required=False, help_text="The room or address, or the meeting link."
    )


class ExceptionForm(forms.Form):
    kind = forms.ChoiceField(choices=ExceptionKind.choices, label="What")
    date = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Leave both times empty for a whole day off.",
    )
    end = forms.TimeField(
        required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    mode = forms.ChoiceField(
        choices=MeetingMode.choices, initial=MeetingMode.IN_PERSON, label="Mode (extra hours)"
    )
    location = SingleLineField(max_length=300, required=False, label="Location (extra hours)")
    note = SingleLineField(max_length=200, required=False)
