"""Transferring hours between grants (DESIGN §3)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from grants import services
from grants.models import GrantEntry
from grants.services import InsufficientHours, LedgerError
from tests.factories import OrganizationFactory, StudentFactory, make_grant
from tests.grants.services.support import DAY
from tests.support import (
    assert_reconciled,
    balance,
    entries,
    raises_exactly,
    service_type,
    snapshot,
)

pytestmark = pytest.mark.django_db


def test_transfer_between_two_grants_is_one_pair_of_entries(student, admin) -> None:
    tutoring = make_grant(student=student, minutes=600, service_types=("Tutoring",))
    advising = make_grant(student=student, minutes=120, service_types=("Advising",))

    target = services.grant_transfer(
        actor=admin,
        from_grant=tutoring,
        to_grant=advising,
        quantity=90,
        reason="Switching to advising",
    )

    assert target.pk == advising.pk
    assert balance(tutoring) == (510, 0, 0)
    assert balance(advising) == (210, 0, 0)
    pair = list(
        GrantEntry.objects.filter(kind__startswith="transfer")
        .order_by("pk")
        .values_list(
            "grant_id",
            "kind",
            "total_delta",
            "used_delta",
            "held_delta",
            "reason",
            "actor",
            "created_at",
        )
    )
    assert [row[:7] for row in pair] == [
        (tutoring.pk, "transfer_out", -90, 0, 0, "Switching to advising", admin.pk),
        (advising.pk, "transfer_in", 90, 0, 0, "Switching to advising", admin.pk),
    ]
    assert pair[0][7] == pair[1][7]
    assert_reconciled()


def test_transfer_to_a_new_grant_of_other_service_types(org, student, admin) -> None:
    expires_at = timezone.now() + 60 * DAY
    tutoring = make_grant(student=student, minutes=600, expires_at=expires_at, reference="Order 7")

    new = services.grant_transfer(
        actor=admin,
        from_grant=tutoring,
        quantity=150,
        reason="Advising instead",
        to_service_types=[service_type(org, "Advising")],
    )

    assert balance(tutoring) == (450, 0, 0)
    assert balance(new) == (150, 0, 0)
    assert (new.student_id, new.unit, new.source, new.status) == (
        student.pk,
        "minutes",
        "transfer",
        "active",
    )
    assert (new.valid_from, new.expires_at) == (tutoring.valid_from, expires_at)
    assert (new.reference, new.created_by) == ("Transfer from Order 7", admin)
    assert list(new.service_types.values_list("name", flat=True)) == ["Advising"]
    assert entries(new) == [("transfer_in", 150, 0, 0)]
    assert entries(tutoring)[-1] == ("transfer_out", -150, 0, 0)
    assert_reconciled()


def test_transfer_over_the_available_balance_is_refused(student, admin, rel) -> None:
    source = make_grant(student=student, minutes=600)
    target = make_grant(student=student, minutes=60, service_types=("Advising",))
    services.hold(actor=None, relationship=rel, quantity=560)
    before = snapshot()

    with raises_exactly(
        InsufficientHours,
        "Only 40 min of this grant are free to book; "
        "release reserved hours first to transfer more.",
    ) as info:
        services.grant_transfer(
            actor=admin, from_grant=source, to_grant=target, quantity=60, reason="Move"
        )
    assert info.value.shortfall == 20
    assert snapshot() == before

    services.grant_transfer(
        actor=admin, from_grant=source, to_grant=target, quantity=40, reason="Move what is free"
    )
    assert balance(source) == (560, 0, 560)
    assert balance(target) == (100, 0, 0)
    assert_reconciled()


def test_transfer_refusals(org, student, admin) -> None:
    source = make_grant(student=student, minutes=600)
    sessions = make_grant(student=student, minutes=5, unit="sessions")
    other_student = make_grant(student=StudentFactory(organization=org), minutes=60)
    expired = make_grant(student=student, minutes=60, service_types=("Advising",))
    services.grant_expire(actor=admin, grant=expired)
    advising = make_grant(student=student, minutes=60, service_types=("Advising",))
    before = snapshot()

    cases = [
        ({"to_grant": sessions}, "Both grants must count the same unit (minutes or sessions)."),
        ({"to_grant": other_student}, "Hours can only move between grants of the same student."),
        ({"to_grant": source}, "Choose a different grant to transfer to."),
        ({"to_grant": expired}, "The grant receiving the hours is not active."),
        ({}, "Choose the grant, or the service types, the hours move to."),
        (
            {"to_service_types": [service_type(OrganizationFactory(), "Advising")]},
            "A service type of another organization was chosen.",
        ),
        ({"to_grant": advising, "reason": " "}, "Give a reason for the transfer."),
        ({"to_grant": advising, "quantity": 0}, "The quantity must be a whole number above zero."),
    ]
    for kwargs, message in cases:
        args = {"actor": admin, "from_grant": source, "quantity": 30, "reason": "Move"} | kwargs
        with raises_exactly(LedgerError, message):
            services.grant_transfer(**args)
    assert snapshot() == before


def test_a_new_grant_from_a_transfer_is_priced_as_the_hours_it_received(
    org, student, admin
) -> None:
    source = make_grant(student=student, minutes=600, price=Decimal("300.00"))

    new = services.grant_transfer(
        actor=admin,
        from_grant=source,
        quantity=150,
        reason="Advising instead",
        to_service_types=[service_type(org, "Advising")],
    )

    new.refresh_from_db()
    assert (new.price, new.sold_quantity) == (Decimal("75.00"), 150)


def test_a_price_that_is_no_whole_cent_keeps_the_source_price_per_unit(org, student, admin) -> None:
    source = make_grant(student=student, minutes=600, price=Decimal("100.00"))

    new = services.grant_transfer(
        actor=admin,
        from_grant=source,
        quantity=7,
        reason="Advising instead",
        to_service_types=[service_type(org, "Advising")],
    )

    new.refresh_from_db()
    assert (new.price, new.sold_quantity) == (Decimal("100.00"), 600)


def test_an_unpriced_source_gives_an_unpriced_grant(org, student, admin) -> None:
    source = make_grant(student=student, minutes=600)

    new = services.grant_transfer(
        actor=admin,
        from_grant=source,
        quantity=150,
        reason="Advising instead",
        to_service_types=[service_type(org, "Advising")],
    )

    new.refresh_from_db()
    assert (new.price, new.sold_quantity) == (None, None)
