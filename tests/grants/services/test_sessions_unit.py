"""Grants counted in sessions rather than minutes (DESIGN §3)."""

import pytest

from grants import services
from grants.services import Consumption, InsufficientHours
from tests.factories import RelationshipFactory, make_grant
from tests.grants.ledger_support import assert_reconciled, balance
from tests.grants.services.support import consume, refused

pytestmark = pytest.mark.django_db


def test_sessions_unit_consumes_one_per_session(org, student, rel) -> None:
    rel_s = RelationshipFactory(organization=org, student=student, unit="sessions")
    pack = make_grant(student=student, minutes=5, unit="sessions")
    minutes = make_grant(student=student, minutes=600)

    services.hold(actor=None, relationship=rel_s, quantity=2)
    s1, r1 = consume(rel_s, 1)
    _, r2 = consume(rel_s, 1)
    assert r1 == r2 == [Consumption(pack.pk, 1, True)]
    with refused(
        InsufficientHours,
        "Only 0 sessions are reserved for this relationship; the session needs 1 session.",
    ):
        consume(rel_s, 1)
    _, r3 = consume(rel_s, 1, draw_shortfall=True)
    assert r3 == [Consumption(pack.pk, 1, False)]
    assert balance(pack) == (5, 3, 0)
    with refused(
        InsufficientHours,
        "Only 2 sessions are free to book for this service; "
        "reserving 3 sessions needs 1 session more.",
    ) as info:
        services.hold(actor=None, relationship=rel_s, quantity=3)
    assert info.value.shortfall == 1

    assert services.restore(actor=None, relationship=rel_s, session=s1) == 1
    assert balance(pack) == (5, 2, 1)
    assert balance(minutes) == (600, 0, 0)
    # A minutes relationship never touches the sessions grant.
    services.hold(actor=None, relationship=rel, quantity=600)
    assert balance(pack) == (5, 2, 1)
    assert balance(minutes) == (600, 0, 600)
    assert_reconciled()
