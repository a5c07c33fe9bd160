import html
from decimal import Decimal
from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer
from django.utils.safestring import SafeString, mark_safe

from matchpal.constraints import ReadableModelForm
from matchpal.fields import SingleLineField
from matchpal.models import TIME_ZONE_CHOICES, Organization, Role
from matchpal.services import policy_errors


class LongSelect(forms.Select):
    """A select of hundreds of plain options (the time zones, no groups), written in Python: a
    template, even one writing each option inline, loops and escapes per option and was most of
    the time of a page that shows one. It writes what Django's Select writes (attributes in
    their order, `True` bare and `False` left out; only the first option equal to a value
    selected); tests/matchpal/test_long_select.py compares the two."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        attributes = self.build_attrs(self.attrs, attrs)
        written = "".join(
            f" {_escaped(key)}" if given is True else f' {_escaped(key)}="{_escaped(given)}"'
            for key, given in attributes.items()
            if given is not False
        )
        chosen, has_selected = set(self.format_value(value)), False
        lines = []
        for option, label in self.choices:
            selected = not has_selected and str(option) in chosen  # one only, as Django's
            has_selected |= selected
            lines.append(
                f'\n  <option value="{_escaped(option)}"{" selected" if selected else ""}>'
                f"{_escaped(label)}</option>"
            )
        return mark_safe(  # noqa: S308 - every value written above is escaped
            f'<select name="{_escaped(name)}"{written}>{"".join(lines)}\n</select>'
        )


def _escaped(value: object) -> str:
    """`conditional_escape` without its lazy-string wrapper, which cost more than the escaping
    over hundreds of options: safe HTML as it is, anything else escaped."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


class OrganizationCreateForm(forms.Form):
    name = SingleLineField(max_length=150, label="Organization name")
    time_zone = forms.ChoiceField(
        choices=TIME_ZONE_CHOICES, initial="America/New_York", widget=LongSelect
    )


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
    "booking_notice_hours",
    "booking_horizon_days",
    "booking_slot_minutes",
    "booking_slot_step_minutes",
    "low_balance_threshold_minutes",
    "revision_minutes",
    "pay_providers_for_charged_absences",
    "providers_see_client_amount",
    "dispute_window_days",
    "warning_short_session_percent",
    "warning_gap_days",
    "warning_cancellations",
    "warning_cancellation_days",
    "student_recap",
    "student_recap_min_length",
    "checkin_required",
    "checkin_overdue_hours",
    "no_show_suspension_count",
    "no_show_suspension_days",
    "warning_short_session_days",
    "warning_irregular_percent",
    "session_reminder_hours",
]


class OrganizationSettingsForm(ReadableModelForm):
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, widget=LongSelect)

    class Meta:
        model = Organization
        fields = ["name", "time_zone", *POLICY_FIELDS]
        field_classes = {"name": SingleLineField}

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        # Fields that failed their own validation are absent, and left out of the joint rules.
        values = {name: cleaned[name] for name in POLICY_FIELDS if name in cleaned}
        for field, message in policy_errors(values).items():
            self.add_error(field, message)
        return cleaned


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.PROVIDER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ServiceTypeForm(forms.Form):
    name = SingleLineField(max_length=60, help_text="For example Tutoring, Advising or Coaching.")
    client_rate = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=2,
        required=False,
        label="Client rate",
        help_text=(
            "Per hour; the default client rate of a new relationship of this type. "
            "Blank: 0.00 for a new type, unchanged when editing."
        ),
    )
