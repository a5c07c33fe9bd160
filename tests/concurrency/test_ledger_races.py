"""Concurrent writers against real PostgreSQL transactions (DESIGN §3, invariants 1, 4 and 5).

Every thread opens its own connection, waits at a barrier so all start together, and closes its
connection when done. After each race the reconciliation must find nothing.
"""

import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from grants import services
from grants.models import Grant, GrantEntry
from grants.services import AlreadyApplied, Consumption, InsufficientHours, LedgerError
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.grants.ledger_support import assert_reconciled, balance, service_type

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def run_together(*calls: Callable[[], Any], timeout: float = 60) -> list[tuple[str, Any]]:
    """Run each call in its own thread, all released at once. Returns, in order, ("ok", result)
    or ("error", exception) per call."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, Any]] = [("missing", None)] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except Exception as exc:
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a writer is still waiting: a lock never freed"
    return outcomes


def oks(outcomes: list[tuple[str, Any]]) -> list[Any]:
    return [value for status, value in outcomes if status == "ok"]


def errors(outcomes: list[tuple[str, Any]]) -> list[Exception]:
    return [value for status, value in outcomes if status == "error"]


@pytest.fixture
def rel(tenant_a):  # type: ignore[no-untyped-def]
    return RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )


def test_eight_writers_consume_from_a_hold_of_sixty(rel) -> None:
    grant = make_grant(student=rel.student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=60)
    start = timezone.now()
    sessions = [
        SessionFactory(
            relationship=rel, starts_at=start + timedelta(minutes=i), duration_minutes=15
        )
        for i in range(8)
    ]

    outcomes = run_together(
        *[
            partial(
                services.consume,
                actor=None,
                relationship=rel,
                session=s,
                quantity=15,
                at=s.starts_at,
            )
            for s in sessions
        ]
    )

    assert oks(outcomes) == [[Consumption(grant.pk, 15, True)]] * 4
    assert len(errors(outcomes)) == 4
    for error in errors(outcomes):
        assert type(error) is InsufficientHours
        assert str(error) == "Only 0 min remain on this relationship; the session needs 15 min."
        assert error.shortfall == 15
    assert balance(grant) == (600, 60, 0)
    assert GrantEntry.objects.filter(kind="consume").count() == 4
    assert_reconciled()


def test_a_hold_racing_an_adjustment_down(rel, tenant_a) -> None:
    grant = make_grant(student=rel.student, minutes=600)
    hold_refused = (
        "Only 5 h are available for this service; holding 6 h 40 min needs 1 h 40 min more."
    )
    adjust_refused = (
        "This grant has 0 min used and 6 h 40 min held, so its total cannot go "
        "below 6 h 40 min. Release holds first."
    )
    winners = set()  # which one got the lock first, over the rounds

    for _ in range(8):
        hold_outcome, adjust_outcome = run_together(
            partial(services.hold, actor=None, relationship=rel, quantity=400),
            partial(
                services.grant_adjust,
                actor=tenant_a.admin,
                grant=grant,
                delta=-300,
                reason="Correction",
            ),
        )
        total, used, held = balance(grant)
        assert used >= 0
        assert held >= 0
        assert used + held <= total
        if hold_outcome[0] == "ok":
            winners.add("hold")
            assert adjust_outcome[0] == "error"
            assert type(adjust_outcome[1]) is LedgerError
            assert str(adjust_outcome[1]) == adjust_refused
            assert (total, used, held) == (600, 0, 400)
            services.release(actor=None, relationship=rel)
        else:
            winners.add("adjust")
            assert adjust_outcome[0] == "ok"
            assert type(hold_outcome[1]) is InsufficientHours
            assert str(hold_outcome[1]) == hold_refused
            assert (total, used, held) == (300, 0, 0)
            services.grant_adjust(actor=tenant_a.admin, grant=grant, delta=300, reason="Back")
        assert balance(grant) == (600, 0, 0)

    assert winners <= {"hold", "adjust"}
    assert_reconciled()


def test_transfers_in_opposite_directions_neither_deadlock_nor_lose_a_minute(rel, tenant_a) -> None:
    a = make_grant(student=rel.student, minutes=1000, service_types=("Tutoring",))
    b = make_grant(student=rel.student, minutes=1000, service_types=("Advising",))
    # Without the retry wrapper: a deadlock would surface here instead of being retried.
    transfer = services.grant_transfer.__wrapped__  # type: ignore[attr-defined]
    iterations = 25

    def mover(source: Grant, target: Grant) -> int:
        for _ in range(iterations):
            transfer(
                actor=tenant_a.admin,
                from_grant=source,
                to_grant=target,
                quantity=7,
                reason="Back and forth",
            )
        return iterations

    outcomes = run_together(
        partial(mover, a, b),
        partial(mover, b, a),
        partial(mover, a, b),
        partial(mover, b, a),
        timeout=120,
    )

    assert outcomes == [("ok", iterations)] * 4
    assert balance(a)[0] + balance(b)[0] == 2000
    assert (balance(a), balance(b)) == ((1000, 0, 0), (1000, 0, 0))
    assert GrantEntry.objects.filter(kind="transfer_out").count() == 4 * iterations
    assert GrantEntry.objects.filter(kind="transfer_in").count() == 4 * iterations
    assert_reconciled()


def test_the_same_idempotency_key_twice_at_once_applies_once(rel, tenant_a) -> None:
    grant = make_grant(student=rel.student, minutes=600)
    advising = make_grant(student=rel.student, minutes=60, service_types=("Advising",))
    tutoring = [service_type(tenant_a.organization)]

    for round_ in range(4):
        key = f"double-submit-{round_}"
        outcomes = run_together(
            *[
                partial(
                    services.hold,
                    actor=None,
                    relationship=rel,
                    quantity=30,
                    idempotency_key=f"{key}-hold",
                )
            ]
            * 2
        )
        assert sorted(s for s, _ in outcomes) == ["error", "ok"]
        assert type(errors(outcomes)[0]) is AlreadyApplied

        outcomes = run_together(
            *[
                partial(
                    services.grant_create,
                    actor=None,
                    student=rel.student,
                    quantity=45,
                    unit="minutes",
                    service_types=tutoring,
                    idempotency_key=f"{key}-create",
                )
            ]
            * 2
        )
        assert sorted(s for s, _ in outcomes) == ["error", "ok"]
        assert type(errors(outcomes)[0]) is AlreadyApplied

        outcomes = run_together(
            *[
                partial(
                    services.grant_transfer,
                    actor=tenant_a.admin,
                    from_grant=grant,
                    to_grant=advising,
                    quantity=10,
                    reason="Once",
                    idempotency_key=f"{key}-transfer",
                )
            ]
            * 2
        )
        assert sorted(s for s, _ in outcomes) == ["error", "ok"]
        assert type(errors(outcomes)[0]) is AlreadyApplied

    assert balance(grant) == (600 - 4 * 10, 0, 4 * 30)
    assert balance(advising) == (60 + 4 * 10, 0, 0)
    assert Grant.objects.filter(total=45).count() == 4
    assert GrantEntry.objects.filter(idempotency_key__startswith="double-submit").count() == (
        4 * (1 + 1 + 2)
    )
    assert_reconciled()


def test_two_restores_of_the_same_session_at_once_restore_once(rel) -> None:
    grant = make_grant(student=rel.student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=600)
    start = timezone.now()

    for i in range(4):
        session = SessionFactory(relationship=rel, starts_at=start + timedelta(hours=i))
        services.consume(
            actor=None, relationship=rel, session=session, quantity=90, at=session.starts_at
        )

        outcomes = run_together(
            *[partial(services.restore, actor=None, relationship=rel, session=session)] * 2
        )

        assert sorted(oks(outcomes)) == [0, 90]
        assert balance(grant) == (600, 0, 600)
        assert services.consumed_for_session(session=session) == {}

    for i in range(4):
        session = SessionFactory(relationship=rel, starts_at=start + timedelta(days=1, hours=i))
        services.consume(
            actor=None, relationship=rel, session=session, quantity=90, at=session.starts_at
        )

        outcomes = run_together(
            *[partial(services.restore, actor=None, relationship=rel, session=session, quantity=60)]
            * 2
        )

        assert oks(outcomes) == [60]
        assert [(type(e), str(e)) for e in errors(outcomes)] == [
            (LedgerError, "This session consumed 30 min; 1 h cannot be restored.")
        ]
        assert balance(grant) == (600, 30 * (i + 1), 600 - 30 * (i + 1))

    assert GrantEntry.objects.filter(kind="restore").count() == 8
    assert_reconciled()
