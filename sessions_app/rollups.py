"""The warning signs' summaries of sessions (`PairingActivity`, `ShortSession`), and what each
student's sessions were charged (`students.ChargedTotal`, the student home's running total):
what they hold, computed from the sessions and relationships in one pass, to rebuild them or to
check them.

PostgreSQL keeps them in the transaction of every write with the triggers of
`sessions_app/migrations/0009_pairing_activity_short_sessions.py` (every write path is
covered); a change of a center's session minimum or short-session share re-decides its short
sessions by a trigger on the organizations' table. Rebuild after a bulk load with the triggers
disabled (the scale generator does): `manage.py rebuild_rollups` (`--check` compares instead).
SQLite has no triggers: there `rebuild_from_base` computes the same rows in Python before the
warning signs read them (`reports.dashboard.refresh_signs`).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from itertools import pairwise
from typing import TYPE_CHECKING

from django.db import connection, transaction

if TYPE_CHECKING:
    from matchpal.models import Organization

TABLES = ("sessions_app_pairingactivity", "sessions_app_shortsession", "students_chargedtotal")
ACTIVITY_COLUMNS = (
    "relationship_id, organization_id, status, paired_at, completed, minutes, last_session_at,"
    " gap_variation"
)
# Every relationship, with its completed sessions in brief. The gap variation: the standard
# deviation of the gaps between the last six completed sessions (five gaps) as a percentage
# of their mean; none under three gaps.
ACTIVITY = """
SELECT r.id AS relationship_id, r.organization_id, r.status, r.paired_at,
       COALESCE(done.completed, 0) AS completed, COALESCE(done.minutes, 0) AS minutes,
       done.last_session_at, v.gap_variation
FROM relationships_relationship r
LEFT JOIN (
    SELECT relationship_id, COUNT(*) AS completed, SUM(duration_minutes) AS minutes,
           MAX(starts_at) AS last_session_at
    FROM sessions_app_session s WHERE status = 'completed' {and_where}
    GROUP BY relationship_id
) done ON done.relationship_id = r.id
LEFT JOIN (
    SELECT relationship_id,
           CASE WHEN COUNT(gap) >= 3 AND AVG(gap) > 0
                THEN ROUND(100 * STDDEV_POP(gap) / AVG(gap))::integer END AS gap_variation
    FROM (
        SELECT relationship_id, EXTRACT(EPOCH FROM starts_at - LAG(starts_at)
               OVER (PARTITION BY relationship_id ORDER BY starts_at)) AS gap
        FROM (
            SELECT relationship_id, starts_at, ROW_NUMBER() OVER
                   (PARTITION BY relationship_id ORDER BY starts_at DESC) AS n
            FROM sessions_app_session s WHERE status = 'completed' {and_where}
        ) numbered WHERE n <= 6
    ) gaps GROUP BY relationship_id
) v ON v.relationship_id = r.id
{r_where}
"""

SHORT_COLUMNS = "session_id, organization_id, relationship_id, starts_at"
# Completed sessions under the center's minimum or under its share of the pairing's usual
# length (the average of its completed sessions), from the activity rows.
SHORT = """
SELECT s.id AS session_id, s.organization_id, s.relationship_id, s.starts_at
FROM sessions_app_session s
JOIN sessions_app_pairingactivity a ON a.relationship_id = s.relationship_id
JOIN matchpal_organization o ON o.id = s.organization_id
WHERE s.status = 'completed' {and_where}
  AND (s.duration_minutes < o.min_session_minutes
       OR s.duration_minutes * a.completed * 100 < a.minutes * o.warning_short_session_percent)
"""

CHARGED_COLUMNS = "organization_id, student_id, unit, charged"
# What each student's sessions were charged, per unit of their relationships
# (`students.ChargedTotal`, kept by the triggers of `students/migrations/0005_charged_total.py`).
# No row is nothing charged: a row the triggers brought back to 0 is compared as none.
CHARGED = """
SELECT r.organization_id, r.student_id, r.unit, SUM(s.charged_minutes) AS charged
FROM relationships_relationship r JOIN sessions_app_session s ON s.relationship_id = r.id
{r_where}
GROUP BY r.organization_id, r.student_id, r.unit
HAVING SUM(s.charged_minutes) <> 0
"""


@dataclass(frozen=True)
class Difference:
    table: str
    row: tuple[object, ...]
    kept: bool  # the summary holds this row; the sessions say otherwise (or the reverse)

    def __str__(self) -> str:
        side = "kept but not computed" if self.kept else "computed but not kept"
        return f"{self.table}: {side}: {self.row}"


def _scope(organization_id: int | None) -> tuple[str, str, str, list[int]]:
    if organization_id is None:
        return "", "", "", []
    return (
        "WHERE s.organization_id = %s",
        "AND s.organization_id = %s",
        "WHERE r.organization_id = %s",
        [organization_id],
    )


def rebuild(*, organization_id: int | None = None) -> None:
    """Recompute the summaries of one organization (or all) from its sessions and
    relationships: every relationship's activity, then the short sessions (which read it), and
    what each student's sessions were charged."""
    _, and_where, r_where, params = _scope(organization_id)
    only = "" if organization_id is None else " WHERE organization_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM students_chargedtotal{only}", params)  # noqa: S608
        cursor.execute(
            f"INSERT INTO students_chargedtotal ({CHARGED_COLUMNS}) "
            + CHARGED.format(r_where=r_where),
            params,
        )
        cursor.execute(f"DELETE FROM sessions_app_shortsession{only}", params)  # noqa: S608
        cursor.execute(f"DELETE FROM sessions_app_pairingactivity{only}", params)  # noqa: S608
        cursor.execute(
            f"INSERT INTO sessions_app_pairingactivity ({ACTIVITY_COLUMNS}) "
            + ACTIVITY.format(and_where=and_where, r_where=r_where),
            params * 3,
        )
        cursor.execute(
            f"INSERT INTO sessions_app_shortsession ({SHORT_COLUMNS}) "
            + SHORT.format(and_where=and_where),
            params,
        )


def differences(*, organization_id: int | None = None) -> list[Difference]:
    """Each row where a summary and a recomputation from the sessions disagree. Short sessions
    are compared over the last year: a change of the center's thresholds re-decides that far."""
    _, and_where, r_where, params = _scope(organization_id)
    only = "" if organization_id is None else " AND organization_id = %s"
    year = " AND starts_at >= now() - interval '366 days'"
    checks = [
        (
            "sessions_app_pairingactivity",
            f"SELECT {ACTIVITY_COLUMNS} FROM sessions_app_pairingactivity"  # noqa: S608
            f" WHERE true{only}",
            params,
            ACTIVITY.format(and_where=and_where, r_where=r_where),
            params * 3,
        ),
        (
            "sessions_app_shortsession",
            f"SELECT {SHORT_COLUMNS} FROM sessions_app_shortsession WHERE true{only}{year}",  # noqa: S608
            params,
            SHORT.format(and_where=and_where + " AND s.starts_at >= now() - interval '366 days'"),
            params,
        ),
        (
            "students_chargedtotal",
            f"SELECT {CHARGED_COLUMNS} FROM students_chargedtotal"  # noqa: S608
            f" WHERE charged <> 0{only}",
            params,
            CHARGED.format(r_where=r_where),
            params,
        ),
    ]
    found: list[Difference] = []
    with connection.cursor() as cursor:
        for table, kept, kept_params, computed, computed_params in checks:
            for first, second, first_params, second_params, is_kept in (
                (kept, computed, kept_params, computed_params, True),
                (computed, kept, computed_params, kept_params, False),
            ):
                cursor.execute(
                    f"({first}) EXCEPT ({second})",
                    [*first_params, *second_params],
                )
                found += [Difference(table, tuple(row), is_kept) for row in cursor.fetchall()]
    return found


def _gap_variation(starts: list[datetime]) -> int | None:
    """The spread of the gaps between the last six of `starts` (ascending): their population
    standard deviation as a whole percentage of their mean (half away from zero, as
    PostgreSQL's ROUND); none under three gaps or for a mean of zero."""
    latest = starts[-6:]
    gaps = [Decimal(str((b - a).total_seconds())) for a, b in pairwise(latest)]
    if len(gaps) < 3:
        return None
    with localcontext() as context:
        context.prec = 40
        mean = sum(gaps, Decimal(0)) / len(gaps)
        if mean <= 0:
            return None
        deviation = (sum(((g - mean) ** 2 for g in gaps), Decimal(0)) / len(gaps)).sqrt()
        return int((100 * deviation / mean).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rebuild_from_base(organization: "Organization") -> None:
    """`rebuild` for one organization on any database (SQLite, where no trigger keeps the
    summaries): the same figures, computed here from its relationships and completed sessions
    (the ACTIVITY and SHORT queries above, which use PostgreSQL's functions), then written
    in place of its rows. Reads all of the center's completed sessions: for small centers
    (the embedded database's demos); `tests/reports/test_signs_without_triggers.py` checks it
    against the triggers' rows."""
    from relationships.models import Relationship
    from sessions_app.models import PairingActivity, Session, SessionStatus, ShortSession

    completed: dict[int, list[tuple[int, datetime, int]]] = {}
    for pk, rel, starts_at, minutes in (
        Session.objects.filter(organization=organization, status=SessionStatus.COMPLETED)
        .order_by("relationship_id", "starts_at", "pk")
        .values_list("pk", "relationship_id", "starts_at", "duration_minutes")
    ):
        completed.setdefault(rel, []).append((pk, starts_at, minutes))
    activity: list[PairingActivity] = []
    short: list[ShortSession] = []
    relationships = Relationship.objects.filter(organization=organization).values_list(
        "pk", "status", "paired_at"
    )
    for rel, status, paired_at in relationships.order_by("pk"):
        done = completed.get(rel, [])
        n = len(done)
        total = sum(minutes for _, _, minutes in done)
        activity.append(
            PairingActivity(
                relationship_id=rel,
                organization=organization,
                status=status,
                paired_at=paired_at,
                completed=n,
                minutes=total,
                last_session_at=max((s for _, s, _ in done), default=None),
                gap_variation=_gap_variation([s for _, s, _ in done]),
            )
        )
        short += [
            ShortSession(
                session_id=pk, organization=organization, relationship_id=rel, starts_at=starts_at
            )
            for pk, starts_at, minutes in done
            if minutes < organization.min_session_minutes
            or minutes * n * 100 < total * organization.warning_short_session_percent
        ]
    with transaction.atomic():
        ShortSession.objects.filter(organization=organization).delete()
        PairingActivity.objects.filter(organization=organization).delete()
        PairingActivity.objects.bulk_create(activity, batch_size=500)
        ShortSession.objects.bulk_create(short, batch_size=500)
