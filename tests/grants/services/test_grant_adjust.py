"""Adjusting a grant up or down (DESIGN §3)."""

import pytest

from grants import services
from grants.models import GrantEntry
from grants.services import LedgerError
from tests.factories import make_grant
from tests.grants.ledger_support import assert_reconciled, balance, entries, snapshot
from tests.grants.services.support import consume, refused

pytestmark = pytest.mark.django_db


def test_adjust_up_and_down_with_a_reason(student, admin) -> None:
    grant = make_grant(student=student, minutes=600)

    returned = services.grant_adjust(actor=admin, grant=grant, delta=90, reason="Bonus")
    assert (returned.total, returned.used, returned.held) == (690, 0, 0)
    services.grant_adjust(actor=admin, grant=grant, delta=-200, reason=" Typo in order ")

    assert balance(grant) == (490, 0, 0)
    assert entries(grant) == [("credit", 600, 0, 0), ("adjust", 90, 0, 0), ("adjust", -200, 0, 0)]
    assert list(GrantEntry.objects.filter(kind="adjust").values_list("reason", "actor")) == [
        ("Bonus", admin.pk),
        ("Typo in order", admin.pk),
    ]
    assert_reconciled()


@pytest.mark.parametrize(
    ("delta", "reason", "message"),
    [
        (30, "", "Give a reason for the adjustment."),
        (30, "   ", "Give a reason for the adjustment."),
        (0, "Nothing", "The adjustment must be a whole number other than zero."),
        (2.5, "Half", "The adjustment must be a whole number other than zero."),
    ],
)
def test_adjust_refusals(student, admin, delta, reason, message) -> None:
    grant = make_grant(student=student, minutes=600)
    with refused(LedgerError, message):
        services.grant_adjust(actor=admin, grant=grant, delta=delta, reason=reason)
    assert entries(grant) == [("credit", 600, 0, 0)]


def test_adjust_below_used_plus_held_is_refused(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=300)
    consume(rel, 100)
    assert balance(grant) == (600, 100, 200)
    before = snapshot()

    with refused(
        LedgerError,
        "This grant has 1 h 40 min used and 3 h 20 min reserved, so its total "
        "cannot go below 5 h. Release reserved hours first.",
    ):
        services.grant_adjust(actor=admin, grant=grant, delta=-301, reason="Too much")
    assert snapshot() == before

    services.grant_adjust(actor=admin, grant=grant, delta=-300, reason="Exactly the floor")
    assert balance(grant) == (300, 100, 200)
    assert grant.available == 0
    assert_reconciled()
