import functools
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator
from django.urls import reverse
from django.utils import timezone
from django.utils.choices import BaseChoiceIterator

from matchpal.fields import BoundedDateField, SingleLineField
from matchpal.models import Membership, Organization
from matchpal.quantities import format_minutes
from matchpal.search import SearchChoiceField
from providers.models import Provider
from relationships.filters import people_of
from sessions_app.models import (
    DisputeResolution,
    FeedbackQuestion,
    NoShowParty,
    QuestionKind,
    Session,
    SessionKind,
    SessionStatus,
)


def duration_choices(
    organization: Organization, current: int | None = None
) -> list[tuple[int, str]]:
    """The policy's durations; with `current` (a stored session's duration) that value too,
    labelled as recorded when today's steps no longer include it: a rule change never rewrites
    a session, and saving its form unchanged must keep what it has."""
    choices = list(_policy_durations(organization))
    if current is not None and all(m != current for m, _ in choices):
        choices.append((current, f"{format_minutes(current)} (as recorded)"))
        choices.sort()
    return choices


def _policy_durations(organization: Organization) -> tuple[tuple[int, str], ...]:
    step = organization.duration_step_minutes
    first = -(-organization.min_session_minutes // step) * step
    return _durations(first, organization.max_session_minutes, step)


@functools.lru_cache(maxsize=64)
def _durations(first: int, last: int, step: int) -> tuple[tuple[int, str], ...]:
    """Written once per policy and process: every log form lists them (and validates against
    them)."""
    return tuple((m, format_minutes(m)) for m in range(first, last + 1, step))


class _Normalized(BaseChoiceIterator):
    """Choices already as Django keeps them (value and label pairs): a choice field takes a
    `BaseChoiceIterator` as it is, where a list would be normalized pair by pair on every form
    (`django.utils.choices.normalize_choices`)."""

    def __init__(self, pairs: Sequence[tuple[Any, str]]) -> None:
        self.pairs = pairs

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        return iter(self.pairs)


def _notes_minimum(field: forms.Field, minimum: int) -> None:
    """The notes' required length, for the live counter (static/js/notes-counter.js) and the
    browser; the rule itself is checked by the service."""
    field.widget.attrs["data-min-length"] = minimum
    if minimum:
        # Only when there is one: a None attribute would render as minlength="None".
        field.widget.attrs["minlength"] = minimum
        field.help_text = f"At least {minimum} characters."


def _review_minutes_field() -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        min_value=1,
        label="Review time (minutes)",
        # static/js/kind-fields.js shows it only while the kind is "revision".
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "data-kind-only": "revision"}),
    )


def _review_minutes_help(organization: Organization) -> str:
    return (
        "Revisions only: the time the review took. Blank: the center's fixed "
        f"{format_minutes(organization.revision_minutes)}."
    )


def default_start(organization: Organization, paired_at: datetime | None) -> datetime:
    """The log form's preset start, local to the center: the start of the current hour, or the
    pairing's acceptance (to the next minute) when that came later within the hour, so the
    preset is never refused as before the pairing or in the future."""
    now = timezone.localtime(timezone.now(), organization.tz)
    start = now.replace(minute=0, second=0, microsecond=0)
    if paired_at is not None:
        accepted = timezone.localtime(paired_at, organization.tz)
        if accepted.second or accepted.microsecond:
            accepted = accepted.replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = max(start, min(accepted, now.replace(second=0, microsecond=0)))
    return start


class LogSessionForm(forms.Form):
    date = BoundedDateField()
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), label="Start time")
    duration = forms.TypedChoiceField(coerce=int, choices=())
    kind = forms.ChoiceField(choices=SessionKind.choices)
    review_minutes = _review_minutes_field()  # with the policy's wording: __init__
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

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        paired_at: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        choices = _policy_durations(organization)
        duration_field = cast(forms.TypedChoiceField, self.fields["duration"])
        duration_field.choices = _Normalized(choices)
        default = 60 if any(m == 60 for m, _ in choices) else choices[0][0]
        start = default_start(organization, paired_at)
        self.fields["duration"].initial = default
        self.fields["date"].initial = start.date()
        self.fields["time"].initial = start.time()
        self.fields["review_minutes"].help_text = _review_minutes_help(organization)
        _notes_minimum(self.fields["notes"], organization.notes_min_length)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        # The field is on the form whatever the kind (hidden by script for the others): a
        # value typed before switching the kind away from revision does not count.
        if data.get("kind") != SessionKind.REVISION:
            data["review_minutes"] = None
        return data

    def starts_at(self) -> datetime:
        return datetime.combine(
            self.cleaned_data["date"], self.cleaned_data["time"], tzinfo=self.organization.tz
        )


class EditSessionForm(forms.Form):
    """Edit a session, or complete a scheduled one (`completing`): the review time only for a
    revision, the internal note only for someone allowed to change it."""

    duration = forms.TypedChoiceField(coerce=int, choices=())
    mode = forms.CharField(max_length=120, required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    internal_note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Internal note (admins and you only)",
    )

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        session: Session,
        completing: bool,
        internal_note: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        duration_field = cast(forms.TypedChoiceField, self.fields["duration"])
        duration_field.choices = duration_choices(organization, current=session.duration_minutes)
        # A scheduled session being edited needs no notes yet.
        notes_due = completing or session.status == SessionStatus.COMPLETED
        _notes_minimum(self.fields["notes"], organization.notes_min_length if notes_due else 0)
        if session.kind == SessionKind.REVISION:
            self.fields["review_minutes"] = _review_minutes_field()
            self.fields["review_minutes"].help_text = _review_minutes_help(organization)
        if not internal_note:
            del self.fields["internal_note"]
        if not completing:
            # Kept in the session's history beside what changed.
            self.fields["reason"] = forms.CharField(
                max_length=500, required=False, label="Why the change (optional)"
            )
        self.order_fields(["duration", "review_minutes", "mode", "notes", "internal_note"])


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


class RescheduleForm(forms.Form):
    """A new start for a scheduled session, or an admin's correction of a completed one's."""

    date = BoundedDateField()
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), label="Start time")
    reason = SingleLineField(max_length=500, required=False, label="Why (optional)")

    def __init__(
        self, *args: Any, organization: Organization, session: Session, **kwargs: Any
    ) -> None:
        local = timezone.localtime(session.starts_at, organization.tz)
        kwargs.setdefault("initial", {"date": local.date(), "time": local.time()})
        super().__init__(*args, **kwargs)
        self.organization = organization

    def starts_at(self) -> datetime:
        return datetime.combine(
            self.cleaned_data["date"], self.cleaned_data["time"], tzinfo=self.organization.tz
        )


class ChooseRelationshipForm(forms.Form):
    """Which paired relationship to log or schedule a session of: its public id, never a key."""

    relationship = forms.UUIDField(widget=forms.HiddenInput)
    then = forms.ChoiceField(choices=[("log", "Log a session"), ("schedule", "Schedule a session")])


class ResolveDisputeForm(forms.Form):
    """An admin's answer to a dispute: keep, edit (a new duration, or review time for a
    revision) or cancel, with a note the student reads."""

    resolution = forms.ChoiceField(
        choices=DisputeResolution.choices, widget=forms.RadioSelect, label="Resolve by"
    )
    duration = forms.TypedChoiceField(
        coerce=int, choices=(), help_text="Used only when resolving by an edit."
    )
    note = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Note to the student",
    )

    def __init__(
        self, *args: Any, organization: Organization, session: Session, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "initial",
            {"duration": session.duration_minutes, "review_minutes": session.review_minutes},
        )
        super().__init__(*args, **kwargs)
        duration_field = cast(forms.TypedChoiceField, self.fields["duration"])
        duration_field.choices = duration_choices(organization, current=session.duration_minutes)
        if session.kind == SessionKind.REVISION:
            self.fields["review_minutes"] = _review_minutes_field()
            self.fields["review_minutes"].help_text = _review_minutes_help(organization)
        self.order_fields(["resolution", "duration", "review_minutes", "note"])


# --- Scheduling: messages, check-in, questions, recap (docs/scheduling.md) ---------------------


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Message",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 1000}),
        help_text="The other side gets it by email.",
    )


ATTENDED = "attended"
NO_ONE = "no_one"


class CheckInForm(forms.Form):
    """Who came, the duration (the booked one, adjusted: the −10/−5/+5/+10 buttons of
    static/js/check-in.js change the number, which works alone without script), the notes and
    the center's questions (`q<id>` fields). "No one showed up" needs none of the rest."""

    attended = forms.ChoiceField(
        label="Who came",
        choices=[(ATTENDED, "The student attended"), (NO_ONE, "No one showed up")],
        initial=ATTENDED,
        widget=forms.RadioSelect,
    )
    duration = forms.IntegerField(
        label="Duration (minutes)",
        min_value=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "data-adjustable": "1"}),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        session: Session,
        questions: list[FeedbackQuestion],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        duration = cast(forms.IntegerField, self.fields["duration"])
        duration.initial = session.duration_minutes
        duration.max_value = organization.max_session_minutes
        duration.validators.append(MaxValueValidator(organization.max_session_minutes))
        duration.widget.attrs.update(
            {
                "min": organization.min_session_minutes,
                "max": organization.max_session_minutes,
                "step": 1,
            }
        )
        duration.help_text = f"Booked: {format_minutes(session.duration_minutes)}."
        self.fields["notes"].initial = session.notes
        _notes_minimum(self.fields["notes"], organization.notes_min_length)
        for question in questions:
            self.fields[f"q{question.pk}"] = _question_field(question)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("attended") == ATTENDED:
            if cleaned.get("duration") is None and "duration" not in self.errors:
                self.add_error("duration", "Give the duration.")
            for question in self.questions:
                name = f"q{question.pk}"
                if (
                    question.required
                    and cleaned.get(name) in (None, "")
                    and name not in self.errors
                ):
                    self.add_error(name, "Answer this question.")
        else:
            # Nobody came: the duration and the answers are not asked.
            for name in ("duration", *(f"q{q.pk}" for q in self.questions)):
                self.errors.pop(name, None)
        return cleaned

    def answers(self) -> dict[int, int | bool | str | None]:
        values: dict[int, int | bool | str | None] = {}
        for question in self.questions:
            raw = self.cleaned_data.get(f"q{question.pk}")
            if raw in (None, ""):
                values[question.pk] = None
            elif question.kind == QuestionKind.RATING:
                values[question.pk] = int(raw)
            elif question.kind == QuestionKind.YES_NO:
                values[question.pk] = raw == "yes"
            else:
                values[question.pk] = str(raw)
        return values


def _question_field(question: FeedbackQuestion) -> forms.Field:
    # Not required at the form level: "No one showed up" skips them (`CheckInForm.clean`).
    label = question.text
    if question.kind == QuestionKind.RATING:
        return forms.TypedChoiceField(
            label=label,
            choices=[(str(n), str(n)) for n in range(1, 6)],
            required=False,
            widget=forms.RadioSelect(attrs={"class": "mp-inline-choices"}),
        )
    if question.kind == QuestionKind.YES_NO:
        return forms.ChoiceField(
            label=label,
            choices=[("yes", "Yes"), ("no", "No")],
            required=False,
            widget=forms.RadioSelect(attrs={"class": "mp-inline-choices"}),
        )
    return forms.CharField(label=label, max_length=500, required=False)


class FeedbackQuestionForm(forms.Form):
    text = SingleLineField(max_length=200, label="Question")
    kind = forms.ChoiceField(choices=QuestionKind.choices, label="Answered with")
    required = forms.BooleanField(required=False, initial=True, label="An answer is required")
    is_session_rating = forms.BooleanField(
        required=False,
        label="This is the session's rating",
        help_text="A rating question whose answer is stored as the session's rating.",
    )
    position = forms.IntegerField(
        min_value=0, max_value=1000, initial=0, help_text="Questions are asked in this order."
    )
    is_active = forms.BooleanField(
        required=False, initial=True, label="Asked at check-in", help_text="Untick to retire it."
    )


class RecapForm(forms.Form):
    recap = forms.CharField(
        required=False,
        max_length=5000,
        label="Your recap",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class WeekProviderForm(forms.Form):
    """The admin's week: one provider's sessions in full, chosen by typing their name
    (matchpal/search.py; a link `?provider=<public id>` chooses them too). An id that is
    malformed or not of this center is an error on the field; the page shows the center."""

    provider = SearchChoiceField(
        queryset=Provider.objects.none(), noun="provider", required=False, label="Provider"
    )

    def __init__(self, data: Any, *, organization: Organization, membership: Membership) -> None:
        super().__init__(data)
        field = cast(SearchChoiceField, self.fields["provider"])
        field.bind(
            queryset=people_of(organization=organization, membership=membership)["providers"],
            matches_url=reverse("relationships:search_providers", args=[organization.slug]),
            submit=True,
        )

    def chosen(self) -> Provider | None:
        if not self.is_valid():
            return None
        return cast(Provider | None, self.cleaned_data["provider"])
