"""Granting hours (DESIGN §3): directly and from a package."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grants import services
from grants.models import EntryKind, Grant, GrantEntry, GrantSource
from grants.services import LedgerError
from tests.factories import OrganizationFactory
from tests.grants.ledger_support import (
    assert_reconciled,
    balance,
    entries,
    make_package,
    service_type,
)
from tests.grants.services.support import DAY, refused

pytestmark = pytest.mark.django_db


def test_grant_create_credits_the_student_with_one_entry(org, student, admin) -> None:
    types = [service_type(org, "Tutoring"), service_type(org, "Advising")]
    valid_from = timezone.now() - DAY
    expires_at = valid_from + 30 * DAY

    grant = services.grant_create(
        actor=admin,
        student=student,
        quantity=600,
        unit="minutes",
        service_types=types,
        valid_from=valid_from,
        expires_at=expires_at,
        reference="  Voucher 17 ",
        reason="Scholarship",
    )

    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held, grant.available) == (600, 0, 0, 600)
    assert (grant.organization_id, grant.student_id, grant.package_id) == (org.pk, student.pk, None)
    assert (grant.unit, grant.status, grant.source) == ("minutes", "active", "manual")
    assert (grant.valid_from, grant.expires_at) == (valid_from, expires_at)
    assert grant.reference == "Voucher 17"
    assert grant.created_by == admin
    assert sorted(grant.service_types.values_list("name", flat=True)) == ["Advising", "Tutoring"]
    entry = GrantEntry.objects.get()
    assert (entry.grant_id, entry.kind, entry.total_delta, entry.used_delta, entry.held_delta) == (
        grant.pk,
        EntryKind.CREDIT,
        600,
        0,
        0,
    )
    assert (entry.organization_id, entry.actor, entry.reason) == (org.pk, admin, "Scholarship")
    assert (entry.allocation, entry.relationship, entry.session, entry.idempotency_key) == (
        None,
        None,
        None,
        None,
    )
    assert_reconciled()


def test_grant_create_reason_defaults_to_the_reference(org, student) -> None:
    grant = services.grant_create(
        actor=None,
        student=student,
        quantity=90,
        unit="minutes",
        service_types=[service_type(org)],
        reference=" Order 5 ",
    )
    assert entries(grant) == [("credit", 90, 0, 0)]
    assert GrantEntry.objects.get().reason == "Order 5"
    assert GrantEntry.objects.get().actor is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": 0}, "The quantity must be a whole number above zero."),
        ({"quantity": -30}, "The quantity must be a whole number above zero."),
        ({"quantity": 1.5}, "The quantity must be a whole number above zero."),
        ({"quantity": True}, "The quantity must be a whole number above zero."),
        ({"unit": "hours"}, "“hours” is not a unit."),
        ({"service_types": []}, "Choose at least one service type the hours cover."),
        ({"foreign_type": True}, "A service type of another organization was chosen."),
        ({"expires_at": "at valid_from"}, "The expiry must be after the start of validity."),
        ({"expires_at": "before valid_from"}, "The expiry must be after the start of validity."),
    ],
)
def test_grant_create_refusals(org, student, admin, kwargs, message) -> None:
    valid_from = timezone.now()
    args = {
        "actor": admin,
        "student": student,
        "quantity": 60,
        "unit": "minutes",
        "service_types": [service_type(org)],
        "valid_from": valid_from,
    }
    if kwargs.pop("foreign_type", False):
        args["service_types"] = [service_type(org), service_type(OrganizationFactory())]
    if kwargs.get("expires_at") == "at valid_from":
        kwargs["expires_at"] = valid_from
    elif kwargs.get("expires_at") == "before valid_from":
        kwargs["expires_at"] = valid_from - DAY
    args.update(kwargs)
    with refused(LedgerError, message):
        services.grant_create(**args)
    assert (Grant.objects.count(), GrantEntry.objects.count()) == (0, 0)


def test_grant_from_package_multiplies_and_copies(org, student, admin) -> None:
    package = make_package(
        org,
        name="Ten hours",
        quantity=600,
        validity_days=90,
        service_types=("Tutoring", "Advising"),
    )
    valid_from = timezone.now() - 2 * DAY

    grant = services.grant_from_package(
        actor=admin,
        student=student,
        package=package,
        count=3,
        valid_from=valid_from,
        source=GrantSource.WOOCOMMERCE,
        reference="Order 1001",
    )

    assert balance(grant) == (1800, 0, 0)
    assert (grant.unit, grant.package_id, grant.source, grant.reference) == (
        "minutes",
        package.pk,
        "woocommerce",
        "Order 1001",
    )
    assert grant.valid_from == valid_from
    assert grant.expires_at == valid_from + timedelta(days=90)
    assert sorted(grant.service_types.values_list("name", flat=True)) == ["Advising", "Tutoring"]
    entry = GrantEntry.objects.get()
    assert (entry.kind, entry.total_delta, entry.reason) == ("credit", 1800, "3 × Ten hours")
    assert_reconciled()


def test_grant_from_package_of_sessions_without_validity_never_expires(org, student) -> None:
    package = make_package(
        org,
        name="Five sessions",
        quantity=5,
        unit="sessions",
        validity_days=None,
        service_types=("Advising",),
    )

    grant = services.grant_from_package(
        actor=None, student=student, package=package, count=2, reason="Paid in cash"
    )

    assert balance(grant) == (10, 0, 0)
    assert (grant.unit, grant.expires_at) == ("sessions", None)
    assert list(grant.service_types.values_list("name", flat=True)) == ["Advising"]
    assert GrantEntry.objects.get().reason == "Paid in cash"
    assert_reconciled()


def test_grant_from_package_of_another_organization_is_refused(student) -> None:
    package = make_package(OrganizationFactory())
    with refused(LedgerError, "That package belongs to another organization."):
        services.grant_from_package(actor=None, student=student, package=package)
    with refused(LedgerError, "The number of packages must be a whole number above zero."):
        services.grant_from_package(
            actor=None, student=student, package=make_package(student.organization), count=0
        )
    assert (Grant.objects.count(), GrantEntry.objects.count()) == (0, 0)
