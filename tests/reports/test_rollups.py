"""The Sessions report's roll-ups (docs/reports.md, "Roll-ups"): kept by PostgreSQL's triggers
in every write's transaction, they hold exactly what the sessions say after every kind of change,
an admin's report drawn from them is the report drawn from the sessions, and the check and the
rebuild commands find and mend any difference. PostgreSQL only: SQLite keeps no roll-ups (its
reports read the sessions, as the figure tests marked `sqlite` check)."""

from datetime import date
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from matchpal.models import Organization, ServiceType
from reports.catalog.sessions import SessionsReport
from reports.framework import Period, Scope
from reports.models import PAYROLL_GRAINS, RELATIONSHIP_GRAINS, RelationshipPeriod, SessionHour
from reports.rollups import blocks, find_differences
from sessions_app import services as session_services
from sessions_app.models import Session, SessionKind
from tests.reports.history import History, build
from tests.reports.ledger_history import build_history
from tests.support import Tenant, at, log_as_admin, member

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def history(clock: object, tenant_a: Tenant, tenant_b: Tenant) -> History:
    # The June history (edits, a cancellation that restores, a charged late cancellation,
    # no-shows of either party, a sessions-unit pairing) and, in the other center, the May ledger
    # history (refunds, an expiry, a transfer, an adjustment, a late cancellation, an edit).
    build_history(tenant_b)
    return build(tenant_a)


def rows_of(model: Any) -> list[tuple[Any, ...]]:
    """A roll-up table's rows without their ids, in key order."""
    fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
    return sorted(model.objects.values_list(*fields))


def test_the_rollups_hold_what_the_sessions_say_after_every_kind_of_change(
    history: History, tenant_a: Tenant
) -> None:
    admin = member(tenant_a.admin, tenant_a.organization)
    revision = log_as_admin(
        tenant_a, history.minutes, at(10, 9), 30, kind=SessionKind.REVISION, review_minutes=20
    )
    session_services.session_edit(membership=admin, session=revision, review_minutes=45)
    moved = log_as_admin(tenant_a, history.minutes, at(9, 15), 45)
    session_services.session_reschedule(membership=admin, session=moved, starts_at=at(7, 11))

    assert find_differences() == []
    # The moved session left its first hour: no row of it is left at 0.
    assert not SessionHour.objects.filter(day=date(2025, 6, 9), hour=15).exists()
    assert SessionHour.objects.filter(day=date(2025, 6, 7), hour=11, sessions=1).exists()
    assert not SessionHour.objects.filter(sessions=0).exists()
    assert not RelationshipPeriod.objects.filter(sessions=0).exists()
    # June 2, 10:00 in New York: one completed session of 60 minutes.
    june_2 = SessionHour.objects.get(organization=tenant_a.organization, day=date(2025, 6, 2))
    assert (june_2.hour, june_2.sessions, june_2.completed, june_2.delivered_minutes) == (
        10,
        1,
        1,
        60,
    )


def test_an_update_that_reads_no_figure_leaves_the_rollups_alone(
    history: History, tenant_a: Tenant
) -> None:
    before = rows_of(SessionHour), rows_of(RelationshipPeriod)
    Session.objects.filter(organization=tenant_a.organization).update(notes="Recap")
    assert (rows_of(SessionHour), rows_of(RelationshipPeriod)) == before


def report_tables(scope: Scope, *, rolled_up: bool) -> dict[str, Any]:
    report = SessionsReport(scope)
    report.__dict__["rolled_up"] = rolled_up  # the cached property, decided
    return {
        "figures": report.figures,
        **{table.name: (list(table.rows), table.totals) for table in report.tables()},
    }


@pytest.mark.parametrize(
    ("start", "end", "period"),
    [
        ("2025-06-01", "2025-06-30", Period.DAY),  # one whole month
        ("2025-05-15", "2025-07-10", Period.WEEK),  # a whole month between two parts of months
        ("2025-06-03", "2025-06-20", Period.DAY),  # days inside a month
        ("2025-01-01", "2025-12-31", Period.MONTH),  # a year of whole months
        ("2024-12-31", "2025-06-01", Period.MONTH),  # a day each side of whole months
    ],
)
@pytest.mark.parametrize("service", [None, "Tutoring"])
def test_an_admins_report_from_the_rollups_is_the_report_from_the_sessions(
    history: History, tenant_a: Tenant, start: str, end: str, period: str, service: str | None
) -> None:
    org = tenant_a.organization
    scope = Scope(
        organization=org,
        membership=member(tenant_a.admin, org),
        start=date.fromisoformat(start),
        end=date.fromisoformat(end),
        period=period,
        service_type=ServiceType.objects.get(organization=org, name=service) if service else None,
    )
    assert SessionsReport(scope).rolled_up
    from_rollups = report_tables(scope, rolled_up=True)
    assert from_rollups == report_tables(scope, rolled_up=False)
    assert from_rollups["figures"]["sessions"] > 0


@pytest.mark.parametrize(
    ("start", "end", "grains", "runs"),
    [
        ("2025-06-01", "2025-06-30", RELATIONSHIP_GRAINS, [("m", "2025-06-01", "2025-06-01")]),
        ("2025-06-02", "2025-06-30", RELATIONSHIP_GRAINS, [("d", "2025-06-02", "2025-06-30")]),
        (
            "2025-05-31",
            "2025-07-01",
            RELATIONSHIP_GRAINS,
            [
                ("d", "2025-05-31", "2025-05-31"),
                ("m", "2025-06-01", "2025-06-01"),
                ("d", "2025-07-01", "2025-07-01"),
            ],
        ),
        ("2025-01-01", "2025-12-31", RELATIONSHIP_GRAINS, [("y", "2025-01-01", "2025-01-01")]),
        (
            "2024-12-01",
            "2025-11-30",
            RELATIONSHIP_GRAINS,
            [
                ("m", "2024-12-01", "2024-12-01"),
                ("q", "2025-01-01", "2025-07-01"),
                ("m", "2025-10-01", "2025-11-01"),
            ],
        ),
        (
            "2024-01-15",
            "2024-03-31",  # February 29
            RELATIONSHIP_GRAINS,
            [("d", "2024-01-15", "2024-01-31"), ("m", "2024-02-01", "2024-03-01")],
        ),
        (
            "2025-06-04",
            "2025-06-30",
            PAYROLL_GRAINS,
            [
                ("d", "2025-06-04", "2025-06-08"),
                ("w", "2025-06-09", "2025-06-23"),
                ("d", "2025-06-30", "2025-06-30"),
            ],
        ),
        ("2024-12-31", "2025-01-01", PAYROLL_GRAINS, [("d", "2024-12-31", "2025-01-01")]),
    ],
)
def test_a_range_is_the_fewest_rows_that_cover_each_day_once(
    start: str, end: str, grains: tuple[str, ...], runs: list[tuple[str, str, str]]
) -> None:
    assert blocks(date.fromisoformat(start), date.fromisoformat(end), grains) == [
        (grain, date.fromisoformat(first), date.fromisoformat(last)) for grain, first, last in runs
    ]


def test_the_check_finds_each_difference_and_the_rebuild_mends_them(
    history: History, tenant_a: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = rows_of(SessionHour), rows_of(RelationshipPeriod)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE reports_sessionhour SET completed = completed + 1"
            " WHERE id = (SELECT min(id) FROM reports_sessionhour)"
        )
        cursor.execute(
            "DELETE FROM reports_relationshipperiod"
            " WHERE id = (SELECT max(id) FROM reports_relationshipperiod)"
        )
    spurious = SessionHour.objects.create(
        organization=tenant_a.organization,
        service_type=ServiceType.objects.get(organization=tenant_a.organization, name="Tutoring"),
        day=date(2025, 1, 1),
        hour=3,
        **dict.fromkeys(
            [
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
            ],
            1,
        ),
    )

    with pytest.raises(CommandError) as refused:
        call_command("rebuild_rollups", "--check")
    assert refused.value.returncode == 1
    assert str(refused.value) == "3 difference(s) in the summaries."
    printed = capsys.readouterr().out
    assert "'completed': '" in printed
    assert "(roll-up ≠ sessions)" in printed
    assert f"day={spurious.day}, hour=3): " in printed
    assert "but no session counts there" in printed
    assert "missing; the sessions give" in printed

    call_command("rebuild_rollups", organization=tenant_a.organization.slug)
    call_command("rebuild_rollups")
    call_command("rebuild_rollups", "--check")
    assert "The summaries match the sessions and the ledger." in capsys.readouterr().out
    # What the triggers kept is exactly what the rebuild computes.
    assert (rows_of(SessionHour), rows_of(RelationshipPeriod)) == kept


def test_the_commands_name_an_unknown_organization() -> None:
    for check in ((), ("--check",)):
        with pytest.raises(CommandError, match=r"No organization with the slug “nope”\."):
            call_command("rebuild_rollups", *check, organization="nope")


def test_a_new_time_zone_moves_every_session_to_its_new_day_and_hour(
    history: History, tenant_a: Tenant
) -> None:
    org = tenant_a.organization
    Organization.objects.filter(pk=org.pk).update(time_zone="Asia/Tokyo")

    assert find_differences() == []
    # June 2, 10:00 in New York is 23:00 the same day in Tokyo; June 11, 14:00 is 03:00 the 12th.
    hours = set(SessionHour.objects.filter(organization=org).values_list("day", "hour"))
    assert (date(2025, 6, 2), 23) in hours
    assert (date(2025, 6, 12), 3) in hours
    assert (date(2025, 6, 2), 10) not in hours
