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

from django.db import models

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
    MONTH = "m", "Month"


class RelationshipPeriod(Figures):
    """The sessions of a relationship on a day (`grain` d) and in a month (`grain` m, `first_day`
    its 1st): every session counts in both rows. The per-provider, per-student, per-pairing and
    no-show tables read whole months of a range from the month rows and its other days from the
    day rows, a twelfth of the rows for a year.

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
                condition=models.Q(grain__in=Grain.values), name="relationship_period_grain"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_grain_display()} of {self.first_day}, relationship {self.relationship_id}"
        )
