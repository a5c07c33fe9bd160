"""Proposals left unanswered are declined after the center's response window."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grants.reconcile import find_differences
from relationships import services
from tests.relationships.lifecycle.support import history
from tests.support import (
    NOW,
    Tenant,
    balance,
    entries,
    holds,
    mails,
    other_provider,
    pair,
    past_grant,
    propose,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_stale_proposals_are_declined_once(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 900)
    _, second = other_provider(tenant_a, "second@alpha.example")
    _, third = other_provider(tenant_a, "third@alpha.example")
    stale = propose(tenant_a, quantity=120)  # due Jun 18 12:00
    answered = pair(tenant_a, propose(tenant_a, quantity=60, provider=second))
    clock.move_to(NOW + timedelta(days=2))
    fresh = propose(tenant_a, quantity=30, provider=third)  # due Jun 20 12:00
    assert balance(grant) == (900, 0, 210)

    clock.move_to(NOW + timedelta(days=7, seconds=-1))
    assert services.decline_stale_proposals() == 0

    clock.move_to(NOW + timedelta(days=7))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.decline_stale_proposals() == 1
    for rel in (stale, answered, fresh):
        rel.refresh_from_db()
    assert (stale.status, answered.status, fresh.status) == ("declined", "paired", "proposed")
    assert history(stale)[-1] == ("proposed", "declined", None, services.UNANSWERED)
    assert balance(grant) == (900, 0, 90)
    assert holds(stale) == [(grant.pk, 0, 0)]
    # Nobody declined: the student is not told the provider did, and the provider is told.
    provider, student = tenant_a.provider, tenant_a.student
    assert mails(mailoutbox) == [
        (
            f"[Matchpal] No answer from {provider.name}",
            f"{provider.name} did not answer within 7 days; "
            "the reserved hours are free to book again.",
            sorted([student.email, student.guardian_email]),
        ),
        (
            f"[Matchpal] Proposal declined: {student.name}",
            f"The proposal to work with {student.name} (tutoring) was not answered within 7 "
            f"days, so it was declined automatically. Ask {tenant_a.organization.name} if you "
            "would still like to take it on.",
            [provider.email],
        ),
        (
            f"[Matchpal] Unanswered proposal declined: {student.name} with {provider.name}",
            f"{provider.name} did not answer the proposal for {student.name} within 7 days; it "
            "was declined and the hours released.",
            [tenant_a.admin.email],
        ),
    ]

    # Safe to run twice: nothing more to do, nothing written.
    before = entries()
    assert services.decline_stale_proposals() == 0
    assert entries() == before
    assert len(history(stale)) == 2
    assert org.relationships.filter(status="declined").count() == 1
    assert find_differences() == []


def test_stale_proposals_follow_each_centers_window(tenant_a: Tenant, clock) -> None:
    set_policy(tenant_a.organization, proposal_response_days=2)
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    clock.move_to(NOW + timedelta(days=2, hours=1))
    assert services.decline_stale_proposals(now=timezone.now()) == 1
    rel.refresh_from_db()
    assert rel.status == "declined"
    assert balance(grant) == (600, 0, 0)
    assert find_differences() == []
