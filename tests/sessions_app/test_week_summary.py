"""The admin's week at a large center (docs/scheduling.md): above `SUMMARY_ABOVE` sessions the
whole center's week is counted by day instead of listed; a provider chosen in the picker shows
their week in full. The threshold is lowered here so that a handful of sessions is "many"."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from sessions_app import week_summary
from sessions_app.models import Session, SessionStatus
from sessions_app.services import session_cancel
from tests.support import (
    NY,
    Tenant,
    at,
    client_for,
    log,
    member,
    other_provider,
    paired,
    past_grant,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

MONDAY = at(9, 0)


@pytest.fixture
def many(monkeypatch: pytest.MonkeyPatch) -> None:
    """More than 3 sessions in a week is too many to list."""
    monkeypatch.setattr(week_summary, "SUMMARY_ABOVE", 3)


def _week(client, tenant: Tenant, query: str = ""):  # type: ignore[no-untyped-def]
    return client.get(reverse("sessions_app:week", args=[tenant.organization.slug]) + query)


def _busy_week(tenant: Tenant, rel) -> tuple:  # type: ignore[no-untyped-def]
    """Sessions of two providers over the week of June 9 (New York), of every kind the summary
    tells apart, and some it must leave out (cancelled, the weeks before and after)."""
    set_policy(tenant.organization, time_zone="America/New_York")
    other_user, other = other_provider(tenant)
    past_grant(tenant.student, 600)
    theirs = paired(tenant, provider=other, quantity=300)
    log(tenant, rel, starts_at=at(9, 8))  # Monday morning, completed
    log(tenant, rel, starts_at=at(9, 13))  # Monday afternoon
    log(tenant, rel, starts_at=at(10, 18))  # Tuesday evening
    log(tenant, rel, starts_at=at(12, 9), scheduled=True)  # Thursday
    log(tenant, rel, starts_at=at(12, 14), scheduled=True)
    log(tenant, rel, starts_at=at(15, 23, 30), scheduled=True)  # Sunday, late
    gone = log(tenant, rel, starts_at=at(13, 10), scheduled=True)
    session_cancel(
        membership=member(tenant.admin, tenant.organization), session=gone, reason="Moved."
    )
    log(tenant, theirs, starts_at=at(12, 10), scheduled=True, by="admin")
    log(tenant, theirs, starts_at=at(12, 19), scheduled=True, by="admin")
    log(tenant, theirs, starts_at=at(14, 11), scheduled=True, by="admin")
    log(tenant, theirs, starts_at=at(10, 11), by="admin")  # Tuesday, completed
    log(tenant, theirs, starts_at=at(8, 23, 30), by="admin")  # the Sunday before
    log(tenant, theirs, starts_at=at(16, 0, 30), scheduled=True, by="admin")  # the Monday after
    return other_user, other


def _expected(tenant: Tenant) -> dict:  # type: ignore[type-arg]
    """Per local day of the week: the sessions by status, by part of the day, by provider."""
    days: dict = {}  # type: ignore[type-arg]
    sessions = Session.objects.filter(organization=tenant.organization).exclude(
        status=SessionStatus.CANCELLED
    )
    for s in sessions.select_related("calendar_provider"):
        local = s.starts_at.astimezone(NY)
        if not MONDAY <= local < MONDAY + timedelta(days=7):
            continue
        day = days.setdefault(local.date(), (Counter(), [0, 0, 0], Counter()))
        day[0][s.status] += 1
        day[1][0 if local.hour < 12 else 1 if local.hour < 17 else 2] += 1
        day[2][s.calendar_provider.name] += 1
    return days


def test_above_the_threshold_the_week_is_counted_by_day(tenant_a: Tenant, rel, many: None) -> None:
    _busy_week(tenant_a, rel)

    response = _week(client_for(tenant_a.admin), tenant_a, "?week=2025-06-11")

    assert response.context["week"] is None
    summary = response.context["summary"]
    assert summary.total == 10
    expected = _expected(tenant_a)
    shown = {
        d.day: (
            Counter(dict(d.statuses)),
            list(d.bands),
            Counter({t.name: t.sessions for t in d.top}),
        )
        for d in summary.days
        if d.total
    }
    assert shown == expected
    by_day = {f"{d.day:%a}": d for d in summary.days}
    assert [d.total for d in summary.days] == [2, 2, 0, 4, 0, 1, 1]
    assert by_day["Thu"].statuses == (("scheduled", 4),)
    assert by_day["Thu"].bands == (2, 1, 1)
    assert by_day["Mon"].statuses == (("completed", 2),)
    html = response.content.decode()
    assert 'data-testid="week-summary"' in html
    assert "This week has 10 sessions" in html
    # A day's count opens the sessions list on that day; a provider, their week.
    slug = tenant_a.organization.slug
    assert f"/o/{slug}/sessions/?date_from=2025-06-12&amp;date_to=2025-06-12" in html
    assert f"?week=2025-06-09&amp;provider={tenant_a.provider.public_id}" in html


def test_the_counts_in_python_are_those_of_the_statement(tenant_a: Tenant, rel, many: None) -> None:
    """`make run`'s SQLite counts in Python: the same rows as PostgreSQL's one statement."""
    _busy_week(tenant_a, rel)
    org = tenant_a.organization
    start, end = MONDAY, MONDAY + timedelta(days=7)

    assert connection.vendor == "postgresql"
    in_sql = week_summary._rows_sql(org, start, end)
    in_python = week_summary.rows_python(org, start, end)

    assert len(in_sql) == 16  # 9 counts (day, status, part of the day), 7 providers
    assert sorted(in_sql, key=str) == sorted(in_python, key=str)


def test_the_five_providers_with_most_sessions_a_day(tenant_a: Tenant, rel, many: None) -> None:
    set_policy(tenant_a.organization, time_zone="America/New_York")
    past_grant(tenant_a.student, 1500)
    names = []
    for k in range(6):
        _, provider = other_provider(tenant_a, email=f"p{k}@alpha.example")
        names.append(provider.name)
        theirs = paired(tenant_a, provider=provider, quantity=60 * (k + 1))
        for hour in range(k + 1):  # provider k has k + 1 sessions on Thursday
            log(tenant_a, theirs, starts_at=at(12, 8 + hour), scheduled=True, by="admin")

    summary = _week(client_for(tenant_a.admin), tenant_a).context["summary"]

    thursday = summary.days[3]
    assert [(t.name, t.sessions) for t in thursday.top] == [
        (names[5], 6),
        (names[4], 5),
        (names[3], 4),
        (names[2], 3),
        (names[1], 2),
    ]


def test_a_provider_chosen_shows_their_week_in_full(tenant_a: Tenant, rel, many: None) -> None:
    _, other = _busy_week(tenant_a, rel)
    admin = client_for(tenant_a.admin)

    by_link = _week(admin, tenant_a, f"?week=2025-06-11&provider={other.public_id}")
    by_name = _week(admin, tenant_a, f"?week=2025-06-11&provider=&provider_search={other.name}")

    for response in (by_link, by_name):
        assert response.context["summary"] is None
        assert response.context["provider"] == other
        shown = {
            f"{d.day:%a}": [f"{s.starts_at.astimezone(NY):%H:%M}" for s in d.sessions]
            for d in response.context["week"].days
            if d.sessions
        }
        assert shown == {"Tue": ["11:00"], "Thu": ["10:00", "19:00"], "Sat": ["11:00"]}


def test_the_picker_offers_only_the_centers_providers(
    tenant_a: Tenant, tenant_b: Tenant, rel, many: None
) -> None:
    _busy_week(tenant_a, rel)
    foreign = tenant_b.provider
    admin = client_for(tenant_a.admin)

    by_id = _week(admin, tenant_a, f"?week=2025-06-11&provider={foreign.public_id}")
    by_name = _week(admin, tenant_a, f"?provider=&provider_search={foreign.email}")

    for response in (by_id, by_name):
        assert response.status_code == 200
        assert response.context["provider"] is None
        assert response.context["form"].errors["provider"]
        assert response.context["summary"].total == 10
    assert f"No provider matches “{foreign.email}”." in by_name.content.decode()
    assert foreign.name not in by_id.content.decode()


@pytest.mark.parametrize("provider", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_invalid_provider_is_an_error_not_a_failure(
    tenant_a: Tenant, rel, many: None, provider: str
) -> None:
    _busy_week(tenant_a, rel)

    response = _week(client_for(tenant_a.admin), tenant_a, f"?provider={provider}")

    assert response.status_code == 200
    assert response.context["form"].errors["provider"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert 'role="alert"' in response.content.decode()


# Committed writes, as the center's data version counts them (none inside a test's transaction).
@pytest.mark.django_db(transaction=True)
def test_the_counts_follow_every_write(tenant_a: Tenant, rel, many: None) -> None:
    """Kept under the center's data version: a session logged shows on the next view."""
    _busy_week(tenant_a, rel)
    admin = client_for(tenant_a.admin)
    assert _week(admin, tenant_a).context["summary"].total == 10

    log(tenant_a, rel, starts_at=at(14, 16), scheduled=True)

    assert _week(admin, tenant_a).context["summary"].total == 11


# Committed writes, as the center's data version counts them (none inside a test's transaction).
@pytest.mark.django_db(transaction=True)
def test_the_summary_is_one_statement_then_none(
    tenant_a: Tenant, rel, many: None, django_assert_num_queries
) -> None:
    """The request's own 1 and the version (1), then the counts on a miss (1); never the rows."""
    _busy_week(tenant_a, rel)
    admin = client_for(tenant_a.admin)
    admin.get("/healthz")

    with django_assert_num_queries(3):
        _week(admin, tenant_a)
    with django_assert_num_queries(2):
        response = _week(admin, tenant_a)
    assert response.context["summary"].total == 10


def test_providers_and_students_see_their_own_sessions_whatever_the_count(
    tenant_a: Tenant, rel, many: None
) -> None:
    other_user, _ = _busy_week(tenant_a, rel)

    mine = _week(client_for(other_user), tenant_a, f"?provider={tenant_a.provider.public_id}")

    assert mine.context["summary"] is None
    assert mine.context["form"] is None
    assert sum(len(d.sessions) for d in mine.context["week"].days) == 4
    theirs = _week(client_for(tenant_a.student_user), tenant_a)
    assert sum(len(d.sessions) for d in theirs.context["week"].days) == 10


def test_a_small_week_lists_every_session(tenant_a: Tenant, rel) -> None:
    _busy_week(tenant_a, rel)

    response = _week(client_for(tenant_a.admin), tenant_a)

    assert response.context["summary"] is None
    assert sum(len(d.sessions) for d in response.context["week"].days) == 10
    assert timezone.localtime(response.context["week"].days[0].sessions[0].starts_at, NY).hour == 8


def test_the_providers_page_links_to_their_week(tenant_a: Tenant) -> None:
    provider = tenant_a.provider
    org = tenant_a.organization

    page = client_for(tenant_a.admin).get(
        reverse("providers:detail", args=[org.slug, provider.public_id])
    )

    week = reverse("sessions_app:week", args=[org.slug])
    assert f'href="{week}?provider={provider.public_id}"' in page.content.decode()
