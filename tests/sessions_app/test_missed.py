"""Missed sessions (docs/scheduling.md, "Missed sessions"): the periodic job turns a scheduled
session nobody logged within the grace window into "missed"; then only an admin acts on it."""

from datetime import timedelta

import pytest
import time_machine

from matchpal.celery import app
from sessions_app import missed, services
from sessions_app.models import SessionChange
from sessions_app.selectors import CHANGE_MISSED, session_actions
from sessions_app.tasks import mark_missed_sessions
from tests.support import NOW, Tenant, at, balance, fresh, log, member, refused, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_the_job_marks_a_session_missed_once_the_window_has_passed(
    tenant_a: Tenant, rel, grant
) -> None:
    with time_machine.travel(NOW, tick=False):
        session = log(tenant_a, rel, starts_at=at(11, 14), scheduled=True)
        set_policy(tenant_a.organization, logging_grace_hours=48)
    deadline = at(11, 14) + timedelta(hours=48)

    with time_machine.travel(deadline, tick=False):
        assert missed.mark_missed() == 0  # still inside the window at its very end
    assert fresh(session).status == "scheduled"

    with time_machine.travel(deadline + timedelta(seconds=1), tick=False):
        assert mark_missed_sessions.delay().get() == 1
        assert missed.mark_missed() == 0  # a second run finds nothing

    assert fresh(session).status == "missed"
    change = SessionChange.objects.get(session=session)
    assert (change.kind, change.actor, change.reason, change.changes) == (
        "missed",
        None,
        "Not logged within 48 hours of its start",
        [{"field": "status", "label": "Status", "from": "Scheduled", "to": "Missed"}],
    )


def test_only_an_admin_logs_a_missed_session(tenant_a: Tenant, rel, grant) -> None:
    with time_machine.travel(NOW, tick=False):
        session = log(tenant_a, rel, starts_at=at(11, 9), scheduled=True)
    with time_machine.travel(NOW + timedelta(days=4), tick=False):
        missed.mark_missed()
        refused(
            lambda: services.session_complete(
                membership=member(tenant_a.provider_user), session=session, notes="Late"
            ),
            services.MISSED_ADMINS_ONLY,
        )
        services.session_complete(
            membership=member(tenant_a.admin), session=session, duration=45, notes="Late"
        )

    session = fresh(session)
    assert (session.status, session.charged_minutes) == ("completed", 45)
    assert balance(grant) == (900, 45, 555)


def test_only_an_admin_cancels_or_marks_a_missed_session(tenant_a: Tenant, rel, grant) -> None:
    with time_machine.travel(NOW, tick=False):
        cancelled = log(tenant_a, rel, starts_at=at(11, 9), scheduled=True)
        no_show = log(tenant_a, rel, starts_at=at(11, 10), scheduled=True)
    with time_machine.travel(NOW + timedelta(days=4), tick=False):
        assert missed.mark_missed() == 2
        # A longer window set afterwards does not give the sessions back to the provider.
        set_policy(tenant_a.organization, logging_grace_hours=240, late_cancellation_charge="full")
        rel.refresh_from_db()
        provider = member(tenant_a.provider_user)
        refused(
            lambda: services.session_cancel(membership=provider, session=cancelled, reason="Ill"),
            CHANGE_MISSED,
        )
        refused(
            lambda: services.session_no_show(membership=provider, session=no_show, party="student"),
            CHANGE_MISSED,
        )
        assert not session_actions(session=fresh(cancelled), membership=provider).cancel
        assert session_actions(session=fresh(cancelled), membership=member(tenant_a.admin)).cancel

        services.session_cancel(membership=member(tenant_a.admin), session=cancelled, reason="Ill")
        services.session_no_show(
            membership=member(tenant_a.admin), session=no_show, party="provider"
        )

    assert (fresh(cancelled).status, fresh(cancelled).charged_minutes) == ("cancelled", 0)
    assert (fresh(no_show).status, fresh(no_show).no_show_party) == ("no_show", "provider")
    assert balance(grant) == (900, 0, 600)  # nothing charged: neither took place


def test_the_beat_schedule_runs_the_job_every_15_minutes() -> None:
    (entry,) = [
        e for e in app.conf.beat_schedule.values() if e["task"] == mark_missed_sessions.name
    ]
    assert entry["schedule"].minute == {0, 15, 30, 45}
