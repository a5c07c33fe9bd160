"""Extending a grant's expiry (DESIGN §3)."""

import pytest
from django.utils import timezone

from grants import services
from grants.models import Grant, GrantEntry
from grants.services import LedgerError
from tests.factories import make_grant
from tests.grants.ledger_support import assert_reconciled, balance, entries, snapshot
from tests.grants.services.support import DAY, refused

pytestmark = pytest.mark.django_db


def test_extend_moves_the_expiry_later(student, admin) -> None:
    grant = make_grant(student=student, minutes=600, expires_at=timezone.now() + 10 * DAY)
    new_expiry = timezone.now() + 40 * DAY

    services.grant_extend(actor=admin, grant=grant, expires_at=new_expiry, reason="Illness")

    grant.refresh_from_db()
    assert (grant.expires_at, grant.status) == (new_expiry, "active")
    assert entries(grant)[-1] == ("extend", 0, 0, 0)
    assert GrantEntry.objects.get(kind="extend").reason == "Illness"

    services.grant_extend(actor=admin, grant=grant, expires_at=None, reason="Never expires now")
    grant.refresh_from_db()
    assert grant.expires_at is None
    assert_reconciled()


def test_extend_refusals(student, admin) -> None:
    current = timezone.now() + 10 * DAY
    grant = make_grant(student=student, minutes=600, expires_at=current)
    before = snapshot()
    with refused(LedgerError, "Give a reason for the extension."):
        services.grant_extend(actor=admin, grant=grant, expires_at=current + DAY, reason=" ")
    with refused(LedgerError, "The new expiry must be in the future."):
        services.grant_extend(
            actor=admin, grant=grant, expires_at=timezone.now() - DAY, reason="Oops"
        )
    shown = f"{timezone.localtime(current):%Y-%m-%d %H:%M}"
    for earlier in (current, current - DAY):
        with refused(LedgerError, f"The new expiry must be after the current one ({shown})."):
            services.grant_extend(actor=admin, grant=grant, expires_at=earlier, reason="Shorter")
    assert snapshot() == before


def test_extend_cannot_give_a_never_expiring_grant_an_expiry(student, admin) -> None:
    grant = make_grant(student=student, minutes=600)
    before = snapshot()
    with refused(LedgerError, "This grant never expires; an extension cannot give it an expiry."):
        services.grant_extend(
            actor=admin, grant=grant, expires_at=timezone.now() + 5 * DAY, reason="Shorter, in fact"
        )
    assert snapshot() == before


def test_extend_makes_an_expired_grant_active_again(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600, expires_at=timezone.now() + 10 * DAY)
    services.grant_expire(actor=admin, grant=grant)
    assert Grant.objects.get(pk=grant.pk).status == "expired"

    services.grant_extend(
        actor=admin, grant=grant, expires_at=timezone.now() + 20 * DAY, reason="Goodwill"
    )

    assert Grant.objects.get(pk=grant.pk).status == "active"
    services.hold(actor=None, relationship=rel, quantity=60)
    assert balance(grant) == (600, 0, 60)
    assert_reconciled()


def test_a_revoked_grant_cannot_be_extended(student, admin) -> None:
    grant = make_grant(student=student, minutes=60, expires_at=timezone.now() + DAY)
    services.grant_refund(actor=admin, grant=grant, quantity=60, reason="Refunded")
    with refused(LedgerError, "A revoked grant cannot be extended."):
        services.grant_extend(
            actor=admin, grant=grant, expires_at=timezone.now() + 9 * DAY, reason="No"
        )
