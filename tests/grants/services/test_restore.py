"""Restoring consumed hours when a session is cancelled or shortened (DESIGN §3)."""

import pytest
from django.utils import timezone

from grants import services
from grants.models import Allocation, GrantEntry
from grants.services import Consumption, LedgerError
from tests.factories import make_grant
from tests.grants.ledger_support import allocation, assert_reconciled, balance, entries, snapshot
from tests.grants.services.support import DAY, consume, refused

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("to_hold", [True, False])
def test_restore_all_on_cancellation(rel, three_grants, to_hold) -> None:
    sooner, later, never = three_grants
    services.hold(actor=None, relationship=rel, quantity=160)
    session, _ = consume(rel, 90)
    other_session, _ = consume(rel, 20)  # from `later`, not restored
    assert [balance(g) for g in (sooner, later)] == [(60, 60, 0), (100, 50, 50)]

    restored = services.restore(
        actor=None, relationship=rel, session=session, to_hold=to_hold, reason="Cancelled"
    )

    assert restored == 90
    if to_hold:
        assert [balance(g) for g in (sooner, later)] == [(60, 0, 60), (100, 20, 80)]
        assert [allocation(rel, g) for g in (sooner, later)] == [(60, 0), (80, 20)]
    else:
        assert [balance(g) for g in (sooner, later)] == [(60, 0, 0), (100, 20, 50)]
        assert [allocation(rel, g) for g in (sooner, later)] == [(0, 0), (50, 20)]
    back = 1 if to_hold else 0
    assert list(
        GrantEntry.objects.filter(kind="restore")
        .order_by("pk")
        .values_list("grant_id", "used_delta", "held_delta", "session", "reason")
    ) == [
        (later.pk, -30, 30 * back, session.pk, "Cancelled"),
        (sooner.pk, -60, 60 * back, session.pk, "Cancelled"),
    ]
    assert balance(never) == (500, 0, 0)
    assert services.consumed_for_session(session=session) == {}
    assert services.consumed_for_session(session=other_session) == {later.pk: 20}

    before = snapshot()
    assert services.restore(actor=None, relationship=rel, session=session) == 0
    with refused(LedgerError, "This session consumed 0 min; 1 min cannot be restored."):
        services.restore(actor=None, relationship=rel, session=session, quantity=1)
    assert snapshot() == before
    assert_reconciled()


def test_restore_part_gives_back_the_last_consumed_grant_first(rel, three_grants) -> None:
    sooner, later, never = three_grants
    services.hold(actor=None, relationship=rel, quantity=160)
    session, _ = consume(rel, 90)  # 60 from `sooner`, then 30 from `later`

    assert services.restore(actor=None, relationship=rel, session=session, quantity=40) == 40

    assert [balance(g) for g in (sooner, later)] == [(60, 50, 10), (100, 0, 100)]
    assert services.consumed_for_session(session=session) == {sooner.pk: 50}
    before = snapshot()
    with refused(LedgerError, "This session consumed 50 min; 1 h cannot be restored."):
        services.restore(actor=None, relationship=rel, session=session, quantity=60)
    assert snapshot() == before

    assert services.restore(actor=None, relationship=rel, session=session, quantity=50) == 50
    assert [balance(g) for g in (sooner, later, never)] == [(60, 0, 60), (100, 0, 100), (500, 0, 0)]
    assert_reconciled()


def test_restore_part_after_a_draw_gives_back_the_drawn_hours_first(student, rel) -> None:
    now = timezone.now()
    later = make_grant(student=student, minutes=600, expires_at=now + 30 * DAY)
    services.hold(actor=None, relationship=rel, quantity=60)
    sooner = make_grant(student=student, minutes=100, expires_at=now + 10 * DAY)
    session, result = consume(rel, 90, draw_shortfall=True)
    assert result == [Consumption(later.pk, 60, True), Consumption(sooner.pk, 30, False)]

    services.restore(actor=None, relationship=rel, session=session, quantity=30, to_hold=False)

    # The 30 minutes consumed last (drawn from `sooner`) come back, not 30 of `later`'s.
    assert balance(sooner) == (100, 0, 0)
    assert balance(later) == (600, 60, 0)
    assert services.consumed_for_session(session=session) == {later.pk: 60}
    assert_reconciled()


def held_by(rel) -> int:
    return sum(a.held for a in Allocation.objects.filter(relationship=rel))


def test_restore_to_the_hold_gives_drawn_minutes_back_to_available(student, rel) -> None:
    now = timezone.now()
    later = make_grant(student=student, minutes=600, expires_at=now + 30 * DAY)
    services.hold(actor=None, relationship=rel, quantity=60)
    sooner = make_grant(student=student, minutes=100, expires_at=now + 10 * DAY)
    session, result = consume(rel, 90, draw_shortfall=True)
    assert result == [Consumption(later.pk, 60, True), Consumption(sooner.pk, 30, False)]
    assert held_by(rel) == 0

    assert services.restore(actor=None, relationship=rel, session=session, to_hold=True) == 90

    # The relationship held 60 and gets 60 back, not 90: the 30 drawn go back to available.
    assert held_by(rel) == 60
    assert balance(later) == (600, 0, 60)
    assert balance(sooner) == (100, 0, 0)
    assert (allocation(rel, later), allocation(rel, sooner)) == ((60, 0), (0, 0))
    assert entries(kind="restore") == [("restore", 0, -30, 0), ("restore", 0, -60, 60)]
    assert_reconciled()


def test_restore_to_the_hold_of_one_grant_both_held_and_drawn_from(student, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=60)
    session, result = consume(rel, 90, draw_shortfall=True)
    assert result == [Consumption(grant.pk, 60, True), Consumption(grant.pk, 30, False)]
    assert balance(grant) == (600, 90, 0)

    # Shortened by 20 min: those are drawn minutes (consumed last), back to available.
    services.restore(actor=None, relationship=rel, session=session, quantity=20, to_hold=True)
    assert (balance(grant), allocation(rel, grant)) == ((600, 70, 0), (0, 70))
    # 30 more: the last 10 drawn, then 20 that came out of the hold and go back to it.
    services.restore(actor=None, relationship=rel, session=session, quantity=30, to_hold=True)
    assert (balance(grant), allocation(rel, grant)) == ((600, 40, 20), (20, 40))
    # The rest, cancelled: all out of the hold.
    services.restore(actor=None, relationship=rel, session=session, to_hold=True)
    assert (balance(grant), allocation(rel, grant)) == ((600, 0, 60), (60, 0))
    assert held_by(rel) == 60  # exactly what it held before the session
    assert entries(kind="restore") == [
        ("restore", 0, -20, 0),
        ("restore", 0, -30, 20),
        ("restore", 0, -40, 40),
    ]
    assert_reconciled()


def test_restore_to_the_hold_after_a_partial_restore_to_the_balance(student, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=30)
    session, _ = consume(rel, 50, draw_shortfall=True)  # 30 from the hold, 20 drawn
    # A first restore, not to the hold, takes the 20 drawn off the top…
    services.restore(actor=None, relationship=rel, session=session, quantity=20, to_hold=False)
    assert balance(grant) == (600, 30, 0)
    # …so what is left came out of the hold, and goes back to it.
    services.restore(actor=None, relationship=rel, session=session, to_hold=True)
    assert (balance(grant), allocation(rel, grant)) == ((600, 0, 30), (30, 0))
    assert_reconciled()


def test_restore_to_an_expired_grant_goes_to_its_balance_not_a_hold(student, rel) -> None:
    grant = make_grant(student=student, minutes=600, expires_at=timezone.now() + 10 * DAY)
    services.hold(actor=None, relationship=rel, quantity=60)
    session, _ = consume(rel, 60)
    services.grant_expire(actor=None, grant=grant)

    assert services.restore(actor=None, relationship=rel, session=session, to_hold=True) == 60

    assert balance(grant) == (600, 0, 0)
    assert allocation(rel, grant) == (0, 0)
    assert entries(grant, kind="restore") == [("restore", 0, -60, 0)]
    assert_reconciled()
