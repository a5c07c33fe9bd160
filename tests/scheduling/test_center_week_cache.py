"""The center's week from the cache (docs/scheduling.md, "Speed"): its counts are kept under a
fingerprint of the rows they come from, so whatever changes those rows shows at once, and two
organizations never share an entry."""

from datetime import date, datetime, time, timedelta

import pytest
from django.core.cache import cache
from django.db import connection

from providers.models import AvailabilityException, AvailabilityWindow
from sessions_app import slots
from sessions_app.models import Session
from tests.factories import ProviderFactory, RelationshipFactory
from tests.support import Tenant, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

MONDAY = date(2025, 6, 9)  # the clock's week (tests/conftest.py: Wednesday June 11 2025)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL's minutes are kept in the cache")


def _week(tenant: Tenant) -> dict[str, tuple[int, int]]:
    org = tenant.organization
    org.refresh_from_db()
    week = slots.center_week(organization=org, first_day=MONDAY)
    exact = slots._center_week_moments(
        organization=org, first_day=MONDAY, first_hour=7, last_hour=22
    )
    counts = {
        f"{day.day:%a} {hour.start.astimezone(org.tz):%H}": (hour.open, hour.free)
        for day in week
        for hour in day.hours
        if hour.open or hour.free
    }
    assert counts == {
        f"{day.day:%a} {hour.start.astimezone(org.tz):%H}": (hour.open, hour.free)
        for day in exact
        for hour in day.hours
        if hour.open or hour.free
    }
    return counts


def _open_monday(tenant: Tenant):  # type: ignore[no-untyped-def]
    provider = ProviderFactory(organization=tenant.organization)
    window = AvailabilityWindow.objects.create(
        organization=tenant.organization,
        provider=provider,
        weekday=0,
        start=time(9),
        end=time(11),
    )
    return provider, window


def _booked(tenant: Tenant, provider, hour: int) -> Session:  # type: ignore[no-untyped-def]
    org = tenant.organization
    return Session.objects.create(
        organization=org,
        relationship=RelationshipFactory(organization=org, provider=provider),
        calendar_provider_id=provider.pk,
        starts_at=datetime.combine(MONDAY, time(hour), tzinfo=org.tz),
        duration_minutes=60,
        status="scheduled",
    )


def test_a_warm_week_is_read_from_the_cache(tenant_a: Tenant, django_assert_num_queries) -> None:
    org = tenant_a.organization
    _open_monday(tenant_a)
    # In a test's transaction, which has written rows, the versions (read first) do not decide:
    # the fingerprint does (tests/scheduling/test_center_week_versions.py for committed rows).
    with django_assert_num_queries(3):  # the versions, the fingerprint, the rows with theirs
        slots.center_week(organization=org, first_day=MONDAY)
    with django_assert_num_queries(2):  # the versions, the fingerprint
        week = slots.center_week(organization=org, first_day=MONDAY)
    assert (week[0].hours[2].open, week[0].hours[2].free) == (1, 1)  # Monday 09:00


def test_a_booking_a_cancellation_and_a_reschedule_show_at_once(tenant_a: Tenant) -> None:
    provider, _ = _open_monday(tenant_a)
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}

    session = _booked(tenant_a, provider, 9)
    assert _week(tenant_a) == {"Mon 09": (1, 0), "Mon 10": (1, 1)}

    session.starts_at += timedelta(hours=1)
    session.save(update_fields=["starts_at"])
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 0)}

    # 10:00–10:15: an hour from 10:15 would end past the window's 11:00; 09:00 and 09:15 fit.
    session.duration_minutes = 15
    session.save(update_fields=["duration_minutes"])
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 0)}
    session.starts_at -= timedelta(hours=1)
    session.save(update_fields=["starts_at"])
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}

    session.status = "cancelled"
    session.save(update_fields=["status"])
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}

    # Back to rows seen before: the counts of then, not of another state.
    session.status = "scheduled"
    session.starts_at += timedelta(hours=1)
    session.duration_minutes = 60
    session.save(update_fields=["status", "starts_at", "duration_minutes"])
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 0)}

    session.delete()
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}


def test_hours_edited_or_removed_show_at_once(tenant_a: Tenant) -> None:
    _provider, window = _open_monday(tenant_a)
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}

    window.end = time(10)
    window.save(update_fields=["end"])
    assert _week(tenant_a) == {"Mon 09": (1, 1)}

    window.delete()
    assert _week(tenant_a) == {}


def test_time_off_and_extra_hours_added_and_removed_show_at_once(tenant_a: Tenant) -> None:
    provider, _ = _open_monday(tenant_a)
    org = tenant_a.organization
    off = AvailabilityException.objects.create(
        organization=org, provider=provider, kind="off", date=MONDAY, start=time(9), end=time(10)
    )
    assert _week(tenant_a) == {"Mon 10": (1, 1)}

    extra = AvailabilityException.objects.create(
        organization=org,
        provider=provider,
        kind="extra",
        date=MONDAY + timedelta(days=2),
        start=time(14),
        end=time(15),
    )
    assert _week(tenant_a) == {"Mon 10": (1, 1), "Wed 14": (1, 1)}

    off.delete()
    extra.delete()
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}


def test_a_provider_made_inactive_and_a_new_policy_show_at_once(tenant_a: Tenant) -> None:
    provider, _ = _open_monday(tenant_a)
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}

    set_policy(tenant_a.organization, booking_slot_minutes=120, booking_slot_step_minutes=60)
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 0)}

    provider.status = "inactive"
    provider.save(update_fields=["status"])
    assert _week(tenant_a) == {}


def test_two_organizations_never_share_an_entry(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _open_monday(tenant_a)
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}
    # b has no hours at all: a fingerprint alike an empty center's would be, yet its own entry.
    assert _week(tenant_b) == {}
    _open_monday(tenant_b)
    _open_monday(tenant_b)
    assert _week(tenant_b) == {"Mon 09": (2, 2), "Mon 10": (2, 2)}
    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}

    keys = list(cache._cache)  # type: ignore[attr-defined]  # the tests' cache is locmem
    for tenant in (tenant_a, tenant_b):
        assert any(f":center-week:1:{tenant.organization.pk}:" in key for key in keys)


@pytest.mark.usefixtures("redis_unreachable")
def test_an_unreachable_cache_still_shows_the_week(tenant_a: Tenant) -> None:
    _open_monday(tenant_a)

    assert _week(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}
