"""The center's week (docs/scheduling.md, "Speed"): how many providers are open, and free for a
booking, in each hour. On PostgreSQL a week without a daylight-saving change is counted in local
minutes in one statement; it must give exactly the counts of the moment-by-moment path."""

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection

from providers.models import AvailabilityException, AvailabilityWindow
from sessions_app import slots
from sessions_app.models import Session
from tests.factories import ProviderFactory, RelationshipFactory
from tests.support import NY, Tenant, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock"), pytest.mark.sqlite]

MONDAY = date(2025, 6, 9)  # the clock's week (tests/conftest.py: Wednesday June 11 2025)


def _counts(week: list[slots.CenterDay]) -> dict[str, tuple[int, int]]:
    return {
        f"{day.day:%a} {hour.start.astimezone(NY):%H}": (hour.open, hour.free)
        for day in week
        for hour in day.hours
        if hour.open or hour.free
    }


def _both_ways(tenant: Tenant, monday: date) -> tuple[list[slots.CenterDay], list[slots.CenterDay]]:
    org = tenant.organization
    org.refresh_from_db()
    fast = slots.center_week(organization=org, first_day=monday)
    exact = slots._center_week_moments(
        organization=org, first_day=monday, first_hour=7, last_hour=22
    )
    return fast, exact


def _window(provider, weekday: int, start: str, end: str) -> None:  # type: ignore[no-untyped-def]
    AvailabilityWindow.objects.create(
        organization=provider.organization,
        provider=provider,
        weekday=weekday,
        start=time.fromisoformat(start),
        end=time.fromisoformat(end),
    )


def _booked(tenant: Tenant, provider, starts_at: datetime, minutes: int) -> None:  # type: ignore[no-untyped-def]
    relationship = RelationshipFactory(organization=tenant.organization, provider=provider)
    Session.objects.create(
        organization=tenant.organization,
        relationship=relationship,
        calendar_provider_id=provider.pk,
        starts_at=starts_at,
        duration_minutes=minutes,
        status="scheduled",
    )


def _plant(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    tz = org.tz
    a, b, c = (ProviderFactory(organization=org) for _ in range(3))
    gone = ProviderFactory(organization=org, status="inactive")
    # a: Monday 09:10–12:00 and 12:00–13:00 (adjacent windows: no slot across them), busy
    # 10:30–11:15; Tuesday off from 14:00 to 15:00 inside 13:00–17:00.
    _window(a, 0, "09:10", "12:00")
    _window(a, 0, "12:00", "13:00")
    _booked(tenant_a, a, datetime.combine(MONDAY, time(10, 30), tzinfo=tz), 45)
    _window(a, 1, "13:00", "17:00")
    AvailabilityException.objects.create(
        organization=org,
        provider=a,
        kind="off",
        date=MONDAY + timedelta(days=1),
        start=time(14),
        end=time(15),
    )
    # b: Monday 08:00–11:00, a session from Sunday 23:00 to Monday 09:30; Wednesday off all
    # day; Saturday extra hours 10:00–11:45.
    _window(b, 0, "08:00", "11:00")
    _booked(tenant_a, b, datetime.combine(MONDAY - timedelta(days=1), time(23), tzinfo=tz), 630)
    _window(b, 2, "09:00", "12:00")
    AvailabilityException.objects.create(
        organization=org, provider=b, kind="off", date=MONDAY + timedelta(days=2)
    )
    AvailabilityException.objects.create(
        organization=org,
        provider=b,
        kind="extra",
        date=MONDAY + timedelta(days=5),
        start=time(10),
        end=time(11, 45),
    )
    # c: Monday 09:00–10:00 (one slot); an inactive provider's hours do not count.
    _window(c, 0, "09:00", "10:00")
    _window(gone, 0, "09:00", "12:00")


def test_the_minutes_give_the_moments_counts(tenant_a: Tenant) -> None:
    _plant(tenant_a)

    fast, exact = _both_ways(tenant_a, MONDAY)

    assert _counts(fast) == _counts(exact)
    assert _counts(fast) == {
        # b is busy until 09:30. Free at 09:xx: a at 09:30 (up to its 10:30 session), b at
        # 09:30, c at 09:00.
        "Mon 08": (1, 0),
        "Mon 09": (3, 3),
        # b at 10:00; a's 10:00 and 10:30 meet its session, and 11:30 would cross into the
        # next window: a slot never spans two windows.
        "Mon 10": (2, 1),
        "Mon 11": (1, 0),
        "Mon 12": (1, 1),
        "Tue 13": (1, 1),
        "Tue 15": (1, 1),
        "Tue 16": (1, 1),
        "Sat 10": (1, 1),
        "Sat 11": (1, 0),
    }


@pytest.mark.parametrize(("length", "step"), [(45, 45), (90, 20), (30, 7)])
def test_other_lengths_and_steps_give_the_same_counts(
    tenant_a: Tenant, length: int, step: int
) -> None:
    set_policy(tenant_a.organization, booking_slot_minutes=length, booking_slot_step_minutes=step)
    _plant(tenant_a)

    fast, exact = _both_ways(tenant_a, MONDAY)

    assert _counts(fast) == _counts(exact)


def test_the_center_week_is_one_statement_on_postgresql(
    tenant_a: Tenant, django_assert_num_queries
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the minutes are PostgreSQL's; SQLite counts the moments")
    org = tenant_a.organization
    _window(ProviderFactory(organization=org), 0, "09:00", "10:00")
    # Cold, the versions of the center's data and hours, the cache's fingerprint, then the one
    # statement (with the fingerprint of its rows); warm, the versions alone
    # (tests/scheduling/test_center_week_cache.py, test_center_week_versions.py).
    with django_assert_num_queries(3):
        slots.center_week(organization=org, first_day=MONDAY)


def test_a_week_with_a_daylight_saving_change_takes_the_moments(tenant_a: Tenant) -> None:
    """November 2 2025: New York's clocks go back at 02:00. A window 00:00–06:00 that Sunday
    lasts seven real hours; the hours shown (07:00–22:00) count as on any other day."""
    org = tenant_a.organization
    provider = ProviderFactory(organization=org)
    _window(provider, 6, "00:00", "06:00")
    _window(provider, 6, "09:00", "10:00")
    monday = date(2025, 10, 27)

    fast, exact = _both_ways(tenant_a, monday)

    assert _counts(fast) == _counts(exact) == {"Sun 09": (1, 1)}
