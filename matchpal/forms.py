from django import forms

from matchpal.models import TIME_ZONE_CHOICES, Organization, Role


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(max_length=150, label="Organization name")
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="America/New_York")


POLICY_FIELDS = [
    "duration_step_minutes",
    "min_session_minutes",
    "max_session_minutes",
    "notes_min_length",
    "logging_grace_hours",
    "max_sessions_per_pair_per_day",
    "weekly_max_minutes_per_student_service",
    "weekly_max_minutes_per_provider",
    "no_show_charge",
    "late_cancellation_window_hours",
    "late_cancellation_charge",
    "insufficient_hours",
    "require_student_confirmation",
    "proposal_response_days",
    "booking_students_may_request",
    "booking_auto_accept",
    "low_balance_threshold_minutes",
    "revision_minutes",
]


class OrganizationSettingsForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES)

    class Meta:
        model = Organization
        fields = ["name", "time_zone", *POLICY_FIELDS]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        step = cleaned.get("duration_step_minutes")
        low, high = cleaned.get("min_session_minutes"), cleaned.get("max_session_minutes")
        if step is not None and step < 1:
            self.add_error("duration_step_minutes", "The duration step must be at least 1 minute.")
        if low is not None and low < 1:
            self.add_error("min_session_minutes", "The minimum must be at least 1 minute.")
        if low is not None and high is not None and high < low:
            self.add_error(
                "max_session_minutes", f"The maximum ({high} min) is below the minimum ({low} min)."
            )
        if cleaned.get("proposal_response_days") == 0:
            self.add_error("proposal_response_days", "Give providers at least one day to respond.")
        return cleaned


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.PROVIDER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ServiceTypeForm(forms.Form):
    name = forms.CharField(max_length=60, help_text="For example Tutoring, Advising or Coaching.")
