"""Pinned query counts of the scheduling pages (DESIGN §7; the rules of tests/query_pins.py):
the week view for each role, the check-in list, the check-in questions, the calendar link page
and the feed itself, and the action pages of a session (check in, decline a request, cancel the
following, the student's cancel) and of a provider's hours, each the same at 3 and at 30 rows.
The booking's two steps and the center's week are in tests/test_query_counts.py."""

from datetime import UTC, datetime, time

import pytest
from icalendar import Calendar

from matchpal.models import Role
from providers.models import AvailabilityWindow
from sessions_app import calendar
from sessions_app.models import FeedbackQuestion
from sessions_app.services import session_log
from tests.isolation import (
    _booked,
    booked_session,
    feedback_question,
    requested_session,
    scheduled_session,
    series_session,
)
from tests.query_pins import Page, assert_pinned_at_every_size, org_path
from tests.support import Tenant, client_for, member, whole_hours_ago
from tests.test_query_counts import _sessions_relationship


def grow_scheduled(tenant: Tenant, n: int) -> None:
    """n one-hour sessions of the personas' relationship, scheduled one an hour over the past
    hours (all in this week, all started and still to check in)."""
    relationship = _sessions_relationship(tenant)
    for i in range(relationship.sessions.count(), n):
        session_log(
            membership=member(tenant.admin, tenant.organization),
            relationship=relationship,
            starts_at=whole_hours_ago(i + 1),
            duration=60,
            scheduled=True,
        )


def grow_questions(tenant: Tenant, n: int) -> None:
    org = tenant.organization
    for i in range(FeedbackQuestion.objects.filter(organization=org).count(), n):
        FeedbackQuestion.objects.create(
            organization=org, text=f"Question {i}", kind="yes_no", position=i
        )


def grow_nothing(tenant: Tenant, n: int) -> None:
    calendar.feed_regenerate(membership=member(tenant.student_user, tenant.organization))


def shows_week(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert sum(len(day.sessions) for day in response.context["week"].days) == n


def shows_rows(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert len(response.context["rows"]) == n


def shows_questions(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert len(response.context["questions"]) == n


def shows_feed_url(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["feed_url"].endswith(".ics")


def grow_requests(tenant: Tenant, n: int) -> None:
    """n booking requests of the personas' relationship, one a day from tomorrow."""
    for day in range(1, n + 1):
        _booked(tenant, day, "pending")


def grow_series(tenant: Tenant, n: int) -> None:
    """The series of `series_session` grown to n weekly occurrences."""
    first = series_session(tenant)
    for week in range(2, n):
        _booked(tenant, 3 + 7 * week, "scheduled", series=first.series)


def grow_bookings(tenant: Tenant, n: int) -> None:
    """n sessions the student persona booked, one a day from tomorrow."""
    for day in range(1, n + 1):
        _booked(tenant, day, "scheduled")


def grow_windows(tenant: Tenant, n: int) -> None:
    """n half-hour weekly windows of the provider persona."""
    org = tenant.organization
    for k in range(tenant.provider.availability_windows.count(), n):
        AvailabilityWindow.objects.create(
            organization=org,
            provider=tenant.provider,
            weekday=k % 7,
            start=time(k // 7),
            end=time(k // 7, 30),
        )


def shows_form(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["form"] is not None


def _session_page(make, suffix: str):  # type: ignore[no-untyped-def]
    return org_path(lambda t: f"sessions/{make(t).public_id}/{suffix}/")


PAGES = {
    "sessions_app:week[admin]": Page(Role.ADMIN, org_path("calendar/"), grow_scheduled, shows_week),
    "sessions_app:week[provider]": Page(
        Role.PROVIDER, org_path("calendar/"), grow_scheduled, shows_week
    ),
    "sessions_app:week[student]": Page(
        Role.STUDENT, org_path("calendar/"), grow_scheduled, shows_week
    ),
    "sessions_app:week[one provider]": Page(
        Role.ADMIN,
        org_path(lambda t: f"calendar/?provider={t.provider.public_id}"),
        grow_scheduled,
        shows_week,
    ),
    "sessions_app:check_ins": Page(
        Role.PROVIDER, org_path("check-in/"), grow_scheduled, shows_rows
    ),
    "sessions_app:feedback_questions": Page(
        Role.ADMIN, org_path("settings/questions/"), grow_questions, shows_questions
    ),
    "sessions_app:calendar_feed": Page(
        Role.STUDENT, org_path("calendar/feed/"), grow_nothing, shows_feed_url
    ),
    # The action pages of one session: each reads that session, whatever else there is.
    "sessions_app:check_in": Page(
        Role.PROVIDER, _session_page(scheduled_session, "check-in"), grow_questions, shows_form
    ),
    "sessions_app:decline": Page(
        Role.PROVIDER, _session_page(requested_session, "decline"), grow_requests, shows_form
    ),
    "sessions_app:cancel_following": Page(
        Role.PROVIDER, _session_page(series_session, "cancel-following"), grow_series, shows_form
    ),
    "sessions_app:cancel_booking": Page(
        Role.STUDENT, _session_page(booked_session, "cancel-booking"), grow_bookings, shows_form
    ),
    "sessions_app:feedback_question_create": Page(
        Role.ADMIN, org_path("settings/questions/new/"), grow_questions, shows_form
    ),
    "sessions_app:feedback_question_edit": Page(
        Role.ADMIN,
        org_path(lambda t: f"settings/questions/{feedback_question(t).public_id}/"),
        grow_questions,
        shows_form,
    ),
    "providers:availability_window_add": Page(
        Role.PROVIDER,
        org_path(lambda t: f"providers/{t.provider.public_id}/availability/hours/new/"),
        grow_windows,
        shows_form,
    ),
    "providers:availability_exception_add": Page(
        Role.PROVIDER,
        org_path(lambda t: f"providers/{t.provider.public_id}/availability/exceptions/new/"),
        grow_windows,
        shows_form,
    ),
}

# The request's own 1 (the user with its membership, one statement) and the page's one query
# of its rows; one provider's week first reads the chosen provider (1). The admin's whole
# center first reads the center's data version and, on a miss (as here: the rows grow between
# sizes), counts the week (`sessions_app.week_summary`, 2): warm, 3; a week summarised instead
# of listed does not read its rows (tests/sessions_app/test_week_summary.py). The link page
# reads the member's feed (1).
PINNED = {
    "sessions_app:week[admin]": 4,
    "sessions_app:week[provider]": 2,
    "sessions_app:week[student]": 2,
    "sessions_app:week[one provider]": 3,
    "sessions_app:check_ins": 2,
    "sessions_app:feedback_questions": 2,
    "sessions_app:calendar_feed": 2,
    # An action page of one session reads the session with its relationship's people (1);
    # check-in adds the center's live questions (1).
    "sessions_app:check_in": 3,
    "sessions_app:decline": 2,
    "sessions_app:cancel_following": 2,
    "sessions_app:cancel_booking": 2,
    # A new question reads nothing more; an edited one, the question (1).
    "sessions_app:feedback_question_create": 1,
    "sessions_app:feedback_question_edit": 2,
    # The provider with their service types (`provider_get`, 2).
    "providers:availability_window_add": 3,
    "providers:availability_exception_add": 3,
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_runs_the_pinned_queries_at_3_and_at_30_rows(
    name: str, tenant_a: Tenant, django_assert_num_queries, time_machine
) -> None:
    time_machine.move_to(datetime(2026, 11, 18, 17, 0, tzinfo=UTC))
    assert_pinned_at_every_size(
        name, PAGES[name], PINNED[name], tenant_a, django_assert_num_queries
    )


@pytest.mark.django_db
def test_the_feed_runs_two_queries_at_3_and_at_30_sessions(
    tenant_a: Tenant, django_assert_num_queries, time_machine
) -> None:
    """The token's feed with its membership, user and organization (1), the sessions (1)."""
    time_machine.move_to(datetime(2026, 11, 18, 17, 0, tzinfo=UTC))
    feed = calendar.feed_regenerate(
        membership=member(tenant_a.provider_user, tenant_a.organization)
    )
    for size in (3, 30):
        grow_scheduled(tenant_a, size)
        with django_assert_num_queries(2):
            response = client_for(None).get(f"/calendar/{feed.token}.ics")
        assert len(Calendar.from_ical(response.content).walk("VEVENT")) == size
