"""The missed-session job run twice at once, and against a provider logging one of its sessions
(docs/scheduling.md, "Missed sessions"), on real PostgreSQL transactions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from relationships.models import Relationship
from sessions_app import missed, services
from sessions_app.models import Session, SessionChange
from tests.support import Tenant, assert_reconciled, member, paired, past_grant
from tests.threads import run_together

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def _overdue(tenant: Tenant, n: int) -> list[Session]:
    past_grant(tenant.student, 900)
    relationship = paired(tenant, quantity=600)
    Relationship.objects.filter(pk=relationship.pk).update(
        paired_at=timezone.now() - timedelta(days=30)
    )
    relationship.refresh_from_db()
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=80)
    return [
        services.session_log(
            membership=member(tenant.admin),
            relationship=relationship,
            starts_at=start - timedelta(hours=i),
            duration=60,
            scheduled=True,
        )
        for i in range(n)
    ]


def test_two_runs_at_once_mark_each_session_once(tenant_a: Tenant) -> None:
    sessions = _overdue(tenant_a, 12)

    outcomes = run_together(missed.mark_missed, missed.mark_missed)

    assert [status for status, _ in outcomes] == ["ok", "ok"]
    assert sum(count for _, count in outcomes) == 12
    assert set(Session.objects.values_list("status", flat=True)) == {"missed"}
    assert SessionChange.objects.filter(kind="missed").count() == len(sessions)


def test_an_admin_logging_while_the_job_runs_always_logs_it(tenant_a: Tenant) -> None:
    """The job skips the row the log holds (SKIP LOCKED), or marks it first and the admin, who
    may log a missed session, logs it after: either way it ends logged, charged once, and
    marked missed at most once."""
    (session,) = _overdue(tenant_a, 1)
    admin = member(tenant_a.admin)

    (job, logged) = run_together(
        missed.mark_missed,
        lambda: services.session_complete(
            membership=admin, session=session, duration=60, notes="Done"
        ),
    )

    session.refresh_from_db()
    assert (job[0], logged[0]) == ("ok", "ok")
    assert (session.status, session.charged_minutes) == ("completed", 60)
    assert SessionChange.objects.filter(session=session, kind="missed").count() == job[1]
    assert_reconciled()
