import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, DecimalField, ExpressionWrapper, F, Func, Q, Value, When
from django.db.models.functions import Coalesce, Round
from django.urls import reverse

from matchpal.models import Organization
from providers.models import Provider
from relationships.models import Relationship, RelationshipStatus, Unit


class SessionStatus(models.TextChoices):
    # Requested by a booking where the center does not auto-accept: the provider accepts it
    # (→ scheduled) or declines it (→ cancelled, with the provider's message).
    PENDING = "pending", "Requested"
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"
    # Not logged within the grace window (`sessions_app.missed`): only an admin acts on it.
    MISSED = "missed", "Missed"


class SessionKind(models.TextChoices):
    TUTORING = "tutoring", "Tutoring"
    ADVISING = "advising", "Advising"
    REVISION = "revision", "Revision"
    OTHER = "other", "Other"


class NoShowParty(models.TextChoices):
    STUDENT = "student", "The student"
    PROVIDER = "provider", "The provider"


class DisputeResolution(models.TextChoices):
    KEPT = "kept", "Kept as logged"
    EDITED = "edited", "Edited"
    CANCELLED = "cancelled", "Cancelled"


# Disputed by the student and not resolved by an admin: `selectors.dispute_open()`, and the
# condition of the partial index that finds them (a query must imply it to use the index).
DISPUTE_OPEN = Q(
    status=SessionStatus.COMPLETED,
    disputed_at__isnull=False,
    dispute_resolved_at__isnull=True,
)

# The sessions that take the provider's time: no two of one provider may overlap
# (docs/scheduling.md, "Never double-booked"). Completed sessions are records of the past,
# logged after the fact (a group met together logs one session per student), and are left out.
LIVE_STATUSES: tuple[str, ...] = ("pending", "scheduled")
LIVE = Q(status__in=LIVE_STATUSES)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Money:
    """What a session is worth: the minutes charged, the minutes the provider is paid for,
    and the amounts at the session's own rates (docs/rules.md, "Money")."""

    charged_minutes: int
    paid_minutes: int
    provider_earnings: Decimal
    client_amount: Decimal


def _amount(minutes: int, rate: Decimal) -> Decimal:
    return (Decimal(minutes) * rate / 60).quantize(CENT, rounding=ROUND_HALF_UP)


class _PerHour(Func):
    """`minutes` × `rate` ÷ 60. SQLite keeps a rate of whole units (50.00) as an integer and
    divides integers as integers (45 × 50 ÷ 60 = 37): there it divides by 60.0. PostgreSQL
    divides numerics exactly."""

    arg_joiner = " * "
    template = "((%(expressions)s) / 60)"
    output_field = DecimalField(max_digits=14, decimal_places=4)

    def as_sqlite(
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        return self.as_sql(
            compiler, connection, template="((%(expressions)s) / 60.0)", **extra_context
        )


def sql_amount(minutes: str, rate: str) -> Round:
    """`minutes` × `rate` ÷ 60 to the cent, in SQL: `_amount`'s rule (the payroll prices pending
    sessions with it too)."""
    return Round(
        _PerHour(F(minutes), F(rate)),
        2,
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )


def _always(value: bool) -> Q:
    """A condition true of every row when `value`, of none otherwise."""
    return Q(pk__isnull=not value)


class SessionQuerySet(models.QuerySet["Session"]):
    def with_money(self, *, organization: Organization | None = None) -> "SessionQuerySet":
        """Annotate each session's money, the one definition `Session.money` mirrors.

        `money_minutes`: the minutes actually charged to the student's hours (a relationship
        counting sessions charges one session; its minutes are the session's charge: the
        duration, or a revision's review time). `paid_minutes`: of those, what the provider is
        paid for — a completed session once it counts (confirmed, where the center requires
        confirmation), a charged late cancellation or student no-show when the center pays
        providers for them. Amounts use the rates stored on the session.

        Given the `organization` every session belongs to, its policy is written into the query
        as constants instead of joining each session to its organization: a report over a
        year of a large center's sessions spends most of its time in that join
        (docs/reports.md, "Payroll").
        """
        if organization is None:
            revision_minutes: Any = F("organization__revision_minutes")
            requires_confirmation = Q(organization__require_student_confirmation=True)
            pays_absences = Q(organization__pay_providers_for_charged_absences=True)
        else:
            revision_minutes = Value(organization.revision_minutes)
            requires_confirmation = _always(organization.require_student_confirmation)
            pays_absences = _always(organization.pay_providers_for_charged_absences)
        charge = Case(
            When(
                kind=SessionKind.REVISION,
                then=Coalesce(
                    F("review_minutes"), revision_minutes, output_field=models.IntegerField()
                ),
            ),
            default=F("duration_minutes"),
            output_field=models.IntegerField(),
        )
        counts = Q(status=SessionStatus.COMPLETED) & (
            ~requires_confirmation | Q(student_confirmed_at__isnull=False)
        )
        absence = Q(status__in=[SessionStatus.CANCELLED, SessionStatus.NO_SHOW]) & pays_absences
        return self.annotate(
            money_minutes=Case(
                When(status=SessionStatus.SCHEDULED, then=Value(0)),
                When(
                    relationship__unit=Unit.SESSIONS,
                    then=ExpressionWrapper(
                        F("charged_minutes") * charge, output_field=models.IntegerField()
                    ),
                ),
                default=F("charged_minutes"),
                output_field=models.IntegerField(),
            ),
            paid_minutes=Case(
                When(counts | absence, then=F("money_minutes")),
                default=Value(0),
                output_field=models.IntegerField(),
            ),
            provider_earnings=sql_amount("paid_minutes", "provider_pay_rate"),
            client_amount=sql_amount("money_minutes", "client_rate"),
        )


class Session(models.Model):
    """A meeting of a relationship (DESIGN §4). Hours move only through `grants.services`,
    called by `sessions_app.services`; `charged_minutes` mirrors what the ledger consumed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="sessions"
    )
    relationship = models.ForeignKey(
        Relationship, on_delete=models.PROTECT, related_name="sessions"
    )
    # Whose calendar the session takes: the relationship's provider, copied so that the
    # database can keep one provider's live sessions apart (the exclusion constraint
    # `session_provider_no_overlap`). Not named `provider`: the reports annotate sessions with
    # their provider's name under that name.
    calendar_provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="+", db_column="provider_id"
    )
    # False only for sessions scheduled before the rule existed (sessions_app 0008): they count
    # as busy when slots are offered but the constraint does not cover them.
    exclusive = models.BooleanField(default=True)
    # Booked as one of a weekly series (sessions_app.booking); every occurrence is an ordinary
    # session.
    series = models.UUIDField(null=True, blank=True)
    topic = models.CharField(max_length=200, blank=True)
    location = models.CharField(
        max_length=300, blank=True, help_text="A room, or the meeting link."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=SessionKind, default=SessionKind.TUTORING)
    mode = models.CharField(max_length=120, blank=True, help_text="Online, at the center, …")
    status = models.CharField(max_length=10, choices=SessionStatus, default=SessionStatus.COMPLETED)
    notes = models.TextField(blank=True, help_text="The recap the student can read.")
    # Seen and changed only by admins and whoever wrote it last (DESIGN §2).
    internal_note = models.TextField(blank=True)
    internal_note_author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A revision's actual review time; blank: the policy's fixed value.",
    )
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=500, blank=True)
    no_show_party = models.CharField(max_length=10, choices=NoShowParty, blank=True)
    no_show_explanation = models.CharField(max_length=500, blank=True)
    charged_minutes = models.PositiveIntegerField(
        default=0, help_text="What the ledger consumed for this session, net of restores."
    )
    # Not a column: the student's home's "used after it" (reports.selectors.student_sessions).
    running: int
    charge_shortfall = models.PositiveIntegerField(
        default=0,
        help_text="Of a charged late cancellation or no-show, what the hours could not cover.",
    )
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    logged_at = models.DateTimeField(null=True, blank=True)
    student_confirmed_at = models.DateTimeField(null=True, blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    dispute_reason = models.CharField(max_length=500, blank=True)
    report_sent_at = models.DateTimeField(null=True, blank=True)
    report_sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    report_sent_to = models.CharField(max_length=500, blank=True)
    dispute_resolved_at = models.DateTimeField(null=True, blank=True)
    dispute_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dispute_resolution = models.CharField(max_length=10, choices=DisputeResolution, blank=True)
    dispute_resolution_note = models.CharField(max_length=500, blank=True)
    # The relationship's rates when the session was logged: a later rate change does not
    # reprice it (issue 9, "money follows what was charged").
    provider_pay_rate = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    client_rate = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    # The SEQUENCE of its calendar invite: raised by each update or cancellation sent, so
    # calendar apps replace the event (`sessions_app.calendar`).
    ics_sequence = models.PositiveIntegerField(default=0)
    # What the student wrote with their confirmation (the center's `student_recap` setting).
    student_recap = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Whether the session is one to check in, its start aside: scheduled or missed, on a
    # paired relationship. Kept by the database in the writing transaction (sessions_app 0020:
    # a trigger on the session sets it from its status and its relationship's, another
    # rewrites it on a relationship's sessions when the relationship is paired or no longer
    # is); whatever a write puts here, the trigger decides. PostgreSQL only: elsewhere it
    # stays false and nothing reads it (`checkin.check_in_rows`; docs/indexes.md).
    check_in_open = models.BooleanField(default=False, db_default=False, editable=False)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        # docs/indexes.md: the sessions list's order, alone and behind its status and kind
        # filters; a relationship's sessions; the open disputes (the admin home's list, count).
        indexes = [
            models.Index(fields=["organization", "-starts_at", "-id"], name="session_org_starts"),
            models.Index(
                fields=["organization", "status", "-starts_at", "-id"],
                name="session_org_status_starts",
            ),
            models.Index(
                fields=["organization", "kind", "-starts_at", "-id"],
                name="session_org_kind_starts",
            ),
            models.Index(fields=["relationship", "starts_at"]),
            # A provider's own sessions list, in its order (sessions_app 0014, built
            # concurrently).
            models.Index(
                fields=["organization", "calendar_provider", "-starts_at", "-id"],
                name="session_org_provider_starts",
            ),
            # A provider's busy times (free slots, the center's week): their live sessions.
            models.Index(
                fields=["calendar_provider", "starts_at"],
                condition=LIVE,
                name="session_provider_live",
            ),
            # The check-in list (scheduled and missed sessions, oldest first): walked in its
            # order past only those, not the center's completed history, each entry with its
            # relationship, so the page's keys are read without a session (sessions_app
            # 0017, 0018; docs/indexes.md).
            models.Index(
                fields=["organization", "starts_at", "id"],
                include=["relationship"],
                condition=Q(status__in=("scheduled", "missed")),
                name="session_org_check_in_rel",
            ),
            # The admin's check-in list on PostgreSQL: the open check-ins alone, oldest first,
            # without the sessions left scheduled or missed on pairings that ended (sessions_app
            # 0020, built concurrently; docs/indexes.md).
            models.Index(
                fields=["organization", "starts_at", "id"],
                include=["relationship"],
                condition=Q(check_in_open=True, status__in=("scheduled", "missed")),
                name="session_org_check_in_open",
            ),
            # Repeated cancellations (the warning sign): the window's cancelled sessions with
            # their relationship, grouped without reading a session (sessions_app 0018).
            models.Index(
                fields=["organization", "starts_at"],
                include=["relationship"],
                condition=Q(status="cancelled"),
                name="session_org_cancelled",
            ),
            # The provider home's live sessions (to log, requests, coming up), read with the
            # organization: the plan a prepared statement keeps starts here, not from the
            # provider's whole history (sessions_app 0016, docs/indexes.md).
            models.Index(
                fields=["organization", "calendar_provider", "starts_at"],
                condition=LIVE,
                name="session_org_provider_live",
            ),
            models.Index(
                fields=["series", "starts_at"],
                condition=Q(series__isnull=False),
                name="session_series",
            ),
            models.Index(
                fields=["organization", "-disputed_at", "-id"],
                condition=DISPUTE_OPEN,
                name="session_dispute_open",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="session_org_id"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=1), name="session_duration_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__range=(1, 5)),
                name="session_rating_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(provider_pay_rate__gte=0, client_rate__gte=0),
                name="session_rates_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(review_minutes__isnull=True)
                | Q(review_minutes__gte=1, kind="revision"),
                name="session_review_minutes_of_a_revision",
            ),
            # The same meeting cannot be logged twice (cancelled ones do not count).
            models.UniqueConstraint(
                fields=["relationship", "starts_at"],
                condition=~Q(status="cancelled"),
                name="session_unique_start_per_relationship",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.relationship} on {self.starts_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("sessions_app:detail", args=[self.organization.slug, self.public_id])

    @property
    def dispute_open(self) -> bool:
        """The student disputes it and no admin has resolved it yet (the "Disputed" badge)."""
        return (
            self.status == SessionStatus.COMPLETED
            and self.disputed_at is not None
            and self.dispute_resolved_at is None
        )

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def hours(self) -> Decimal:
        return Decimal(self.duration_minutes) / 60

    @property
    def counts_for_earnings(self) -> bool:
        """A completed session the provider is paid for (confirmed, where required)."""
        return self.status == SessionStatus.COMPLETED and (
            not self.organization.require_student_confirmation or bool(self.student_confirmed_at)
        )

    def money(self) -> Money:
        """This session's money in Python, mirroring `SessionQuerySet.with_money`."""
        org = self.organization
        minutes = 0
        if self.status != SessionStatus.SCHEDULED:
            minutes = self.charged_minutes
            if self.relationship.unit == Unit.SESSIONS:
                charge = self.duration_minutes
                if self.kind == SessionKind.REVISION:
                    charge = self.review_minutes or org.revision_minutes
                minutes = self.charged_minutes * charge
        absence = (
            self.status in (SessionStatus.CANCELLED, SessionStatus.NO_SHOW)
            and org.pay_providers_for_charged_absences
        )
        paid = minutes if self.counts_for_earnings or absence else 0
        return Money(
            charged_minutes=minutes,
            paid_minutes=paid,
            provider_earnings=_amount(paid, self.provider_pay_rate),
            client_amount=_amount(minutes, self.client_rate),
        )


class SessionChangeKind(models.TextChoices):
    EDITED = "edited", "Edited"
    COMPLETED = "completed", "Logged"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "Marked a no-show"
    DISPUTE_RESOLVED = "dispute_resolved", "Dispute resolved"
    ACCEPTED = "accepted", "Request accepted"
    DECLINED = "declined", "Request declined"
    MISSED = "missed", "Marked missed"


class SessionChange(models.Model):
    """One change to a session: who made it, when, why, and each field from → to.

    `changes` is a list of {"field": name, "label": shown name, "from": text, "to": text}; the
    values are kept as the text a person read, so a later rule change cannot rewrite them.
    Written by `sessions_app.services` in the transaction of the change itself.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=20, choices=SessionChangeKind)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    changes = models.JSONField(default=list, blank=True)
    # The change gave hours back after the logging grace window (the admins were told).
    gave_back_after_window = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor} at {self.created_at:%Y-%m-%d %H:%M}"


class PairingActivity(models.Model):
    """A relationship's completed sessions in brief, for the warning signs: how many, their
    minutes (the pairing's usual length is their average), the start of the latest, and how
    irregular the gaps between its last six are; with the relationship's status and pairing
    date mirrored, so each sign is a range of one partial index. Kept by triggers on the
    sessions (recomputed from the relationship's sessions on each change of one of them) and on
    the relationships (`sessions_app/migrations/0009_pairing_activity_short_sessions.py`); a
    row exists for every relationship."""

    relationship = models.OneToOneField(
        Relationship, on_delete=models.CASCADE, primary_key=True, related_name="activity"
    )
    # No index of the organization alone (sessions_app 0021): every read of these rows is a
    # sign's, through its partial index below, and the prepared statements' generic plan,
    # which cannot tell the large center from the small ones, took that index for the signs'
    # counts and walked every pairing of the center (docs/indexes.md, "The pairings' signs").
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    status = models.CharField(
        max_length=12, choices=RelationshipStatus, default=RelationshipStatus.PROPOSED
    )
    paired_at = models.DateTimeField(null=True)
    completed = models.IntegerField(default=0)
    minutes = models.BigIntegerField(default=0)
    last_session_at = models.DateTimeField(null=True)
    # The spread of the gaps between the last six completed sessions (five gaps): their
    # standard deviation as a percentage of their mean; null under four sessions.
    gap_variation = models.IntegerField(null=True)

    class Meta:
        # docs/reports.md, "The admin dashboard": long gaps, idle pairings, irregular ones.
        indexes = [
            # Long gaps and irregular pairings, in their lists' order; the variation read
            # from the entries (sessions_app 0018).
            models.Index(
                fields=["organization", "last_session_at", "paired_at", "relationship"],
                include=["gap_variation"],
                condition=Q(status="paired", completed__gt=0),
                name="pairing_paired_last_order",
            ),
            models.Index(
                fields=["organization", "paired_at"],
                condition=Q(status="paired", completed=0),
                name="pairing_paired_never_met",
            ),
            # The irregular pairings' count: the pairings whose variation is over the
            # center's percentage, their last session read from the entries (sessions_app
            # 0021; it replaces `pairing_paired_gap_variation`, without the last session).
            models.Index(
                fields=["organization", "gap_variation"],
                include=["last_session_at"],
                condition=Q(status="paired", completed__gt=0, gap_variation__isnull=False),
                name="pairing_paired_irregular",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.relationship_id}: {self.completed} completed"

    @property
    def usual_minutes(self) -> int | None:
        """The pairing's usual length: its completed sessions' average, in whole minutes."""
        return round(self.minutes / self.completed) if self.completed else None


class ShortSession(models.Model):
    """A completed session under the center's minimum or under its share of its pairing's
    usual length (`warning_short_session_percent`): the very short sessions' warning sign,
    counted over a window of starts through one index. Kept by the same triggers as
    `PairingActivity` (a change of a pairing's sessions re-decides its sessions; a change of
    the center's minimum or share re-decides the center's sessions of the last year)."""

    session = models.OneToOneField(
        Session, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    relationship = models.ForeignKey(Relationship, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()

    class Meta:
        # The window's very short sessions, newest first, their keys in the entries
        # (sessions_app 0018).
        indexes = [
            models.Index(
                fields=["organization", "starts_at", "session"], name="short_session_starts_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.session_id} (short)"


class SessionMessage(models.Model):
    """A short message between the student and the provider on a booked session, emailed to
    the other (`sessions_app.messages`)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.CharField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="session_message_not_empty")
        ]

    def __str__(self) -> str:
        return f"{self.author} on {self.session_id}: {self.body[:40]}"


class QuestionKind(models.TextChoices):
    RATING = "rating", "Rating from 1 to 5"
    YES_NO = "yes_no", "Yes or no"
    TEXT = "text", "Short text"


class FeedbackQuestion(models.Model):
    """One of the center's check-in questions (`sessions_app.checkin`). At most one live
    rating question is "the session's rating": its answer is stored on `Session.rating`."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="feedback_questions"
    )
    text = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=QuestionKind)
    required = models.BooleanField(default=True)
    is_session_rating = models.BooleanField(
        default=False, help_text="Its answer is the session's rating (a rating question)."
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["organization", "is_active", "position"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=QuestionKind.values), name="feedback_question_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(is_session_rating=False) | Q(kind="rating"),
                name="feedback_session_rating_is_a_rating",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(is_session_rating=True, is_active=True),
                name="feedback_one_session_rating",
            ),
        ]

    def __str__(self) -> str:
        return self.text


class FeedbackAnswer(models.Model):
    """A question's answer at a session's check-in; the question's kind says which column."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="feedback")
    question = models.ForeignKey(FeedbackQuestion, on_delete=models.PROTECT, related_name="+")
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    yes_no = models.BooleanField(null=True, blank=True)
    text = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["question__position", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "question"], name="feedback_answer_once"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__range=(1, 5)),
                name="feedback_rating_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.display}"

    @property
    def display(self) -> str:
        if self.rating is not None:
            return f"{self.rating} / 5"
        if self.yes_no is not None:
            return "Yes" if self.yes_no else "No"
        return self.text


class CalendarFeed(models.Model):
    """A member's private calendar feed: the token in its URL is the only key, and
    regenerating it revokes the old URL (`sessions_app.calendar`)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    membership = models.OneToOneField(
        "matchpal.Membership", on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.membership_id}"
