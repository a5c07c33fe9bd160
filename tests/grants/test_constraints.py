"""The database keeps the ledger's invariants by itself (DESIGN §3): each guard is attacked with
writes that bypass the services, and must refuse them. Then `reconcile_grants` finds what a raw
UPDATE did to a balance."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from grants import services
from grants.models import Allocation, Grant, GrantEntry, GrantServiceType
from relationships.models import Relationship
from tests.conftest import make_tenant
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.grants.ledger_support import assert_reconciled, service_type

ROOT = Path(__file__).resolve().parents[2]


def violates(constraint: str):  # type: ignore[no-untyped-def]
    """The write fails with IntegrityError naming this constraint (and its savepoint is gone)."""
    return pytest.raises(IntegrityError, match=constraint)


@pytest.fixture
def ledger(tenant_a):  # type: ignore[no-untyped-def]
    """A grant of 600 minutes with a hold of 100 and a session that consumed 40 of it."""
    rel = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    grant = make_grant(student=tenant_a.student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=100, idempotency_key="hold-1")
    session = SessionFactory(relationship=rel)
    services.consume(
        actor=None, relationship=rel, session=session, quantity=40, at=session.starts_at
    )
    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held) == (600, 40, 60)
    return grant, rel, session, Allocation.objects.get()


# --- CHECK and unique constraints ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("update", "constraint"),
    [
        ({"used": -1}, "grant_used_not_negative"),
        ({"held": -1}, "grant_held_not_negative"),
        ({"used": 541}, "grant_used_plus_held_within_total"),  # 541 + 60 > 600
        ({"held": F("total") - F("used") + 1}, "grant_used_plus_held_within_total"),
        ({"total": 99}, "grant_used_plus_held_within_total"),
        ({"status": "deleted"}, "grant_status_valid"),
        ({"unit": "hours"}, "grant_unit_valid"),
        ({"source": "gift"}, "grant_source_valid"),
        ({"expires_at": F("valid_from")}, "grant_expires_after_valid_from"),
    ],
)
def test_grant_checks_refuse_raw_updates(ledger, update, constraint) -> None:
    grant = ledger[0]
    with violates(constraint), transaction.atomic():
        Grant.objects.filter(pk=grant.pk).update(**update)
    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held, grant.status) == (600, 40, 60, "active")
    # The same column can still move within bounds: the guard is the bound, not the column.
    Grant.objects.filter(pk=grant.pk).update(used=500)
    assert Grant.objects.get(pk=grant.pk).used == 500


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("update", "constraint"),
    [
        ({"held": -1}, "allocation_held_not_negative"),
        ({"consumed": -1}, "allocation_consumed_not_negative"),
    ],
)
def test_allocation_checks_refuse_raw_updates(ledger, update, constraint) -> None:
    allocation = ledger[3]
    with violates(constraint), transaction.atomic():
        Allocation.objects.filter(pk=allocation.pk).update(**update)
    allocation.refresh_from_db()
    assert (allocation.held, allocation.consumed) == (60, 40)


@pytest.mark.django_db
def test_an_idempotency_key_is_unique(ledger) -> None:
    grant = ledger[0]
    with violates("grant_entry_idempotency_key_unique"), transaction.atomic():
        GrantEntry.objects.create(
            organization_id=grant.organization_id,
            grant=grant,
            kind="adjust",
            idempotency_key="hold-1",
        )
    # Entries without a key are many.
    for _ in range(2):
        GrantEntry.objects.create(
            organization_id=grant.organization_id, grant=grant, kind="adjust", idempotency_key=None
        )
    assert GrantEntry.objects.filter(idempotency_key=None).count() == 2 + 2  # credit, consume


@pytest.mark.django_db
def test_a_relationship_has_one_allocation_per_grant(ledger) -> None:
    grant, rel, _, _ = ledger
    with violates("allocation_relationship_grant_unique"), transaction.atomic():
        Allocation.objects.create(
            organization_id=grant.organization_id, relationship=rel, grant=grant
        )
    assert Allocation.objects.count() == 1


@pytest.mark.django_db
def test_entry_kind_is_checked(ledger) -> None:
    grant = ledger[0]
    with violates("grant_entry_kind_valid"), transaction.atomic():
        GrantEntry.objects.create(organization_id=grant.organization_id, grant=grant, kind="gift")


# --- The ledger is append-only -----------------------------------------------------------------


@pytest.mark.django_db
def test_entries_cannot_be_updated(ledger) -> None:
    entry = GrantEntry.objects.filter(kind="consume").get()
    refused = "grant entries are append-only: UPDATE refused"
    with pytest.raises(IntegrityError, match=refused) as info, transaction.atomic():
        GrantEntry.objects.filter(pk=entry.pk).update(used_delta=0)
    # psycopg maps SQLSTATE 23001 (restrict_violation) to an integrity error.
    assert isinstance(info.value.__cause__, psycopg.errors.RestrictViolation)
    assert info.value.__cause__.sqlstate == "23001"
    entry.reason = "Rewritten history"
    with pytest.raises(IntegrityError, match="UPDATE refused"), transaction.atomic():
        entry.save()
    with (
        pytest.raises(IntegrityError, match="UPDATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE grants_grantentry SET reason = 'x'")
    entry.refresh_from_db()
    assert (entry.used_delta, entry.reason) == (40, "")


@pytest.mark.django_db
def test_entries_cannot_be_deleted(ledger) -> None:
    entry = GrantEntry.objects.filter(kind="credit").get()
    with (
        pytest.raises(IntegrityError, match="grant entries are append-only: DELETE refused"),
        transaction.atomic(),
    ):
        GrantEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(IntegrityError, match="DELETE refused"), transaction.atomic():
        entry.delete()
    with (
        pytest.raises(IntegrityError, match="DELETE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM grants_grantentry")
    assert GrantEntry.objects.count() == 3  # credit, hold, consume
    assert_reconciled()


# --- Composite tenant foreign keys (DEFERRABLE INITIALLY DEFERRED: they fire at commit) -------


@pytest.fixture
def two_tenants(db):  # type: ignore[no-untyped-def]
    a, b = make_tenant("Alpha Tutoring", "alpha"), make_tenant("Beta Advising", "beta")
    rel_a = RelationshipFactory(organization=a.organization, student=a.student, provider=a.provider)
    rel_b = RelationshipFactory(organization=b.organization, student=b.student, provider=b.provider)
    return a, b, rel_a, rel_b, make_grant(student=a.student), make_grant(student=b.student)


def cross_tenant_rows(a, b, rel_a, rel_b, grant_a, grant_b):  # type: ignore[no-untyped-def]
    """name → (the constraint, a function writing a row of A that points into B)."""
    org = a.organization.pk
    return {
        "grant of a student of B": (
            "grant_student_same_org",
            lambda: Grant.objects.create(organization_id=org, student=b.student, unit="minutes"),
        ),
        "allocation of a grant of B": (
            "allocation_grant_same_org",
            lambda: Allocation.objects.create(
                organization_id=org, relationship=rel_a, grant=grant_b
            ),
        ),
        "allocation of a relationship of B": (
            "allocation_relationship_same_org",
            lambda: Allocation.objects.create(
                organization_id=org, relationship=rel_b, grant=grant_a
            ),
        ),
        "entry of a grant of B": (
            "entry_grant_same_org",
            lambda: GrantEntry.objects.create(organization_id=org, grant=grant_b, kind="adjust"),
        ),
        "entry of a session of B": (
            "entry_session_same_org",
            lambda: GrantEntry.objects.create(
                organization_id=org,
                grant=grant_a,
                kind="adjust",
                session=SessionFactory(relationship=rel_b),
            ),
        ),
        "grant covering a service type of B": (
            "grant_st_type_same_org",
            lambda: GrantServiceType.objects.create(
                organization_id=org,
                grant=grant_a,
                service_type=service_type(b.organization, "Advising"),
            ),
        ),
        "relationship with a provider of B": (
            "relationship_provider_same_org",
            lambda: Relationship.objects.create(
                organization_id=org,
                student=a.student,
                provider=b.provider,
                service_type=service_type(a.organization),
            ),
        ),
    }


CROSS_TENANT_CASES = [
    "grant of a student of B",
    "allocation of a grant of B",
    "allocation of a relationship of B",
    "entry of a grant of B",
    "entry of a session of B",
    "grant covering a service type of B",
    "relationship with a provider of B",
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CROSS_TENANT_CASES)
def test_composite_tenant_keys_refuse_rows_pointing_into_another_org(two_tenants, case) -> None:
    constraint, write = cross_tenant_rows(*two_tenants)[case]
    with violates(constraint), transaction.atomic():
        write()  # accepted for now: the key is deferred…
        connection.check_constraints()  # …and refused when checked, as at commit


@pytest.mark.django_db
def test_composite_tenant_keys_accept_rows_of_the_same_org(two_tenants) -> None:
    a, _, rel_a, _, grant_a, _ = two_tenants
    org = a.organization.pk
    Grant.objects.create(organization_id=org, student=a.student, unit="minutes")
    GrantEntry.objects.create(
        organization_id=org,
        grant=grant_a,
        kind="adjust",
        session=SessionFactory(relationship=rel_a),
    )
    Allocation.objects.create(organization_id=org, relationship=rel_a, grant=grant_a)
    connection.check_constraints()  # no error


@pytest.mark.django_db
def test_composite_tenant_key_made_immediate_refuses_at_the_insert(two_tenants) -> None:
    a, b, *_ = two_tenants
    with violates("grant_student_same_org"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS grant_student_same_org IMMEDIATE")
        Grant.objects.create(organization_id=a.organization.pk, student=b.student, unit="minutes")


@pytest.mark.django_db(transaction=True)
def test_composite_tenant_key_refuses_at_commit() -> None:
    a, b = make_tenant("Alpha Tutoring", "alpha"), make_tenant("Beta Advising", "beta")
    grant_b = make_grant(student=b.student)
    with violates("entry_grant_same_org"), transaction.atomic():
        GrantEntry.objects.create(
            organization_id=a.organization.pk, grant=grant_b, kind="adjust", total_delta=60
        )
    assert list(GrantEntry.objects.values_list("kind", flat=True)) == ["credit"]
    assert_reconciled()


# --- reconcile_grants --------------------------------------------------------------------------


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile_grants", *args, stdout=out)
    return out.getvalue()


def reconcile_fails(*args: str) -> tuple[str, CommandError]:
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("reconcile_grants", *args, stdout=out)
    assert info.value.returncode == 1
    return out.getvalue(), info.value


@pytest.mark.django_db
def test_reconcile_passes_on_clean_data(ledger) -> None:
    assert reconcile() == "Balances match the ledger.\n"


@pytest.mark.django_db
def test_reconcile_reports_a_raw_update_of_a_grant(ledger) -> None:
    grant = ledger[0]
    Grant.objects.filter(pk=grant.pk).update(used=F("used") + 10)

    out, error = reconcile_fails()

    assert out == f"grant {grant.pk}: used is 50, the ledger says 40\n"
    assert str(error) == "1 difference(s) between balances and ledger."


@pytest.mark.django_db
def test_reconcile_reports_every_column_that_differs(ledger) -> None:
    grant, _, _, allocation = ledger
    Grant.objects.filter(pk=grant.pk).update(total=700, held=65)
    Allocation.objects.filter(pk=allocation.pk).update(consumed=45)

    out, error = reconcile_fails()

    assert out.splitlines() == [
        f"grant {grant.pk}: total is 700, the ledger says 600",
        f"grant {grant.pk}: held is 65, the ledger says 60",
        f"grant {grant.pk}: held (sum of its allocations) is 65, the ledger says 60",
        f"allocation {allocation.pk}: consumed is 45, the ledger says 40",
    ]
    assert str(error) == "4 difference(s) between balances and ledger."


@pytest.mark.django_db
def test_reconcile_scoped_to_one_organization(ledger, tenant_b) -> None:
    grant_b = make_grant(student=tenant_b.student, minutes=120)
    Grant.objects.filter(pk=grant_b.pk).update(total=90)

    assert reconcile("--organization", "alpha") == "Balances match the ledger.\n"
    out, _ = reconcile_fails("--organization", "beta")
    assert out == f"grant {grant_b.pk}: total is 90, the ledger says 120\n"
    out, _ = reconcile_fails()
    assert out == f"grant {grant_b.pk}: total is 90, the ledger says 120\n"
    with pytest.raises(CommandError, match=r"^No organization with the slug “nope”\.$"):
        reconcile("--organization", "nope")


@pytest.mark.django_db(transaction=True)
def test_reconcile_exit_status_from_the_command_line() -> None:
    tenant = make_tenant("Alpha Tutoring", "alpha")
    grant = make_grant(student=tenant.student, minutes=120)
    db = connection.settings_dict
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
    }

    assert reconcile() == "Balances match the ledger.\n"
    Grant.objects.filter(pk=grant.pk).update(used=5)

    broken = subprocess.run(
        [sys.executable, "manage.py", "reconcile_grants"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert broken.returncode == 1
    assert broken.stdout == f"grant {grant.pk}: used is 5, the ledger says 0\n"
    assert "1 difference(s) between balances and ledger." in broken.stderr
