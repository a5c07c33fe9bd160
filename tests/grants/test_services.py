"""Every ledger service (DESIGN §3): balances to the minute, exact messages, entries written."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from grants import services
from grants.models import Allocation, EntryKind, Grant, GrantEntry, GrantSource
from grants.services import (
    ADJUST_REVOKED,
    REFUND_REVOKED,
    AlreadyApplied,
    Consumption,
    InsufficientHours,
    LedgerError,
)
from tests.factories import (
    OrganizationFactory,
    RelationshipFactory,
    SessionFactory,
    StudentFactory,
    make_grant,
)
from tests.grants.ledger_support import (
    allocation,
    assert_reconciled,
    balance,
    entries,
    make_package,
    service_type,
    snapshot,
)

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def refused(exc_type: type[Exception], message: str):  # type: ignore[no-untyped-def]
    """The exact message, not a fragment of it."""
    return pytest.raises(exc_type, match=f"^{re.escape(message)}$")


@pytest.fixture(autouse=True)
def _ledger_reconciles_after_each_test(db):  # type: ignore[no-untyped-def]
    """Whatever a test wrote (or was refused), the balances still equal the ledger's sums."""
    yield
    assert_reconciled()


@pytest.fixture
def org(tenant_a):  # type: ignore[no-untyped-def]
    return tenant_a.organization


@pytest.fixture
def student(tenant_a):  # type: ignore[no-untyped-def]
    return tenant_a.student


@pytest.fixture
def admin(tenant_a):  # type: ignore[no-untyped-def]
    return tenant_a.admin


@pytest.fixture
def rel(tenant_a):  # type: ignore[no-untyped-def]
    return RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )


@pytest.fixture
def rel2(tenant_a):  # type: ignore[no-untyped-def]
    """A second tutoring relationship of the same student, with another provider."""
    return RelationshipFactory(organization=tenant_a.organization, student=tenant_a.student)


@pytest.fixture
def three_grants(student):  # type: ignore[no-untyped-def]
    """Tutoring grants expiring in 10 days (60 min), in 30 days (100 min) and never (500 min),
    created in the opposite order of their expiry."""
    now = timezone.now()
    never = make_grant(student=student, minutes=500, reference="Never")
    later = make_grant(student=student, minutes=100, expires_at=now + 30 * DAY, reference="Later")
    sooner = make_grant(student=student, minutes=60, expires_at=now + 10 * DAY, reference="Sooner")
    return sooner, later, never


def consume(rel, quantity, *, at=None, draw_shortfall=False, **kwargs):  # type: ignore[no-untyped-def]
    session = SessionFactory(
        relationship=rel, duration_minutes=quantity, starts_at=at or timezone.now()
    )
    result = services.consume(
        actor=None,
        relationship=rel,
        session=session,
        quantity=quantity,
        at=session.starts_at,
        draw_shortfall=draw_shortfall,
        **kwargs,
    )
    return session, result


# --- grant_create ----------------------------------------------------------------------------


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


# --- grant_from_package ----------------------------------------------------------------------


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


# --- grant_adjust ----------------------------------------------------------------------------


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


# --- grant_transfer --------------------------------------------------------------------------


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

    with refused(
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
        with refused(LedgerError, message):
            services.grant_transfer(**args)
    assert snapshot() == before


# --- grant_refund ----------------------------------------------------------------------------


def test_refund_takes_back_unused_unheld_hours_and_keeps_reference(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=200)

    returned = services.grant_refund(
        actor=admin, grant=grant, quantity=100, reason="Family moved ", reference=" Refund R-55"
    )

    assert (returned.total, returned.status) == (500, "active")
    assert balance(grant) == (500, 0, 200)
    entry = GrantEntry.objects.filter(kind="refund").get()
    assert (entry.total_delta, entry.used_delta, entry.held_delta) == (-100, 0, 0)
    assert (entry.reason, entry.actor) == ("Family moved — Refund R-55", admin)
    assert grant.reference == "Test grant"

    before = snapshot()
    with refused(
        InsufficientHours,
        "Only 5 h of this grant are free to book; release reserved hours first to refund more.",
    ) as info:
        services.grant_refund(actor=admin, grant=grant, quantity=301, reason="Too much")
    assert info.value.shortfall == 1
    with refused(LedgerError, "Give a reason for the refund."):
        services.grant_refund(actor=admin, grant=grant, quantity=10, reason="  ")
    assert snapshot() == before
    assert_reconciled()


def test_refund_of_everything_unused_revokes_the_grant(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600)

    services.grant_refund(actor=admin, grant=grant, quantity=600, reason="Cancelled order")

    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held, grant.status) == (0, 0, 0, "revoked")
    with refused(
        InsufficientHours,
        "Only 0 min are free to book for this service; reserving 10 min needs 10 min more.",
    ):
        services.hold(actor=None, relationship=rel, quantity=10)
    assert_reconciled()


def test_refund_of_the_rest_of_a_partly_used_grant_keeps_it_active(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=100)
    consume(rel, 100)

    services.grant_refund(actor=admin, grant=grant, quantity=500, reason="Stopped")

    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held, grant.status) == (100, 100, 0, "active")
    assert_reconciled()


def test_a_revoked_grant_cannot_be_adjusted_or_refunded_again(student, admin, rel) -> None:
    """Revoked means refunded in full: the money went back. An admin who wants to give the
    student hours again adds a new grant, so the refunded one stays a closed record."""
    grant = make_grant(student=student, minutes=120)
    services.grant_refund(actor=admin, grant=grant, quantity=120, reason="Order cancelled")
    before = snapshot()

    for delta in (60, -1):
        with refused(LedgerError, ADJUST_REVOKED):
            services.grant_adjust(actor=admin, grant=grant, delta=delta, reason="Goodwill")
    with refused(LedgerError, REFUND_REVOKED):
        services.grant_refund(actor=admin, grant=grant, quantity=1, reason="Again")

    assert snapshot() == before
    assert Grant.objects.get(pk=grant.pk).status == "revoked"
    # Nothing of it can be held either; a new grant is what brings hours back.
    with refused(
        InsufficientHours,
        "Only 0 min are free to book for this service; reserving 1 min needs 1 min more.",
    ):
        services.hold(actor=None, relationship=rel, quantity=1)
    make_grant(student=student, minutes=60)
    assert services.hold(actor=None, relationship=rel, quantity=60) == 60


def test_an_expired_grant_may_still_be_corrected_and_refunded(student, admin) -> None:
    """Unlike revoked, expired hours were paid for: an admin corrects a typo or refunds them."""
    grant = make_grant(student=student, minutes=120, expires_at=timezone.now() + DAY)
    services.grant_expire(actor=None, grant=grant)

    services.grant_adjust(actor=admin, grant=grant, delta=-20, reason="Typo")
    services.grant_refund(actor=admin, grant=grant, quantity=100, reason="Refund the rest")

    assert (balance(grant), Grant.objects.get(pk=grant.pk).status) == ((0, 0, 0), "revoked")
    assert_reconciled()


# --- grant_extend ----------------------------------------------------------------------------


def test_extend_moves_the_expiry_later(student, admin) -> None:
    grant = make_grant(student=student, minutes=600, expires_at=timezone.now() + 10 * DAY)
    new_expiry = timezone.now() + 40 * DAY

    services.grant_extend(actor=admin, grant=grant, expires_at=new_expiry, reason="Illness")

    grant.refresh_from_db()
    assert (grant.expires_at, grant.status) == (new_expiry, "active")
    assert entries(grant)[-1] == ("extend", 0, 0, 0)
    assert GrantEntry.objects.get(kind="extend").reason == "Illness"

    services.grant_extend(actor=admin, grant=grant, expires_at=None, reason="Never expires now")
    grant.refresh_from_db()
    assert grant.expires_at is None
    assert_reconciled()


def test_extend_refusals(student, admin) -> None:
    current = timezone.now() + 10 * DAY
    grant = make_grant(student=student, minutes=600, expires_at=current)
    before = snapshot()
    with refused(LedgerError, "Give a reason for the extension."):
        services.grant_extend(actor=admin, grant=grant, expires_at=current + DAY, reason=" ")
    with refused(LedgerError, "The new expiry must be in the future."):
        services.grant_extend(
            actor=admin, grant=grant, expires_at=timezone.now() - DAY, reason="Oops"
        )
    shown = f"{timezone.localtime(current):%Y-%m-%d %H:%M}"
    for earlier in (current, current - DAY):
        with refused(LedgerError, f"The new expiry must be after the current one ({shown})."):
            services.grant_extend(actor=admin, grant=grant, expires_at=earlier, reason="Shorter")
    assert snapshot() == before


def test_extend_cannot_give_a_never_expiring_grant_an_expiry(student, admin) -> None:
    grant = make_grant(student=student, minutes=600)
    before = snapshot()
    with refused(LedgerError, "This grant never expires; an extension cannot give it an expiry."):
        services.grant_extend(
            actor=admin, grant=grant, expires_at=timezone.now() + 5 * DAY, reason="Shorter, in fact"
        )
    assert snapshot() == before


def test_extend_makes_an_expired_grant_active_again(student, admin, rel) -> None:
    grant = make_grant(student=student, minutes=600, expires_at=timezone.now() + 10 * DAY)
    services.grant_expire(actor=admin, grant=grant)
    assert Grant.objects.get(pk=grant.pk).status == "expired"

    services.grant_extend(
        actor=admin, grant=grant, expires_at=timezone.now() + 20 * DAY, reason="Goodwill"
    )

    assert Grant.objects.get(pk=grant.pk).status == "active"
    services.hold(actor=None, relationship=rel, quantity=60)
    assert balance(grant) == (600, 0, 60)
    assert_reconciled()


def test_a_revoked_grant_cannot_be_extended(student, admin) -> None:
    grant = make_grant(student=student, minutes=60, expires_at=timezone.now() + DAY)
    services.grant_refund(actor=admin, grant=grant, quantity=60, reason="Refunded")
    with refused(LedgerError, "A revoked grant cannot be extended."):
        services.grant_extend(
            actor=admin, grant=grant, expires_at=timezone.now() + 9 * DAY, reason="No"
        )


# --- grant_expire / expire_due_grants --------------------------------------------------------


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


# --- hold / release ----------------------------------------------------------------------------


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


# --- consume -----------------------------------------------------------------------------------


def test_consume_from_holds_soonest_expiry_first(rel, three_grants) -> None:
    sooner, later, never = three_grants
    services.hold(actor=None, relationship=rel, quantity=160)

    session, result = consume(rel, 90)

    assert result == [Consumption(sooner.pk, 60, True), Consumption(later.pk, 30, True)]
    assert [balance(g) for g in (sooner, later, never)] == [(60, 60, 0), (100, 30, 70), (500, 0, 0)]
    assert [allocation(rel, g) for g in (sooner, later)] == [(0, 60), (70, 30)]
    assert list(
        GrantEntry.objects.filter(kind="consume")
        .order_by("pk")
        .values_list("grant_id", "used_delta", "held_delta", "session", "relationship", "reason")
    ) == [(sooner.pk, 60, -60, session.pk, rel.pk, ""), (later.pk, 30, -30, session.pk, rel.pk, "")]
    assert services.consumed_for_session(session=session) == {sooner.pk: 60, later.pk: 30}
    assert_reconciled()


def test_consume_uses_only_holds_valid_on_the_session_date(rel, three_grants) -> None:
    sooner, later, never = three_grants
    services.hold(actor=None, relationship=rel, quantity=160)
    in_two_weeks = timezone.now() + 15 * DAY  # the 10-day grant has expired by then

    _, result = consume(rel, 90, at=in_two_weeks)

    assert result == [Consumption(later.pk, 90, True)]
    assert balance(sooner) == (60, 0, 60)
    assert balance(never) == (500, 0, 0)
    assert balance(later) == (100, 90, 10)

    before = snapshot()
    with refused(
        InsufficientHours,
        "Only 10 min are reserved for this relationship; the session needs 20 min.",
    ) as info:
        consume(rel, 20, at=in_two_weeks + timedelta(hours=2))
    assert info.value.shortfall == 10
    assert snapshot()[:2] == before[:2]
    assert GrantEntry.objects.count() == before[2]
    assert_reconciled()


def test_consume_draws_from_grants_valid_by_the_end_of_the_session_day(student, rel) -> None:
    """The organization is in New York (UTC−5 in early March): the session is at 08:00 there."""
    at = datetime(2031, 3, 1, 13, 0, tzinfo=UTC)
    same_day = make_grant(
        student=student, minutes=100, valid_from=datetime(2031, 3, 1, 20, 0, tzinfo=UTC)
    )  # 15:00 local
    make_grant(
        student=student, minutes=500, valid_from=datetime(2031, 3, 2, 6, 0, tzinfo=UTC)
    )  # 01:00 local, next day

    with refused(
        InsufficientHours,
        "The relationship's reserved hours and the student's hours free to book "
        "cover 1 h 40 min; the session needs 1 h 41 min.",
    ):
        consume(rel, 101, at=at, draw_shortfall=True)
    _, result = consume(rel, 100, at=at + timedelta(minutes=5), draw_shortfall=True)

    assert result == [Consumption(same_day.pk, 100, False)]
    assert balance(same_day) == (100, 100, 0)
    assert_reconciled()


def test_consume_refused_when_the_hold_is_short(student, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=60)
    before = snapshot()

    with refused(
        InsufficientHours,
        "Only 1 h are reserved for this relationship; the session needs 1 h 30 min.",
    ) as info:
        consume(rel, 90)

    assert info.value.shortfall == 30
    assert snapshot() == before
    assert balance(grant) == (600, 0, 60)


def test_consume_draws_the_shortfall_from_the_available_balance(student, rel) -> None:
    now = timezone.now()
    later = make_grant(student=student, minutes=600, expires_at=now + 30 * DAY)
    services.hold(actor=None, relationship=rel, quantity=60)
    sooner = make_grant(student=student, minutes=100, expires_at=now + 10 * DAY)
    advising = make_grant(
        student=student, minutes=500, service_types=("Advising",), expires_at=now + 5 * DAY
    )

    _, result = consume(rel, 90, draw_shortfall=True)

    assert result == [Consumption(later.pk, 60, True), Consumption(sooner.pk, 30, False)]
    assert balance(later) == (600, 60, 0)
    assert balance(sooner) == (100, 30, 0)
    assert balance(advising) == (500, 0, 0)
    assert allocation(rel, later) == (0, 60)
    assert allocation(rel, sooner) == (0, 30)
    assert list(
        GrantEntry.objects.filter(kind="consume")
        .order_by("pk")
        .values_list("grant_id", "used_delta", "held_delta", "reason")
    ) == [
        (later.pk, 60, -60, "Drawn from the hours free to book"),
        (sooner.pk, 30, 0, "Drawn from the hours free to book"),
    ]
    assert_reconciled()


def test_consume_with_draw_still_refused_when_both_are_short(student, rel) -> None:
    make_grant(student=student, minutes=100)
    make_grant(student=student, minutes=500, service_types=("Advising",))
    services.hold(actor=None, relationship=rel, quantity=60)
    before = snapshot()

    with refused(
        InsufficientHours,
        "The relationship's reserved hours and the student's hours free to book "
        "cover 1 h 40 min; the session needs 2 h.",
    ) as info:
        consume(rel, 120, draw_shortfall=True)

    assert info.value.shortfall == 20
    assert snapshot()[:2] == before[:2]
    assert GrantEntry.objects.count() == before[2]


# --- restore -----------------------------------------------------------------------------------


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


# --- sessions as the unit ----------------------------------------------------------------------


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


# --- idempotency keys --------------------------------------------------------------------------


def test_create_with_the_same_key_twice_applies_once(org, student, admin) -> None:
    args = {
        "actor": admin,
        "student": student,
        "quantity": 600,
        "unit": "minutes",
        "service_types": [service_type(org)],
        "idempotency_key": "woo:77:line:1",
    }
    services.grant_create(**args)
    before = snapshot()

    with refused(AlreadyApplied, "This was already applied; nothing changed."):
        services.grant_create(**args)

    assert snapshot() == before
    assert Grant.objects.count() == 1
    assert list(GrantEntry.objects.values_list("idempotency_key", flat=True)) == ["woo:77:line:1"]
    assert_reconciled()


def test_adjust_with_the_same_key_twice_applies_once(student, admin) -> None:
    grant = make_grant(student=student, minutes=600)
    services.grant_adjust(
        actor=admin, grant=grant, delta=30, reason="Gift", idempotency_key="form:abc"
    )
    before = snapshot()
    with refused(AlreadyApplied, "This was already applied; nothing changed."):
        services.grant_adjust(
            actor=admin, grant=grant, delta=30, reason="Gift", idempotency_key="form:abc"
        )
    assert snapshot() == before
    assert balance(grant) == (630, 0, 0)


def test_multi_entry_operations_number_their_keys(student, admin, rel, three_grants) -> None:
    sooner, later, never = three_grants
    services.hold(actor=None, relationship=rel, quantity=200, idempotency_key="hold:1")
    session = SessionFactory(relationship=rel)
    services.consume(
        actor=None,
        relationship=rel,
        session=session,
        quantity=90,
        at=session.starts_at,
        idempotency_key="consume:1",
    )
    target = make_grant(student=student, minutes=10, service_types=("Advising",))
    services.grant_transfer(
        actor=admin,
        from_grant=never,
        to_grant=target,
        quantity=100,
        reason="Move",
        idempotency_key="transfer:1",
    )
    assert list(
        GrantEntry.objects.exclude(idempotency_key=None)
        .order_by("pk")
        .values_list("idempotency_key", "kind", "grant_id")
    ) == [
        ("hold:1", "hold", sooner.pk),
        ("hold:1:2", "hold", later.pk),
        ("hold:1:3", "hold", never.pk),
        ("consume:1", "consume", sooner.pk),
        ("consume:1:2", "consume", later.pk),
        ("transfer:1", "transfer_out", never.pk),
        ("transfer:1:2", "transfer_in", target.pk),
    ]
    before = snapshot()

    with refused(AlreadyApplied, "This was already applied; nothing changed."):
        services.hold(actor=None, relationship=rel, quantity=200, idempotency_key="hold:1")
    with refused(AlreadyApplied, "This was already applied; nothing changed."):
        services.consume(
            actor=None,
            relationship=rel,
            session=SessionFactory(relationship=rel),
            quantity=90,
            at=timezone.now(),
            idempotency_key="consume:1",
        )
    with refused(AlreadyApplied, "This was already applied; nothing changed."):
        services.grant_transfer(
            actor=admin,
            from_grant=never,
            to_grant=target,
            quantity=100,
            reason="Move",
            idempotency_key="transfer:1",
        )

    assert snapshot() == before
    assert_reconciled()


def test_the_unique_key_holds_even_without_the_fast_path(
    org, student, admin, rel, monkeypatch
) -> None:
    """The check before the write is only a shortcut: the unique constraint decides."""
    grant = make_grant(student=student, minutes=600)
    target = make_grant(student=student, minutes=10, service_types=("Advising",))
    services.hold(actor=None, relationship=rel, quantity=100, idempotency_key="h")
    services.grant_transfer(
        actor=admin,
        from_grant=grant,
        to_grant=target,
        quantity=60,
        reason="Move",
        idempotency_key="t",
    )
    session = SessionFactory(relationship=rel)
    services.consume(
        actor=None,
        relationship=rel,
        session=session,
        quantity=30,
        at=session.starts_at,
        idempotency_key="c",
    )
    services.grant_create(
        actor=admin,
        student=student,
        quantity=60,
        unit="minutes",
        service_types=[service_type(org)],
        idempotency_key="g",
    )
    monkeypatch.setattr(services, "_ensure_new", lambda key: None)
    before = snapshot()

    calls = [
        lambda: services.hold(actor=None, relationship=rel, quantity=100, idempotency_key="h"),
        lambda: services.grant_transfer(
            actor=admin,
            from_grant=grant,
            to_grant=target,
            quantity=60,
            reason="Move",
            idempotency_key="t",
        ),
        lambda: services.consume(
            actor=None,
            relationship=rel,
            session=session,
            quantity=30,
            at=session.starts_at,
            idempotency_key="c",
        ),
        lambda: services.grant_create(
            actor=admin,
            student=student,
            quantity=60,
            unit="minutes",
            service_types=[service_type(org)],
            idempotency_key="g",
        ),
        lambda: services.grant_adjust(
            actor=admin, grant=grant, delta=5, reason="x", idempotency_key="g"
        ),
    ]
    for call in calls:
        with refused(AlreadyApplied, "This was already applied; nothing changed."):
            call()

    assert snapshot() == before
    assert_reconciled()


# --- student_balances ----------------------------------------------------------------------------


def test_student_balances_per_service_type_and_unit(org, student, rel) -> None:
    tutoring = make_grant(student=student, minutes=600)
    make_grant(student=student, minutes=120, service_types=("Tutoring", "Advising"))
    make_grant(student=student, minutes=5, unit="sessions", service_types=("Advising",))
    make_grant(student=StudentFactory(organization=org), minutes=999)
    services.hold(actor=None, relationship=rel, quantity=100)  # `tutoring`: no expiry, lowest id
    consume(rel, 40)
    expiring = make_grant(student=student, minutes=300, expires_at=timezone.now() + 5 * DAY)
    services.hold(actor=None, relationship=rel, quantity=30)  # from `expiring`, the soonest
    consume(rel, 30)
    services.grant_expire(actor=None, grant=expiring)
    assert balance(tutoring) == (600, 40, 60)

    rows = [
        (b.service_type.name, b.unit, b.remaining, b.available, b.held, b.used)
        for b in services.student_balances(student=student)
    ]

    # The expired grant counts in `used` only; a grant of two services counts under each.
    assert rows == [
        ("Advising", "minutes", 120, 120, 0, 0),
        ("Advising", "sessions", 5, 5, 0, 0),
        ("Tutoring", "minutes", 560 + 120, 500 + 120, 60, 40 + 30),
    ]
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
    from tests.factories import StudentFactory, make_grant

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
