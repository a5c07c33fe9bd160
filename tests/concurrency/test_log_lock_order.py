"""Logging sends the grant locks and the allocation locks in one round trip
(`grants.services.holds._lock_held`): they must still be taken in the one order of every ledger
write, every grant before any allocation (DESIGN §3 invariant 4), and writers on one hot grant
must still queue, never overdraw, and leave a ledger that reconciles. Real threads, real
PostgreSQL transactions."""

from datetime import timedelta
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from grants.models import Allocation
from grants.reconcile import find_differences
from sessions_app import services
from sessions_app.models import Session
from tests.concurrency.test_ledger_races import in_a_thread, other_connection, wait_until_blocked
from tests.concurrency.test_session_races import paired, second_provider
from tests.factories import make_grant
from tests.support import Tenant, balance, hours_ago, member
from tests.threads import run_together

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks"),
]


def test_a_log_waiting_for_its_grant_has_not_locked_its_allocation(tenant_a: Tenant) -> None:
    grant = make_grant(
        student=tenant_a.student, minutes=600, valid_from=timezone.now() - timedelta(days=30)
    )
    rel = paired(tenant_a, minutes=300)
    allocation = Allocation.objects.get(relationship=rel)
    holder = other_connection()
    holder.autocommit = False
    holder.execute("SELECT 1 FROM grants_grant WHERE id = %s FOR UPDATE", [grant.pk])
    call = partial(
        services.session_log,
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=hours_ago(3),
        duration=60,
    )
    with in_a_thread(call) as (pid, done):
        wait_until_blocked(pid)
        # The service waits on the grant; its allocation, locked by the statement after, is
        # still free: a third connection takes it at once and lets it go.
        with other_connection() as third:
            third.autocommit = False
            row = third.execute(
                "SELECT id FROM grants_allocation WHERE id = %s FOR UPDATE NOWAIT",
                [allocation.pk],
            ).fetchone()
            assert row == (allocation.pk,)
            third.rollback()
        assert done.empty()
        holder.rollback()
        holder.close()
        status, session = done.get(timeout=10)
    assert status == "ok"
    assert session.charged_minutes == 60
    assert balance(grant) == (600, 60, 240)
    assert find_differences() == []


def test_two_providers_logging_on_one_hot_grant_queue_and_never_overdraw(
    tenant_a: Tenant,
) -> None:
    grant = make_grant(
        student=tenant_a.student, minutes=600, valid_from=timezone.now() - timedelta(days=30)
    )
    provider, provider_user = second_provider(tenant_a)
    provider.service_types.set(tenant_a.provider.service_types.all())
    first = paired(tenant_a, minutes=300)
    second = paired(tenant_a, provider=provider, provider_user=provider_user, minutes=300)

    def logs(relationship, user, offset: int) -> int:  # type: ignore[no-untyped-def]
        done = 0
        for n in range(6):  # 6 × 60 = 360 asked of a 300 hold: the last one is refused
            try:
                services.session_log(
                    membership=member(user),
                    relationship=relationship,
                    starts_at=hours_ago(2 + offset + 2 * n),
                    duration=60,
                )
            except services.ledger.InsufficientHours:
                continue
            done += 1
        return done

    outcomes = run_together(
        partial(logs, first, tenant_a.provider_user, 0),
        partial(logs, second, provider_user, 1),
    )
    assert outcomes == [("ok", 5), ("ok", 5)]
    assert balance(grant) == (600, 600, 0)
    assert Session.objects.filter(relationship__in=[first, second]).count() == 10
    assert find_differences() == []
