"""The student home's running total of what was used starts from what the student's sessions
were charged in all (`students.ChargedTotal`) less the twenty it shows, and gives what the sum
over every older session gave: per unit, with ties of start broken by id, a late cancellation
charged and scheduled sessions charging nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reports import selectors as report_selectors
from sessions_app.models import SessionStatus
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant, client_for, member

pytestmark = pytest.mark.django_db


def test_more_sessions_than_the_home_shows_run_as_the_sum_over_the_older_ones(
    tenant_a: Tenant,
) -> None:
    org, student = tenant_a.organization, tenant_a.student
    minutes = RelationshipFactory(organization=org, student=student)
    counted = RelationshipFactory(organization=org, student=student, unit="sessions")
    start = timezone.now() - timedelta(days=200)
    for n in range(30):
        SessionFactory(
            relationship=minutes if n % 3 else counted,
            starts_at=start + timedelta(days=n),
            charged_minutes=1 if n % 3 == 0 else 15 + n,
        )
    # Two sessions of one start (different pairings, so different providers): the id decides.
    SessionFactory(relationship=minutes, starts_at=start + timedelta(days=9), charged_minutes=7)
    SessionFactory(
        relationship=minutes,
        starts_at=start + timedelta(days=12),
        status=SessionStatus.CANCELLED,
        charged_minutes=60,
    )
    SessionFactory(
        relationship=counted,
        starts_at=timezone.now() + timedelta(days=3),
        status=SessionStatus.SCHEDULED,
    )
    membership = member(tenant_a.student_user, org)
    # The sum over the older sessions: the statement compiled for the home's own cut, and
    # the ORM's path one row longer.
    summed = report_selectors.student_sessions(organization=org, membership=membership)
    longer = report_selectors.student_sessions(
        organization=org, membership=membership, limit=report_selectors.STUDENT_SESSIONS + 1
    )
    expected = [(s.pk, s.charged_minutes, s.running) for s in summed]
    assert expected == [(s.pk, s.charged_minutes, s.running) for s in longer][:20]
    assert len(expected) == 20

    response = client_for(tenant_a.student_user).get(f"/o/{org.slug}/")

    assert response.status_code == 200
    shown = response.context["sessions"]
    assert [(s.pk, s.charged_minutes, s.running) for s in shown] == expected
    # Both units run: the oldest shown of each counts what came before it.
    assert {s.relationship.unit for s in shown} == {"minutes", "sessions"}
