"""Concurrent writers against real PostgreSQL transactions (DESIGN §3, invariants 1, 4 and 5).

Every thread opens its own connection, waits at a barrier so all start together, and closes its
connection when done. After each race the reconciliation must find nothing.
"""

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from grants import selectors, services
from grants.models import Grant, GrantEntry
from grants.services import (
    AlreadyApplied,
    Consumption,
    InsufficientHours,
    LedgerError,
    holds,
    operations,
)
from grants.services.posting import MAX_ATTEMPTS
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.support import assert_reconciled, balance, service_type, snapshot
from tests.threads import run_together

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


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
        assert (
            str(error) == "Only 0 min are reserved for this relationship; the session needs 15 min."
        )
        assert error.shortfall == 15
    assert balance(grant) == (600, 60, 0)
    assert GrantEntry.objects.filter(kind="consume").count() == 4
    assert_reconciled()


def test_a_hold_racing_an_adjustment_down(rel, tenant_a) -> None:
    grant = make_grant(student=rel.student, minutes=600)
    hold_refused = (
        "Only 5 h are free to book for this service; reserving 6 h 40 min needs 1 h 40 min more."
    )
    adjust_refused = (
        "This grant has 0 min used and 6 h 40 min reserved, so its total cannot go "
        "below 6 h 40 min. Release reserved hours first."
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
        assert selectors.consumed_for_session(session=session) == {}

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


# --- The bounded retry, against real conflicts ---------------------------------------------------
#
# A second connection (plain psycopg, outside Django) takes row locks in the opposite order of the
# service's, so PostgreSQL itself detects a deadlock (SQLSTATE 40P01) or times a lock out. The
# only instrument is a spy on `lock_grants` that records how each attempt ended: the database
# is never mocked. Setting deadlock_timeout takes a superuser, as the Makefile's test database
# user is.


def other_connection(**settings: str) -> psycopg.Connection:
    db = connection.settings_dict
    other = psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"],
        port=db["PORT"] or None,
        autocommit=True,
    )
    for name, value in settings.items():
        other.execute(f"SET {name} = '{value}'")
    return other


@pytest.fixture
def attempts(monkeypatch) -> list[str | None]:  # type: ignore[no-untyped-def]
    """Per call of `lock_grants` (once per attempt of a service): None when it got its locks,
    else the SQLSTATE PostgreSQL aborted it with."""
    outcomes: list[str | None] = []
    real = holds.lock_grants  # the posting engine's, looked up by each module that locks

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcomes.append(None)
        try:
            return real(*args, **kwargs)
        except OperationalError as exc:
            outcomes[-1] = getattr(exc.__cause__, "sqlstate", "?")
            raise

    for module in (holds, operations):
        monkeypatch.setattr(module, "lock_grants", spy)
    return outcomes


@contextmanager
def in_a_thread(call: Callable[[], Any], **settings: str) -> Iterator[tuple[int, queue.Queue]]:
    """Run `call` on its own Django connection (with these session settings); yields the
    backend's pid and a queue receiving ("ok", result) or ("error", exception)."""
    pids: queue.Queue = queue.Queue()
    done: queue.Queue = queue.Queue()

    def worker() -> None:
        try:
            with connection.cursor() as cursor:
                for name, value in settings.items():
                    cursor.execute(f"SET {name} = '{value}'")
                cursor.execute("SELECT pg_backend_pid()")
                pids.put(cursor.fetchone()[0])
            done.put(("ok", call()))
        except Exception as exc:
            done.put(("error", exc))
        finally:
            connection.close()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        yield pids.get(timeout=10), done
    finally:
        thread.join(30)
        assert not thread.is_alive(), "the service never finished"


def wait_until_blocked(pid: int) -> None:
    """Until that backend waits for a row lock."""
    with other_connection() as monitor:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = monitor.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.005)
    raise AssertionError(f"backend {pid} never waited for a lock")


def deadlock(pid: int, other: psycopg.Connection, first: Grant, second: Grant) -> None:
    """`other` holds `second`; once the service (backend `pid`) holds `first` and waits for
    `second`, `other` asks for `first`: a cycle. The service waited first, and its deadlock
    timeout (1 s) is far shorter than the other's (30 s), so PostgreSQL aborts the service's
    transaction, not the other's. Returns when the other holds both, then lets them go."""
    wait_until_blocked(pid)
    other.execute("SELECT 1 FROM grants_grant WHERE id = %s FOR UPDATE", [first.pk])
    other.rollback()


def test_a_real_deadlock_is_retried_and_the_transfer_applies_once(rel, tenant_a, attempts) -> None:
    a = make_grant(student=rel.student, minutes=1000, service_types=("Tutoring",))
    b = make_grant(student=rel.student, minutes=1000, service_types=("Advising",))
    assert a.pk < b.pk  # the service locks a, then b
    other = other_connection(deadlock_timeout="30s")
    other.autocommit = False
    other.execute("SELECT 1 FROM grants_grant WHERE id = %s FOR UPDATE", [b.pk])
    transfer = partial(
        services.grant_transfer,
        actor=tenant_a.admin,
        from_grant=a,
        to_grant=b,
        quantity=7,
        reason="Through a deadlock",
    )

    with in_a_thread(transfer, deadlock_timeout="1s") as (pid, done):
        deadlock(pid, other, first=a, second=b)
        status, result = done.get(timeout=30)
    other.close()

    assert status == "ok", result
    # Aborted by PostgreSQL at least once, then through. (On a busy machine the retry can take
    # `a` back before the other transaction, woken by the abort, gets it: the same cycle again,
    # aborted again; the bound on attempts is what the service promises.)
    assert attempts[0] == "40P01"
    assert attempts[-1] is None
    assert set(attempts[:-1]) == {"40P01"}
    assert len(attempts) <= MAX_ATTEMPTS
    assert (balance(a), balance(b)) == ((993, 0, 0), (1007, 0, 0))
    assert GrantEntry.objects.filter(kind__in=["transfer_out", "transfer_in"]).count() == 2
    assert_reconciled()


def test_a_deadlock_inside_the_callers_transaction_is_not_retried(rel, attempts) -> None:
    """`hold` joins its caller's transaction: a deadlock has aborted the caller's work too, so
    the error goes up to whoever owns the outermost transaction."""
    first = make_grant(
        student=rel.student, minutes=100, expires_at=timezone.now() + timedelta(days=1)
    )
    second = make_grant(student=rel.student, minutes=100)
    assert first.pk < second.pk
    before = snapshot()
    other = other_connection(deadlock_timeout="30s")
    other.autocommit = False
    other.execute("SELECT 1 FROM grants_grant WHERE id = %s FOR UPDATE", [second.pk])

    def caller() -> int:
        with transaction.atomic():
            return services.hold(actor=None, relationship=rel, quantity=150)

    with in_a_thread(caller, deadlock_timeout="1s") as (pid, done):
        deadlock(pid, other, first=first, second=second)
        status, error = done.get(timeout=30)
    other.close()

    assert status == "error"
    assert type(error) is OperationalError
    assert error.__cause__.sqlstate == "40P01"
    assert attempts == ["40P01"]
    assert snapshot() == before
    # Retried by its owner, the whole operation goes through.
    assert services.hold(actor=None, relationship=rel, quantity=150) == 150
    assert (balance(first), balance(second)) == ((100, 0, 100), (100, 0, 50))
    assert_reconciled()


def test_a_lock_timeout_is_not_retried(rel, tenant_a, attempts) -> None:
    """Only conflicts PostgreSQL resolves by aborting one side (40P01, 40001) are retried; a
    lock wait that timed out (55P03) would only time out again."""
    grant = make_grant(student=rel.student, minutes=600)
    before = snapshot()
    other = other_connection()
    other.autocommit = False
    other.execute("SELECT 1 FROM grants_grant WHERE id = %s FOR UPDATE", [grant.pk])
    adjust = partial(
        services.grant_adjust, actor=tenant_a.admin, grant=grant, delta=60, reason="Blocked"
    )

    started = time.monotonic()
    with in_a_thread(adjust, lock_timeout="300ms") as (_, done):
        status, error = done.get(timeout=30)
    elapsed = time.monotonic() - started
    other.rollback()
    other.close()

    assert status == "error"
    assert type(error) is OperationalError
    assert error.__cause__.sqlstate == "55P03"
    assert attempts == ["55P03"]  # one attempt, not four
    assert elapsed < 4 * 0.3
    assert snapshot() == before
    services.grant_adjust(actor=tenant_a.admin, grant=grant, delta=60, reason="Free now")
    assert balance(grant) == (660, 0, 0)
    assert_reconciled()
