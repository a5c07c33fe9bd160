"""Holding hours for a relationship and releasing them (DESIGN §3)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grants import services
from grants.models import Allocation, GrantEntry
from grants.services import InsufficientHours, LedgerError
from tests.factories import StudentFactory, make_grant
from tests.grants.ledger_support import allocation, assert_reconciled, balance, entries, snapshot
from tests.grants.services.support import DAY, refused

pytestmark = pytest.mark.django_db


def test_hold_takes_the_soonest_expiring_grants_first(
    org, student, admin, rel, three_grants
) -> None:
    sooner, later, never = three_grants
    now = timezone.now()
    never_held = [
        make_grant(student=student, minutes=900, service_types=("Advising",), expires_at=now + DAY),
        make_grant(student=student, minutes=9, unit="sessions", expires_at=now + DAY),
        make_grant(
            student=student,
            minutes=900,
            valid_from=now - 30 * DAY,
            expires_at=now - timedelta(minutes=1),
        ),  # past its date, job not run yet
        make_grant(student=student, minutes=900, valid_from=now + DAY),  # not valid yet
        make_grant(student=StudentFactory(organization=org), minutes=900, expires_at=now + DAY),
    ]
    expired = make_grant(student=student, minutes=900, expires_at=now + 2 * DAY)
    services.grant_expire(actor=None, grant=expired)
    never_held.append(expired)

    assert services.hold(actor=admin, relationship=rel, quantity=200, reason="Paired") == 200

    assert balance(sooner) == (60, 0, 60)
    assert balance(later) == (100, 0, 100)
    assert balance(never) == (500, 0, 40)
    assert [allocation(rel, g) for g in (sooner, later, never)] == [(60, 0), (100, 0), (40, 0)]
    assert list(
        GrantEntry.objects.filter(kind="hold")
        .order_by("pk")
        .values_list("grant_id", "held_delta", "relationship", "reason", "actor")
    ) == [
        (sooner.pk, 60, rel.pk, "Paired", admin.pk),
        (later.pk, 100, rel.pk, "Paired", admin.pk),
        (never.pk, 40, rel.pk, "Paired", admin.pk),
    ]
    for grant in never_held:
        assert balance(grant)[2] == 0
    assert not Allocation.objects.filter(grant__in=never_held).exists()
    assert_reconciled()


def test_hold_refused_states_the_shortfall(student, rel, rel2, three_grants) -> None:
    services.hold(actor=None, relationship=rel2, quantity=100)  # 560 min remain available
    before = snapshot()

    with refused(
        InsufficientHours,
        "Only 9 h 20 min are free to book for this service; reserving 10 h needs 40 min more.",
    ) as info:
        services.hold(actor=None, relationship=rel, quantity=600)

    assert info.value.shortfall == 40
    assert snapshot() == before
    with refused(LedgerError, "The quantity must be a whole number above zero."):
        services.hold(actor=None, relationship=rel, quantity=0)


def test_holding_again_grows_the_same_allocation(student, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=30)
    services.hold(actor=None, relationship=rel, quantity=45)
    assert Allocation.objects.get().held == 75
    assert balance(grant) == (600, 0, 75)
    assert entries(grant) == [("credit", 600, 0, 0), ("hold", 0, 0, 30), ("hold", 0, 0, 45)]
    assert_reconciled()


def test_release_part_gives_back_the_latest_expiring_hold_first(rel, three_grants) -> None:
    sooner, later, never = three_grants
    services.hold(actor=None, relationship=rel, quantity=200)

    assert services.release(actor=None, relationship=rel, quantity=50, reason="Fewer") == 50

    assert [allocation(rel, g) for g in (sooner, later, never)] == [(60, 0), (90, 0), (0, 0)]
    assert [balance(g) for g in (sooner, later, never)] == [(60, 0, 60), (100, 0, 90), (500, 0, 0)]
    assert list(
        GrantEntry.objects.filter(kind="release")
        .order_by("pk")
        .values_list("grant_id", "held_delta", "relationship", "reason")
    ) == [(never.pk, -40, rel.pk, "Fewer"), (later.pk, -10, rel.pk, "Fewer")]

    assert services.release(actor=None, relationship=rel) == 150

    assert [allocation(rel, g) for g in (sooner, later, never)] == [(0, 0), (0, 0), (0, 0)]
    assert [balance(g)[2] for g in (sooner, later, never)] == [0, 0, 0]
    assert entries(kind="release")[2:] == [("release", 0, 0, -90), ("release", 0, 0, -60)]
    assert_reconciled()


def test_release_beyond_what_is_held_is_refused(rel, rel2, three_grants) -> None:
    services.hold(actor=None, relationship=rel, quantity=200)
    services.hold(actor=None, relationship=rel2, quantity=100)
    before = snapshot()

    with refused(
        LedgerError, "This relationship holds only 3 h 20 min; it cannot release 3 h 21 min."
    ):
        services.release(actor=None, relationship=rel, quantity=201)

    assert snapshot() == before


def test_release_with_nothing_held_writes_nothing(student, rel) -> None:
    make_grant(student=student, minutes=600)
    assert services.release(actor=None, relationship=rel) == 0
    assert entries(kind="release") == []
    with refused(LedgerError, "This relationship holds only 0 min; it cannot release 1 min."):
        services.release(actor=None, relationship=rel, quantity=1)
