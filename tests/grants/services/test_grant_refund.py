"""Refunding the unused hours of a grant (DESIGN §3)."""

import pytest
from django.utils import timezone

from grants import services
from grants.models import Grant, GrantEntry
from grants.services import ADJUST_REVOKED, REFUND_REVOKED, InsufficientHours, LedgerError
from tests.factories import make_grant
from tests.grants.ledger_support import assert_reconciled, balance, snapshot
from tests.grants.services.support import DAY, consume, refused

pytestmark = pytest.mark.django_db


def test_refund_takes_back_unused_unheld_hours_and_keeps_reference(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=200)

    returned = services.grant_refund(
        actor=admin, grant=grant, quantity=100, reason="Family moved ", reference=" Refund R-55"
    )

    assert (returned.total, returned.status) == (500, "active")
    assert balance(grant) == (500, 0, 200)
    entry = GrantEntry.objects.filter(kind="refund").get()
    assert (entry.total_delta, entry.used_delta, entry.held_delta) == (-100, 0, 0)
    assert (entry.reason, entry.actor) == ("Family moved — Refund R-55", admin)
    assert grant.reference == "Test grant"

    before = snapshot()
    with refused(
        InsufficientHours,
        "Only 5 h of this grant are free to book; release reserved hours first to refund more.",
    ) as info:
        services.grant_refund(actor=admin, grant=grant, quantity=301, reason="Too much")
    assert info.value.shortfall == 1
    with refused(LedgerError, "Give a reason for the refund."):
        services.grant_refund(actor=admin, grant=grant, quantity=10, reason="  ")
    assert snapshot() == before
    assert_reconciled()


def test_refund_of_everything_unused_revokes_the_grant(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600)

    services.grant_refund(actor=admin, grant=grant, quantity=600, reason="Cancelled order")

    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held, grant.status) == (0, 0, 0, "revoked")
    with refused(
        InsufficientHours,
        "Only 0 min are free to book for this service; reserving 10 min needs 10 min more.",
    ):
        services.hold(actor=None, relationship=rel, quantity=10)
    assert_reconciled()


def test_refund_of_the_rest_of_a_partly_used_grant_keeps_it_active(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=100)
    consume(rel, 100)

    services.grant_refund(actor=admin, grant=grant, quantity=500, reason="Stopped")

    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held, grant.status) == (100, 100, 0, "active")
    assert_reconciled()


def test_a_revoked_grant_cannot_be_adjusted_or_refunded_again(student, admin, rel) -> None:
    """Revoked means refunded in full: the money went back. An admin who wants to give the
    student hours again adds a new grant, so the refunded one stays a closed record."""
    grant = make_grant(student=student, minutes=120)
    services.grant_refund(actor=admin, grant=grant, quantity=120, reason="Order cancelled")
    before = snapshot()

    for delta in (60, -1):
        with refused(LedgerError, ADJUST_REVOKED):
            services.grant_adjust(actor=admin, grant=grant, delta=delta, reason="Goodwill")
    with refused(LedgerError, REFUND_REVOKED):
        services.grant_refund(actor=admin, grant=grant, quantity=1, reason="Again")

    assert snapshot() == before
    assert Grant.objects.get(pk=grant.pk).status == "revoked"
    # Nothing of it can be held either; a new grant is what brings hours back.
    with refused(
        InsufficientHours,
        "Only 0 min are free to book for this service; reserving 1 min needs 1 min more.",
    ):
        services.hold(actor=None, relationship=rel, quantity=1)
    make_grant(student=student, minutes=60)
    assert services.hold(actor=None, relationship=rel, quantity=60) == 60


def test_an_expired_grant_may_still_be_corrected_and_refunded(student, admin) -> None:
    """Unlike revoked, expired hours were paid for: an admin corrects a typo or refunds them."""
    grant = make_grant(student=student, minutes=120, expires_at=timezone.now() + DAY)
    services.grant_expire(actor=None, grant=grant)

    services.grant_adjust(actor=admin, grant=grant, delta=-20, reason="Typo")
    services.grant_refund(actor=admin, grant=grant, quantity=100, reason="Refund the rest")

    assert (balance(grant), Grant.objects.get(pk=grant.pk).status) == ((0, 0, 0), "revoked")
    assert_reconciled()
