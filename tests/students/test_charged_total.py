"""What each student's sessions were charged, per unit (`students.ChargedTotal`), is kept by
PostgreSQL (`students/migrations/0005_charged_total.py`) through every write of a session and
every change of a relationship's unit or student, however it is written; a rebuild and the
migration's batched fill end where the triggers are."""

from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from sessions_app import rollups
from sessions_app.models import Session, SessionStatus
from students.models import ChargedTotal
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db

fill_charged = import_module("students.migrations.0005_charged_total")


def totals() -> dict[tuple[int, str], int]:
    """The kept rows, less those brought back to nothing."""
    return {
        (student, unit): charged
        for student, unit, charged in ChargedTotal.objects.values_list(
            "student_id", "unit", "charged"
        )
        if charged
    }


def day(n: int) -> object:
    return timezone.now() - timedelta(days=100 - n)


def test_every_write_of_a_session_moves_its_students_total(tenant_a: Tenant) -> None:
    org, student = tenant_a.organization, tenant_a.student
    other = StudentFactory(organization=org)
    minutes = RelationshipFactory(organization=org, student=student)
    counted = RelationshipFactory(organization=org, student=student, unit="sessions")
    theirs = RelationshipFactory(organization=org, student=other)

    first = SessionFactory(relationship=minutes, starts_at=day(1), charged_minutes=60)
    SessionFactory(relationship=minutes, starts_at=day(2), charged_minutes=45)
    SessionFactory(relationship=counted, starts_at=day(3), charged_minutes=1)
    SessionFactory(relationship=theirs, starts_at=day(4), charged_minutes=30)
    # Scheduled: nothing charged, no row written.
    SessionFactory(relationship=counted, starts_at=day(5), status=SessionStatus.SCHEDULED)
    assert totals() == {
        (student.pk, "minutes"): 105,
        (student.pk, "sessions"): 1,
        (other.pk, "minutes"): 30,
    }

    # Shortened, as a restore leaves it; then a late cancellation charged in full.
    first.charged_minutes = 40
    first.save(update_fields=["charged_minutes"])
    late = SessionFactory(
        relationship=minutes,
        starts_at=day(6),
        status=SessionStatus.CANCELLED,
        charged_minutes=60,
    )
    assert totals()[(student.pk, "minutes")] == 145

    late.delete()
    assert totals()[(student.pk, "minutes")] == 85
    assert rollups.differences() == []


def test_a_relationship_changing_unit_or_student_takes_its_charges_along(
    tenant_a: Tenant,
) -> None:
    org, student = tenant_a.organization, tenant_a.student
    other = StudentFactory(organization=org)
    relationship = RelationshipFactory(organization=org, student=student)
    SessionFactory(relationship=relationship, starts_at=day(1), charged_minutes=3)
    SessionFactory(relationship=relationship, starts_at=day(2), charged_minutes=2)
    assert totals() == {(student.pk, "minutes"): 5}

    relationship.unit = "sessions"
    relationship.save(update_fields=["unit"])
    assert totals() == {(student.pk, "sessions"): 5}

    relationship.student = other
    relationship.save(update_fields=["student"])
    assert totals() == {(other.pk, "sessions"): 5}
    assert rollups.differences() == []


def test_writes_that_bypass_the_models_keep_the_totals_too(tenant_a: Tenant) -> None:
    """A bulk update and plain SQL: the triggers see every write path."""
    relationship = RelationshipFactory(organization=tenant_a.organization, student=tenant_a.student)
    for n in range(4):
        SessionFactory(relationship=relationship, starts_at=day(n), charged_minutes=10)

    Session.objects.filter(relationship=relationship).update(
        charged_minutes=F("charged_minutes") + 5
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions_app_session SET charged_minutes = 0"
            " WHERE id = (SELECT min(id) FROM sessions_app_session WHERE relationship_id = %s)",
            [relationship.pk],
        )
        cursor.execute(
            "INSERT INTO sessions_app_session (public_id, organization_id, relationship_id,"
            " provider_id, exclusive, topic, location, starts_at, duration_minutes, kind, mode,"
            " status, notes, internal_note, cancellation_reason, no_show_party,"
            " no_show_explanation, charged_minutes, charge_shortfall, dispute_reason,"
            " report_sent_to, dispute_resolution, dispute_resolution_note, provider_pay_rate,"
            " client_rate, ics_sequence, student_recap, created_at)"
            " SELECT gen_random_uuid(), organization_id, id, provider_id, true, '', '', %s, 60,"
            " 'tutoring', '', 'completed', '', '', '', '', '', 7, 0, '', '', '', '', 0, 0, 0,"
            " '', now() FROM relationships_relationship WHERE id = %s",
            [day(50), relationship.pk],
        )

    assert totals() == {(tenant_a.student.pk, "minutes"): 15 * 3 + 7}
    assert rollups.differences() == []


def test_a_rebuild_finds_and_mends_a_wrong_total(tenant_a: Tenant, tenant_b: Tenant) -> None:
    for tenant in (tenant_a, tenant_b):
        relationship = RelationshipFactory(organization=tenant.organization, student=tenant.student)
        SessionFactory(relationship=relationship, starts_at=day(1), charged_minutes=50)
    kept = totals()
    ChargedTotal.objects.filter(student=tenant_a.student).update(charged=49)

    found = rollups.differences(organization_id=tenant_a.organization.pk)
    assert {(d.table, d.kept) for d in found} == {
        ("students_chargedtotal", True),
        ("students_chargedtotal", False),
    }
    assert rollups.differences(organization_id=tenant_b.organization.pk) == []

    rollups.rebuild(organization_id=tenant_a.organization.pk)
    assert totals() == kept
    assert rollups.differences() == []


def test_the_batched_fill_ends_with_the_totals_the_triggers_keep(tenant_a: Tenant) -> None:
    students = [
        tenant_a.student,
        *StudentFactory.create_batch(3, organization=tenant_a.organization),
    ]
    for n, student in enumerate(students):
        relationship = RelationshipFactory(organization=tenant_a.organization, student=student)
        for k in range(n + 1):
            SessionFactory(relationship=relationship, starts_at=day(k), charged_minutes=10 + n)
    kept = totals()
    assert len(kept) == len(students)
    ChargedTotal.objects.all().delete()
    editor = SimpleNamespace(connection=connection)

    fill_charged.fill(None, editor)
    assert totals() == kept
    fill_charged.fill(None, editor)  # again: each batch replaces its students
    assert totals() == kept
