"""Idempotency keys: an operation repeated with the same key applies once."""

import pytest
from django.utils import timezone

from grants import services
from grants.models import Grant, GrantEntry
from grants.services import AlreadyApplied
from tests.factories import SessionFactory, make_grant
from tests.grants.ledger_support import assert_reconciled, balance, service_type, snapshot
from tests.grants.services.support import refused

pytestmark = pytest.mark.django_db


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
