"""Grants expiring (DESIGN §3): the daily job, and what a grant past its date may still do."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from grants import services
from grants.models import Grant, GrantEntry
from grants.services import InsufficientHours, LedgerError
from tests.factories import StudentFactory, make_grant
from tests.grants.ledger_support import (
    allocation,
    assert_reconciled,
    balance,
    entries,
    service_type,
    snapshot,
)
from tests.grants.services.support import DAY, consume, refused

pytestmark = pytest.mark.django_db


def test_expire_releases_every_hold_and_blocks_holding_and_consuming(
    student, admin, rel, rel2
) -> None:
    grant = make_grant(student=student, minutes=600, expires_at=timezone.now() + 10 * DAY)
    services.hold(actor=None, relationship=rel, quantity=100)
    services.hold(actor=None, relationship=rel2, quantity=50)
    consume(rel, 30)
    count = GrantEntry.objects.count()

    returned = services.grant_expire(actor=admin, grant=grant, reason="Expired early")

    assert returned.status == "expired"
    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held, grant.status) == (600, 30, 0, "expired")
    assert allocation(rel, grant) == (0, 30)
    assert allocation(rel2, grant) == (0, 0)
    new = list(
        GrantEntry.objects.filter(pk__gt=GrantEntry.objects.order_by("pk")[count - 1].pk)
        .order_by("pk")
        .values_list("kind", "held_delta", "relationship", "reason")
    )
    assert new == [
        ("release", -70, rel.pk, "Expired early"),
        ("release", -50, rel2.pk, "Expired early"),
        ("expire", 0, None, "Expired early"),
    ]

    before = snapshot()
    with refused(
        InsufficientHours,
        "Only 0 min are free to book for this service; reserving 10 min needs 10 min more.",
    ):
        services.hold(actor=None, relationship=rel, quantity=10)
    with refused(
        InsufficientHours,
        "Only 0 min are reserved for this relationship; the session needs 10 min.",
    ):
        consume(rel, 10)
    with refused(
        InsufficientHours,
        "The relationship's reserved hours and the student's hours free to book "
        "cover 0 min; the session needs 10 min.",
    ):
        consume(rel, 10, draw_shortfall=True)
    # Expiring again changes nothing.
    services.grant_expire(actor=admin, grant=grant)
    assert snapshot()[:2] == before[:2]
    assert GrantEntry.objects.count() == before[2]
    assert_reconciled()


def test_expire_due_grants_runs_daily_and_is_idempotent(student, rel) -> None:
    with time_machine.travel(datetime(2031, 3, 1, 9, 0, tzinfo=UTC), tick=False) as clock:
        now = timezone.now()
        soon = make_grant(student=student, minutes=100, expires_at=now + 10 * DAY)
        later = make_grant(student=student, minutes=100, expires_at=now + 40 * DAY)
        never = make_grant(student=student, minutes=100)
        services.hold(actor=None, relationship=rel, quantity=150)
        assert allocation(rel, soon) == (100, 0)
        assert allocation(rel, later) == (50, 0)

        assert services.expire_due_grants() == 0
        clock.shift(10 * DAY - timedelta(seconds=1))
        assert services.expire_due_grants() == 0

        clock.shift(timedelta(seconds=1))
        assert services.expire_due_grants() == 1
        soon.refresh_from_db()
        assert (soon.status, soon.total, soon.used, soon.held) == ("expired", 100, 0, 0)
        assert allocation(rel, soon) == (0, 0)
        assert entries(soon)[-2:] == [("release", 0, 0, -100), ("expire", 0, 0, 0)]
        assert GrantEntry.objects.get(grant=soon, kind="expire").reason == "Expired on its date"

        before = snapshot()
        assert services.expire_due_grants() == 0
        assert snapshot() == before

        clock.shift(30 * DAY)
        assert services.expire_due_grants() == 1
        assert list(Grant.objects.order_by("pk").values_list("status", flat=True)) == [
            "expired",
            "expired",
            "active",
        ]
        assert balance(later) == (100, 0, 0)
        assert balance(never) == (100, 0, 0)
        assert services.expire_due_grants() == 0
    assert_reconciled()


def test_expire_due_grants_spares_a_grant_extended_after_it_was_listed(
    student, admin, monkeypatch
) -> None:
    with time_machine.travel(datetime(2031, 3, 1, 9, 0, tzinfo=UTC), tick=False) as clock:
        grant = make_grant(student=student, minutes=100, expires_at=timezone.now() + DAY)
        clock.shift(2 * DAY)
        new_expiry = timezone.now() + 30 * DAY
        real_expire = services.grant_expire

        def admin_extends_meanwhile(**kwargs):  # type: ignore[no-untyped-def]
            # The job has listed the grant as due; an admin extends it before the job locks it.
            services.grant_extend(
                actor=admin, grant=grant, expires_at=new_expiry, reason="Extended by the admin"
            )
            return real_expire(**kwargs)

        monkeypatch.setattr(services, "grant_expire", admin_extends_meanwhile)
        services.expire_due_grants()

    grant.refresh_from_db()
    assert (grant.status, grant.expires_at) == ("active", new_expiry)
    assert [e[0] for e in entries(grant)] == ["credit", "extend"]
    assert_reconciled()


def test_a_grant_past_its_date_cannot_move_hours_before_the_job_expires_it(
    student, admin, rel
) -> None:
    with time_machine.travel(datetime(2031, 3, 1, 9, 0, tzinfo=UTC), tick=False) as clock:
        due = make_grant(student=student, minutes=120, expires_at=timezone.now() + DAY)
        other = make_grant(student=student, minutes=60, service_types=("Advising",))
        clock.shift(DAY)  # exactly its expiry: the daily job has not run yet
        assert Grant.objects.get(pk=due.pk).status == "active"
        before = snapshot()

        for to in ({"to_grant": other}, {"to_service_types": [service_type(student.organization)]}):
            with refused(LedgerError, "This grant has expired; extend it before moving its hours."):
                services.grant_transfer(
                    actor=admin, from_grant=due, quantity=60, reason="Rescue", **to
                )
        # Nor can hours move into it, to vanish at the next run of the job.
        with refused(LedgerError, "The grant receiving the hours is not active."):
            services.grant_transfer(
                actor=admin, from_grant=other, to_grant=due, quantity=30, reason="Top up"
            )
        assert snapshot() == before

        clock.shift(-timedelta(seconds=1))  # a second before its expiry it may still move
        services.grant_transfer(
            actor=admin, from_grant=due, to_grant=other, quantity=60, reason="In time"
        )
        assert (balance(due), balance(other)) == ((60, 0, 0), (120, 0, 0))
    assert_reconciled()


def test_hours_of_an_expired_grant_cannot_be_transferred_back_to_life(db: None) -> None:
    from grants.models import GrantStatus
    from tests.factories import make_grant

    student = StudentFactory()
    expired = make_grant(student=student, minutes=120)
    other = make_grant(student=student, minutes=60)
    services.grant_expire(actor=None, grant=expired)
    with pytest.raises(services.LedgerError) as refused:
        services.grant_transfer(
            actor=None, from_grant=expired, to_grant=other, quantity=60, reason="Try"
        )
    assert str(refused.value) == "This grant has expired; extend it before moving its hours."
    expired.refresh_from_db()
    other.refresh_from_db()
    assert (expired.status, expired.total, other.total) == (GrantStatus.EXPIRED, 120, 60)
