"""The Sessions report's roll-ups: the sessions' figures summed per day, kept by PostgreSQL.

Two summary tables, written only by the triggers of `reports/rollup_sql.py` in the transaction
of every insert, update and delete of a session (every write path: the services, the admin, the
scale generator's COPY), and rebuilt or checked against the sessions by `manage.py
rebuild_rollups` (`--check` compares) (docs/reports.md, "Roll-ups"). The
application never writes them; the Sessions report reads them where it may (`reports/
rollups.py`) and the sessions themselves everywhere else, so SQLite, which has no triggers,
draws every report from the sessions.

A session belongs to the day and hour its start has on its center's clock. Every figure is a
`METRICS` figure of `reports/catalog/sessions.py`, an integer that adds up: a count of
sessions, or a sum of minutes (or whole sessions) over them.
"""

from typing import Any

from django.db import models

from grants.models import Grant
from matchpal.models import Organization, ServiceType
from providers.models import Provider
from relationships.models import Relationship
from students.models import Student

# The figures each roll-up row holds, by their `METRICS` name, in the triggers' order.
FIGURES = (
    "sessions",
    "scheduled",
    "completed",
    "cancelled",
    "late_charged",
    "no_shows",
    "student_no_shows",
    "ended",
    "delivered_minutes",
    "consumed_minutes",
    "consumed_sessions",
)


class Figures(models.Model):
    sessions = models.IntegerField()
    scheduled = models.IntegerField()
    completed = models.IntegerField()
    cancelled = models.IntegerField()
    late_charged = models.IntegerField()
    no_shows = models.IntegerField()
    student_no_shows = models.IntegerField()
    ended = models.IntegerField()
    delivered_minutes = models.IntegerField()
    consumed_minutes = models.IntegerField()
    consumed_sessions = models.IntegerField()

    class Meta:
        abstract = True


class SessionHour(Figures):
    """The sessions of a center, service type, day and starting hour (the center's clock): the
    periods, the summary, the outcomes and the weekday × hour heat map of the whole center."""

    # The unique key's index serves every read and the triggers' upserts; no other index is kept
    # up by each write.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    service_type = models.ForeignKey(
        ServiceType, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    hour = models.SmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "hour", "service_type"],
                name="session_hour_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.hour:02d}:00, service type {self.service_type_id}"


class Grain(models.TextChoices):
    DAY = "d", "Day"
    WEEK = "w", "Week"  # the payroll's only: ISO weeks, dated their Monday
    MONTH = "m", "Month"
    QUARTER = "q", "Quarter"
    YEAR = "y", "Year"


# The grains each roll-up keeps (every session counts once in a row of each).
RELATIONSHIP_GRAINS = (Grain.DAY, Grain.MONTH, Grain.QUARTER, Grain.YEAR)
PAYROLL_GRAINS = (Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.QUARTER, Grain.YEAR)


class RelationshipPeriod(Figures):
    """The sessions of a relationship on a day (`grain` d), in a month (`grain` m, `first_day`
    its 1st), a quarter (q) and a year (y): every session counts in one row of each. The
    per-provider, per-student, per-pairing and no-show tables read a range as the fewest rows
    that cover it (`reports.rollups.cover`): whole years and quarters, then whole months, then
    days, so a year is one to six rows per relationship.

    The relationship's provider, student and service type are copied from it (they never
    change): the tables group and filter by them without joining the relationships. (Named
    `of_…` in Python: a table's row names its own `provider`, `student`.)"""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    relationship = models.ForeignKey(
        Relationship, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    grain = models.CharField(max_length=1, choices=Grain)
    first_day = models.DateField()
    of_provider = models.ForeignKey(
        Provider,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_column="provider_id",
    )
    of_student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="+", db_index=False, db_column="student_id"
    )
    of_service_type = models.ForeignKey(
        ServiceType,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_column="service_type_id",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "grain", "first_day", "relationship"],
                name="relationship_period_key",
            ),
            models.CheckConstraint(
                condition=models.Q(grain__in=RELATIONSHIP_GRAINS),
                name="relationship_period_grain",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_grain_display()} of {self.first_day}, relationship {self.relationship_id}"
        )


# The figures of a `PayrollPeriod` row, in the triggers' order (reports/payroll_sql.py). Counts
# and minutes are integers, amounts numerics to the cent; each is summed over the row's sessions.
PAYROLL_COUNTS = (
    "rows",
    "sessions",
    "completed",
    "late_cancelled",
    "student_no_shows",
    "provider_no_shows",
    "unconfirmed",
    "minutes_charged",
    "minutes_confirmed",
    "minutes_unconfirmed",
    "minutes_absent",
)
PAYROLL_AMOUNTS = (
    "earnings_confirmed",
    "earnings_unconfirmed",
    "earnings_absent",
    "client_total",
)
PAYROLL_FIGURES = PAYROLL_COUNTS + PAYROLL_AMOUNTS


def _amount() -> "models.DecimalField[Any, Any]":
    return models.DecimalField(max_digits=14, decimal_places=2)


class PayrollPeriod(models.Model):
    """The payroll's sessions (`reports.payroll.payroll_sessions`: not scheduled, not a
    cancellation that charged nothing) of a provider and service type, summed per day (`grain`
    d), ISO week (w, dated its Monday), month (m), quarter (q) and year (y): every session
    counts in one row of each.

    What the center's settings decide is kept apart, so a row holds for any of them and the
    payroll applies them when it reads (`reports.payroll`): completed sessions confirmed by the
    student, completed ones not confirmed yet, and charged absences (late cancellations and
    no-shows) each have their minutes and their earnings at the session's pay rate, rounded to
    the cent per session. `rows` counts the sessions (a row at 0 is deleted), so a provider's
    row is there exactly when the sessions would make it one. The center's fixed revision value
    is in the minutes of a revision without a review time: a trigger re-posts those sessions
    when it changes."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    grain = models.CharField(max_length=1, choices=Grain)
    first_day = models.DateField()
    of_provider = models.ForeignKey(
        Provider,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_column="provider_id",
    )
    of_service_type = models.ForeignKey(
        ServiceType,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_column="service_type_id",
    )
    rows = models.IntegerField()
    sessions = models.IntegerField()
    completed = models.IntegerField()
    late_cancelled = models.IntegerField()
    student_no_shows = models.IntegerField()
    provider_no_shows = models.IntegerField()
    unconfirmed = models.IntegerField()
    minutes_charged = models.IntegerField()
    minutes_confirmed = models.IntegerField()
    minutes_unconfirmed = models.IntegerField()
    minutes_absent = models.IntegerField()
    earnings_confirmed = _amount()
    earnings_unconfirmed = _amount()
    earnings_absent = _amount()
    client_total = _amount()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "grain", "first_day", "of_provider", "of_service_type"],
                name="payroll_period_key",
            ),
            models.CheckConstraint(
                condition=models.Q(grain__in=PAYROLL_GRAINS), name="payroll_period_grain"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_grain_display()} of {self.first_day}, provider {self.of_provider_id}"


# The ledger's roll-ups (reports/ledger_sql.py): the Usage report's flows, its per-type table
# and its velocity read these instead of the year's entries.
LEDGER_GRAINS = (Grain.DAY, Grain.MONTH)


class LedgerDay(models.Model):
    """The ledger entries of a center, day (when the ledger recorded them, the center's clock),
    unit and kind, summed: `total_delta`, `used_delta` and `usable_delta` (the entries' own
    names, so `reports.usage` adds them up as it adds up entries). Kept by a statement-level
    trigger on `grants_grantentry` in the posting's transaction, for the entries that move a
    Usage figure (a total or a used delta, or an expiry or extension): holds and releases write
    nothing.

    Each entry counts in one row of the whole center (`of_service_type` NULL) and in the rows of
    its service types, the report's filter's rule: an entry for a relationship
    (`by_relationship`) under the relationship's type, any other entry under every type its
    grant covers (so those rows double count a grant covering two types, as the filter does, and
    the center's rows do not)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    unit = models.CharField(max_length=10)
    kind = models.CharField(max_length=14)
    of_service_type = models.ForeignKey(
        ServiceType,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_column="service_type_id",
        null=True,
    )
    by_relationship = models.BooleanField()
    total_delta = models.BigIntegerField()
    used_delta = models.BigIntegerField()
    usable_delta = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "organization",
                    "day",
                    "unit",
                    "kind",
                    "of_service_type",
                    "by_relationship",
                ],
                name="ledger_day_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} ({self.unit}), service type {self.of_service_type_id}"


class StudentLedgerPeriod(models.Model):
    """What a student consumed net (`used_delta`) of a unit on a day (`grain` d) and in a month
    (m, dated the 1st), per service type of the relationship the entries were for (NULL for an
    entry for no relationship): the velocity's consumption, a range read as whole months and
    days (`reports.rollups.cover`). Kept by the same trigger, for entries with a used delta."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    of_student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="+", db_index=False, db_column="student_id"
    )
    unit = models.CharField(max_length=10)
    grain = models.CharField(max_length=1, choices=Grain)
    first_day = models.DateField()
    of_service_type = models.ForeignKey(
        ServiceType,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_column="service_type_id",
        null=True,
    )
    used_delta = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "organization",
                    "grain",
                    "first_day",
                    "of_student",
                    "unit",
                    "of_service_type",
                ],
                name="student_ledger_period_key",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=models.Q(grain__in=LEDGER_GRAINS), name="student_ledger_period_grain"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_grain_display()} of {self.first_day}, student {self.of_student_id}"


class GrantEnding(models.Model):
    """When the ledger last recorded each kind of entry that can end a grant (a consumption, an
    expiry, a refund), one row per grant that has one: the Usage report's utilization finds the
    grants that ended in a range by these (the entry matching the grant's state today) rather
    than by the range's entries, and what its refunds took (its total before refunds is
    `total − refunded`). Kept by the ledger's roll-up trigger; `entries` counts them."""

    grant = models.OneToOneField(
        Grant, on_delete=models.CASCADE, primary_key=True, related_name="report_ending"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    entries = models.IntegerField()
    last_consume_at = models.DateTimeField(null=True)
    last_expire_at = models.DateTimeField(null=True)
    last_refund_at = models.DateTimeField(null=True)
    # What its refunds took out of its total (the sum of their `total_delta`, ≤ 0).
    refunded = models.BigIntegerField()

    def __str__(self) -> str:
        return f"grant {self.grant_id}: {self.entries} ending entries"
