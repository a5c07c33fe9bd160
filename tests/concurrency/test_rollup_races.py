"""Sessions written at the same moment into the same roll-up rows (docs/reports.md, "Roll-ups"):
every trigger adds its figures with `ON CONFLICT … DO UPDATE SET x = x + EXCLUDED.x`, so no
writer's figures are lost, whichever commits first, and the rows equal the sessions after."""

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from reports.models import RelationshipPeriod, SessionHour
from reports.rollups import find_differences
from sessions_app.models import Session, SessionStatus
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant
from tests.threads import run_together

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

NINE = datetime(2025, 6, 2, 9, tzinfo=UTC)


def test_eight_writers_log_into_the_same_hour_and_month(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    pairs = [RelationshipFactory(organization=org) for _ in range(4)]
    # Two sessions of each pairing in the same hour: the hour's row and each pairing's day and
    # month rows are written by two or eight writers at once.
    calls = [
        partial(
            SessionFactory,
            relationship=pairs[n % 4],
            starts_at=NINE + timedelta(minutes=7 * n),
            duration_minutes=10 + n,
        )
        for n in range(8)
    ]

    outcomes = run_together(*calls)

    assert [status for status, _ in outcomes] == ["ok"] * 8
    hour = SessionHour.objects.get(organization=org)
    assert (hour.sessions, hour.completed, hour.delivered_minutes) == (8, 8, sum(range(10, 18)))
    months = RelationshipPeriod.objects.filter(organization=org, grain="m")
    assert sorted(months.values_list("sessions", flat=True)) == [2, 2, 2, 2]
    assert find_differences() == []


def test_writers_changing_sessions_of_one_row_at_once(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    pair = RelationshipFactory(organization=org)
    sessions = [
        # Ten minutes apart, five long: one provider's sessions never overlap.
        SessionFactory(
            relationship=pair,
            starts_at=NINE + timedelta(minutes=10 * n),
            duration_minutes=5,
            status="scheduled",
        )
        for n in range(6)
    ]

    def change(session: Session, n: int) -> None:
        if n % 3 == 0:
            Session.objects.filter(pk=session.pk).update(status=SessionStatus.COMPLETED)
        elif n % 3 == 1:
            Session.objects.filter(pk=session.pk).update(status=SessionStatus.CANCELLED)
        else:  # moved to the next day: out of this day's row, into another
            moved = session.starts_at + timedelta(days=1)
            Session.objects.filter(pk=session.pk).update(starts_at=moved)

    outcomes = run_together(*[partial(change, s, n) for n, s in enumerate(sessions)])

    assert [status for status, _ in outcomes] == ["ok"] * 6, outcomes
    nine = SessionHour.objects.get(organization=org, day=NINE.date())
    assert (nine.sessions, nine.scheduled, nine.completed, nine.cancelled) == (4, 0, 2, 2)
    moved = SessionHour.objects.get(organization=org, day=NINE.date() + timedelta(days=1))
    assert (moved.sessions, moved.scheduled) == (2, 2)
    assert find_differences() == []
