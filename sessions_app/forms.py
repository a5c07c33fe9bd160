from datetime import datetime

from django import forms
from django.utils import timezone

from matchpal.models import Organization
from matchpal.quantities import format_minutes
from sessions_app.models import NoShowParty, SessionKind


def duration_choices(organization: Organization) -> list[tuple[int, str]]:
    step = organization.duration_step_minutes
    first = -(-organization.min_session_minutes // step) * step
    return [
        (m, format_minutes(m)) for m in range(first, organization.max_session_minutes + 1, step)
    ]


class LogSessionForm(forms.Form):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), label="Start time")
    duration = forms.TypedChoiceField(coerce=int, choices=())
    kind = forms.ChoiceField(choices=SessionKind.choices)
    mode = forms.CharField(
        max_length=120,
        required=False,
        label="Where",
        widget=forms.TextInput(attrs={"placeholder": "Online, at the center…"}),
    )
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Notes for the student"
    )
    internal_note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Internal note (admins and you only)",
    )
    schedule = forms.BooleanField(
        required=False, label="Still to come: schedule it instead of logging it"
    )

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.organization = organization
        choices = duration_choices(organization)
        self.fields["duration"].choices = choices
        default = 60 if any(m == 60 for m, _ in choices) else choices[0][0]
        now = timezone.localtime(timezone.now(), organization.tz)
        self.fields["duration"].initial = default
        self.fields["date"].initial = now.date()
        self.fields["time"].initial = now.replace(minute=0, second=0, microsecond=0).time()
        minimum = organization.notes_min_length
        self.fields["notes"].widget.attrs["data-min-length"] = minimum
        if minimum:
            # Only when there is one: a None attribute would render as minlength="None".
            self.fields["notes"].widget.attrs["minlength"] = minimum
            self.fields["notes"].help_text = f"At least {minimum} characters."

    def starts_at(self) -> datetime:
        return datetime.combine(
            self.cleaned_data["date"], self.cleaned_data["time"], tzinfo=self.organization.tz
        )


class EditSessionForm(forms.Form):
    duration = forms.TypedChoiceField(coerce=int, choices=())
    mode = forms.CharField(max_length=120, required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    internal_note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["duration"].choices = duration_choices(organization)


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class NoShowForm(forms.Form):
    party = forms.ChoiceField(
        choices=NoShowParty.choices, widget=forms.RadioSelect, label="Who did not come"
    )
    explanation = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class DisputeForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), label="What is wrong?"
    )
