"""The admin home's parts kept in Redis, each under the version of the center's data and the next
moment its answer can change with no write (reports/home_cache.py): the page is always what a
computation at that moment gives, each part changes the moment its window's edge passes, the
minute's first view computes only the parts whose moment passed, and two tenants never share
a part.

These tests commit (`transaction=True`: the version is counted at commit) and use the real
Redis of REDIS_URL (`redis_cache`)."""

import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports import home_cache
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.support import NY, Tenant, client_for, member, past_grant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_cache")]

# Past every edge below: 90 seconds from now, so one minute later the page is the same and two
# minutes later the edge has passed.
SOON = timedelta(seconds=90)


def page(tenant: Tenant, client: Client | None = None) -> str:
    client = client or client_for(tenant.admin)
    response = client.get(reverse("org_home", args=[tenant.organization.slug]))
    assert response.status_code == 200
    return response.content.decode()


def computed(tenant: Tenant) -> str:
    """The content computed now, every part, without the cache."""
    org = tenant.organization
    org.refresh_from_db()
    with timezone.override(org.tz):
        return home_cache.render(org, member(tenant.admin, org))


def shows_now(tenant: Tenant) -> str:
    """The page, checked to hold exactly the content computed now; returns that content."""
    html = page(tenant)
    content = computed(tenant)
    assert content in html
    return content


def stays_then_changes(tenant: Tenant, clock) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The content now, one minute later (the same: the edge is still ahead), and two minutes
    later (changed: the edge passed with no write)."""
    before = shows_now(tenant)
    clock.shift(timedelta(minutes=1))
    assert shows_now(tenant) == before
    clock.shift(timedelta(minutes=1))
    after = shows_now(tenant)
    assert after != before
    return before, after


def sign(content: str, name: str) -> int:
    found = re.search(rf'/warnings/{name}/"><strong>(\d+)</strong>', content)
    assert found, name
    return int(found.group(1))


def expiring(content: str) -> int:
    found = re.search(r'days: <span class="mp-stat">(\d+)</span>', content)
    assert found
    return int(found.group(1))


def to_log(content: str) -> int:
    found = re.search(r'not logged</div><div class="mp-stat">(\d+)</div>', content)
    assert found
    return int(found.group(1))


def week_sessions(content: str) -> str:
    found = re.search(r'data-testid="sessions-week">.*?mp-stat">([^<]*)<', content, re.S)
    assert found
    return found.group(1)


def test_the_minute_s_first_view_reads_the_moments_and_the_kept_parts(
    tenant_a: Tenant,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    past_grant(tenant_a.student, 600)
    first = shows_now(tenant_a)
    clock.shift(timedelta(minutes=1))
    client = client_for(tenant_a.admin)
    page(tenant_a, client)  # the session, read from the cache
    clock.shift(timedelta(minutes=1))
    with CaptureQueriesContext(connection) as queries:
        assert first in page(tenant_a, client)
    # The user with the membership, the version, the moments: no part is computed.
    assert len(queries) == 3, [q["sql"] for q in queries.captured_queries]


def test_a_session_past_its_start_recomputes_only_its_count(
    tenant_a: Tenant,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    past_grant(tenant_a.student, 600)
    relationship = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    SessionFactory(relationship=relationship, starts_at=timezone.now() + SOON, status="scheduled")
    shows_now(tenant_a)
    clock.shift(timedelta(minutes=1))
    before = shows_now(tenant_a)
    assert to_log(before) == 0
    clock.shift(timedelta(minutes=1))
    client = client_for(tenant_a.admin)
    with CaptureQueriesContext(connection) as queries:
        html = page(tenant_a, client)
    after = computed(tenant_a)
    assert after in html
    assert to_log(after) == 1
    # The user with the membership, the version, the moments, the count of sessions to log,
    # then the moments with the version again before it is kept: no other part is computed.
    assert len(queries) == 1 + 1 + 1 + 1 + 1, [q["sql"] for q in queries.captured_queries]


def test_a_grant_enters_the_expiring_list_14_days_before_its_expiry(
    tenant_a: Tenant,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    past_grant(tenant_a.student, 600, expires_at=timezone.now() + timedelta(days=14) + SOON)
    before, after = stays_then_changes(tenant_a, clock)
    assert (expiring(before), expiring(after)) == (0, 1)


def test_a_grant_leaves_the_expiring_list_at_its_expiry(
    tenant_a: Tenant,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    past_grant(tenant_a.student, 600, expires_at=timezone.now() + SOON)
    before, after = stays_then_changes(tenant_a, clock)
    assert (expiring(before), expiring(after)) == (1, 0)


def test_the_center_s_hours_follow_a_grant_becoming_valid(
    tenant_a: Tenant,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    past_grant(tenant_a.student, 600)
    make_grant(student=tenant_a.student, minutes=900, valid_from=timezone.now() + SOON)
    before, after = stays_then_changes(tenant_a, clock)
    hours = re.compile(r'data-testid="center-hours">.*?</table>', re.S)
    assert hours.search(before).group(0) != hours.search(after).group(0)  # type: ignore[union-attr]


def test_a_short_session_leaves_its_window(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    days = tenant_a.organization.warning_short_session_days
    relationship = RelationshipFactory(organization=tenant_a.organization)
    start = timezone.now() - timedelta(days=days) + SOON
    SessionFactory(relationship=relationship, starts_at=start, duration_minutes=3)
    before, after = stays_then_changes(tenant_a, clock)
    assert (sign(before, "short"), sign(after, "short")) == (1, 0)


def test_a_pairing_becomes_a_long_gap(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    days = tenant_a.organization.warning_gap_days
    relationship = RelationshipFactory(organization=tenant_a.organization)
    SessionFactory(
        relationship=relationship, starts_at=timezone.now() - timedelta(days=days) + SOON
    )
    before, after = stays_then_changes(tenant_a, clock)
    assert (sign(before, "long-gap"), sign(after, "long-gap")) == (0, 1)


def test_a_pairing_becomes_idle(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    days = tenant_a.organization.warning_gap_days
    RelationshipFactory(
        organization=tenant_a.organization, paired_at=timezone.now() - timedelta(days=days) + SOON
    )
    before, after = stays_then_changes(tenant_a, clock)
    assert (sign(before, "idle"), sign(after, "idle")) == (0, 1)


def test_cancellations_leave_their_window(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    org = tenant_a.organization
    days, now = org.warning_cancellation_days, timezone.now()
    relationship = RelationshipFactory(organization=org)
    for start in (now - timedelta(days=days) + SOON, now - timedelta(days=2), now - timedelta(1)):
        SessionFactory(relationship=relationship, starts_at=start, status="cancelled")
    before, after = stays_then_changes(tenant_a, clock)
    counts = (sign(before, "repeated-cancellations"), sign(after, "repeated-cancellations"))
    assert counts == (1, 0)


def test_cancellations_enter_their_window_at_their_start(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    org, now = tenant_a.organization, timezone.now()
    relationship = RelationshipFactory(organization=org)
    for start in (now - timedelta(days=3), now - timedelta(days=2), now + SOON):
        SessionFactory(relationship=relationship, starts_at=start, status="cancelled")
    before, after = stays_then_changes(tenant_a, clock)
    counts = (sign(before, "repeated-cancellations"), sign(after, "repeated-cancellations"))
    assert counts == (0, 1)


def test_the_week_turns_at_midnight_on_monday(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(datetime(2025, 6, 15, 23, 58, 40, tzinfo=NY))  # a Sunday, the center's clock
    relationship = RelationshipFactory(organization=tenant_a.organization)
    SessionFactory(relationship=relationship, starts_at=timezone.now() - timedelta(hours=5))
    before, after = stays_then_changes(tenant_a, clock)
    assert (week_sessions(before), week_sessions(after)) == ("1 session", "0 sessions")


def test_writes_show_on_the_next_view(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    grant = past_grant(tenant_a.student, 600)
    first = shows_now(tenant_a)
    # A write by no service at all, to parts kept apart from the minute (the hours, the
    # low-balance list): within the same minute.
    type(grant).objects.filter(pk=grant.pk).update(valid_from=timezone.now() + timedelta(days=1))
    assert shows_now(tenant_a) != first


def test_two_tenants_never_share_a_part(
    tenant_a: Tenant,
    tenant_b: Tenant,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    a_before = shows_now(tenant_a)
    b_before = shows_now(tenant_b)
    assert a_before != b_before
    past_grant(tenant_b.student, 900)
    clock.shift(timedelta(minutes=1))
    assert shows_now(tenant_a) == a_before
    b_after = shows_now(tenant_b)
    assert b_after != b_before
    assert tenant_a.student.name not in b_after
    assert tenant_b.organization.name not in shows_now(tenant_a)
