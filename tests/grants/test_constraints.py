"""The database keeps the ledger's invariants by itself (DESIGN §3): each guard is attacked with
writes that bypass the services, and must refuse them. Then `reconcile_grants` finds what a raw
UPDATE did to a balance."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from grants import services
from grants.models import (
    Allocation,
    Grant,
    GrantEntry,
    GrantServiceType,
    Package,
    PackageServiceType,
    PackageShopMapping,
)
from grants.reconcile import differences_query, find_differences
from relationships.models import Relationship
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory, make_grant
from tests.support import assert_reconciled, make_package, make_tenant, service_type

ROOT = Path(__file__).resolve().parents[2]


def violates(constraint: str):  # type: ignore[no-untyped-def]
    """The write fails with IntegrityError naming this constraint (and its savepoint is gone)."""
    return pytest.raises(IntegrityError, match=constraint)


def check_now(constraint: str) -> None:
    """Check one deferred constraint now, as the commit would: only this one, so a row that
    breaks several rules proves each of them separately."""
    with connection.cursor() as cursor:
        cursor.execute(f'SET CONSTRAINTS "{constraint}" IMMEDIATE')


@contextmanager
def balance_checks_off() -> Iterator[None]:
    """What reconcile_grants is for: balances changed where the database's own checks
    (grants 0010) did not run, a restore without triggers, say. Off until the block ends."""
    triggers = [
        ("grants_grant", "grant_matches_ledger_update"),
        ("grants_grant", "grant_matches_ledger_insert"),
        ("grants_grantentry", "grant_matches_ledger"),
    ]
    with connection.cursor() as cursor:
        # ALTER TABLE waits for no deferred check: run the pending ones first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
        for table, trigger in triggers:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
            for table, trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


@pytest.fixture
def unchecked_balances() -> Iterator[None]:
    with balance_checks_off():
        yield


@pytest.fixture
def ledger(tenant_a):  # type: ignore[no-untyped-def]
    """A grant of 600 minutes with a hold of 100 and a session that consumed 40 of it."""
    rel = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    grant = make_grant(student=tenant_a.student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=100, idempotency_key="hold-1")
    session = SessionFactory(relationship=rel, charged_minutes=40)
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
    # The same column can still move within bounds: the guard is the bound, not the column
    # (the balance must then move with its entry: tests/grants/test_ledger_kept_by_the_database).
    with balance_checks_off():
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


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("update", "constraint"),
    [
        ({"quantity": 0}, "package_quantity_positive"),
        ({"price": "-0.01"}, "package_price_not_negative"),
        ({"unit": "hours"}, "package_unit_valid"),
    ],
)
def test_package_checks_refuse_raw_updates(tenant_a, update, constraint) -> None:
    package = make_package(tenant_a.organization)
    with violates(constraint), transaction.atomic():
        Package.objects.filter(pk=package.pk).update(**update)
    with violates(constraint), transaction.atomic():
        Package.objects.create(
            organization=tenant_a.organization,
            **{"name": "Bad", "quantity": 60, "unit": "minutes", "price": "10.00", **update},
        )
    package.refresh_from_db()
    assert (package.quantity, str(package.price), package.unit) == (600, "450.00", "minutes")
    Package.objects.filter(pk=package.pk).update(quantity=1, price=0, unit="sessions")


@pytest.mark.django_db
def test_a_shop_key_has_a_valid_kind_and_sells_one_package_per_organization(
    tenant_a, tenant_b
) -> None:
    package, other = make_package(tenant_a.organization), make_package(tenant_a.organization)
    org = tenant_a.organization
    PackageShopMapping.objects.create(organization=org, package=package, kind="sku", value="T-10")
    with violates("package_shop_kind_valid"), transaction.atomic():
        PackageShopMapping.objects.create(
            organization=org, package=package, kind="ean", value="4006381333931"
        )
    with violates("package_shop_kind_valid"), transaction.atomic():
        PackageShopMapping.objects.filter(package=package).update(kind="barcode")
    with violates("package_shop_key_unique"), transaction.atomic():
        PackageShopMapping.objects.create(organization=org, package=other, kind="sku", value="T-10")
    with violates("package_shop_key_unique"), transaction.atomic():
        PackageShopMapping.objects.create(
            organization=org, package=package, kind="sku", value="T-10"
        )
    # The same value as another kind, or in another organization's shop, is another key.
    PackageShopMapping.objects.create(organization=org, package=other, kind="product", value="T-10")
    PackageShopMapping.objects.create(
        organization=tenant_b.organization,
        package=make_package(tenant_b.organization),
        kind="sku",
        value="T-10",
    )
    assert PackageShopMapping.objects.count() == 3


@pytest.mark.django_db
def test_a_grant_or_package_covers_a_service_type_once(tenant_a) -> None:
    org = tenant_a.organization
    grant = make_grant(student=tenant_a.student, service_types=("Tutoring",))
    package = make_package(org, service_types=("Tutoring",))
    tutoring, advising = service_type(org), service_type(org, "Advising")
    with violates("grant_service_type_unique"), transaction.atomic():
        GrantServiceType.objects.create(organization=org, grant=grant, service_type=tutoring)
    with violates("package_service_type_unique"), transaction.atomic():
        PackageServiceType.objects.create(organization=org, package=package, service_type=tutoring)
    # Moving an existing link onto a type already covered is the same duplicate.
    GrantServiceType.objects.create(organization=org, grant=grant, service_type=advising)
    with violates("grant_service_type_unique"), transaction.atomic():
        GrantServiceType.objects.filter(grant=grant, service_type=advising).update(
            service_type=tutoring
        )
    PackageServiceType.objects.create(organization=org, package=package, service_type=advising)
    with violates("package_service_type_unique"), transaction.atomic():
        PackageServiceType.objects.filter(package=package, service_type=advising).update(
            service_type=tutoring
        )
    assert sorted(grant.service_types.values_list("name", flat=True)) == ["Advising", "Tutoring"]


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
    package_a, package_b = make_package(a.organization), make_package(b.organization)

    def allocation_of_b() -> Allocation:
        services.hold(actor=None, relationship=rel_b, quantity=30)
        return Allocation.objects.get(relationship=rel_b)

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
        "grant from a package of B": (
            "grant_package_same_org",
            lambda: Grant.objects.create(
                organization_id=org, student=a.student, package=package_b, unit="minutes"
            ),
        ),
        "grant covering link to a grant of B": (
            "grant_st_grant_same_org",
            lambda: GrantServiceType.objects.create(
                organization_id=org, grant=grant_b, service_type=service_type(a.organization)
            ),
        ),
        "package covering link to a package of B": (
            "package_st_package_same_org",
            lambda: PackageServiceType.objects.create(
                organization_id=org,
                package=package_b,
                service_type=service_type(a.organization, "Advising"),
            ),
        ),
        "package covering a service type of B": (
            "package_st_type_same_org",
            lambda: PackageServiceType.objects.create(
                organization_id=org,
                package=package_a,
                service_type=service_type(b.organization, "Advising"),
            ),
        ),
        "shop key selling a package of B": (
            "package_shop_same_org",
            lambda: PackageShopMapping.objects.create(
                organization_id=org, package=package_b, kind="sku", value="B-1"
            ),
        ),
        "entry of an allocation of B": (
            "entry_allocation_same_org",
            lambda: GrantEntry.objects.create(
                organization_id=org, grant=grant_a, allocation=allocation_of_b(), kind="adjust"
            ),
        ),
        "entry of a relationship of B": (
            "entry_relationship_same_org",
            lambda: GrantEntry.objects.create(
                organization_id=org, grant=grant_a, relationship=rel_b, kind="adjust"
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
    "grant from a package of B",
    "grant covering link to a grant of B",
    "grant covering a service type of B",
    "package covering link to a package of B",
    "package covering a service type of B",
    "shop key selling a package of B",
    "allocation of a grant of B",
    "allocation of a relationship of B",
    "entry of a grant of B",
    "entry of an allocation of B",
    "entry of a relationship of B",
    "entry of a session of B",
    "relationship with a provider of B",
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CROSS_TENANT_CASES)
def test_composite_tenant_keys_refuse_rows_pointing_into_another_org(two_tenants, case) -> None:
    constraint, write = cross_tenant_rows(*two_tenants)[case]
    with violates(constraint), transaction.atomic():
        write()  # accepted for now: the key is deferred…
        check_now(constraint)  # …and refused when checked, as at commit


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


# --- One student per allocation, one grant per entry and its allocation -----------------------


@pytest.fixture
def two_students(tenant_a):  # type: ignore[no-untyped-def]
    """The persona's relationship holding 60 of her grant, and a second student of the same
    organization with a grant and a relationship of his own (the tenant keys all agree)."""
    org = tenant_a.organization
    rel = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    grant = make_grant(student=tenant_a.student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=60)
    other = StudentFactory(organization=org)
    other_rel = RelationshipFactory(organization=org, student=other)
    other_grant = make_grant(student=other, minutes=300)
    return rel, grant, Allocation.objects.get(relationship=rel), other, other_rel, other_grant


@pytest.mark.django_db
def test_an_allocation_holds_a_grant_of_its_relationships_student(two_students) -> None:
    rel, grant, allocation, other, other_rel, other_grant = two_students
    org = grant.organization_id
    attempts = {
        "a hold on another student's grant": lambda: Allocation.objects.create(
            organization_id=org, relationship=rel, grant=other_grant
        ),
        "an allocation moved to another student's grant": lambda: Allocation.objects.filter(
            pk=allocation.pk
        ).update(grant=other_grant),
        "an allocation moved to another student's relationship": lambda: Allocation.objects.filter(
            pk=allocation.pk
        ).update(relationship=other_rel),
        "a held grant given to another student": lambda: Grant.objects.filter(pk=grant.pk).update(
            student=other
        ),
        "a holding relationship given to another student": lambda: Relationship.objects.filter(
            pk=rel.pk
        ).update(student=other),
    }
    for name, attempt in attempts.items():
        with violates("allocation_same_student"), transaction.atomic():
            attempt()  # deferred, like the tenant keys…
            check_now("allocation_same_student")  # …refused when checked, as at commit
        assert Allocation.objects.get().grant_id == grant.pk, name
    # A grant nobody holds may still move to another student; both sides agreeing is fine.
    Grant.objects.filter(pk=other_grant.pk).update(student=rel.student)
    Allocation.objects.create(organization_id=org, relationship=rel, grant=other_grant)
    connection.check_constraints()
    with violates("allocation_same_student"), transaction.atomic():
        Grant.objects.filter(pk=other_grant.pk).update(student=other)  # now it is held
        connection.check_constraints()


@pytest.mark.django_db(transaction=True)
def test_an_allocation_of_another_student_is_refused_at_commit(tenant_a) -> None:
    org = tenant_a.organization
    rel = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    other_grant = make_grant(student=StudentFactory(organization=org))
    with violates("allocation_same_student"), transaction.atomic():
        Allocation.objects.create(organization_id=org.pk, relationship=rel, grant=other_grant)
    assert not Allocation.objects.exists()


@pytest.mark.django_db
def test_an_entrys_allocation_is_one_of_its_grants(two_students) -> None:
    rel, grant, allocation, *_ = two_students
    second = make_grant(student=rel.student, minutes=120)
    org = grant.organization_id
    with violates("entry_allocation_same_grant"), transaction.atomic():
        GrantEntry.objects.create(
            organization_id=org, grant=second, allocation=allocation, kind="hold", held_delta=10
        )
        check_now("entry_allocation_same_grant")
    # Nor can the allocation move to another grant of the student under its entries.
    with violates("entry_allocation_same_grant"), transaction.atomic():
        Allocation.objects.filter(pk=allocation.pk).update(grant=second)
        check_now("entry_allocation_same_grant")
    assert list(
        GrantEntry.objects.filter(allocation=allocation).values_list("grant_id", flat=True)
    ) == [grant.pk]
    assert_reconciled()


@pytest.mark.django_db
def test_an_entrys_allocation_is_one_of_its_relationships(two_students) -> None:
    rel, grant, allocation, _, other_rel, _ = two_students
    second = RelationshipFactory(
        organization=grant.organization, student=rel.student, provider=other_rel.provider
    )
    org = grant.organization_id
    with violates("entry_allocation_same_relationship"), transaction.atomic():
        GrantEntry.objects.create(
            organization_id=org,
            grant=grant,
            allocation=allocation,
            relationship=second,
            kind="hold",
            held_delta=10,
        )
        check_now("entry_allocation_same_relationship")
    # Nor can the allocation move to another relationship under its entries.
    with violates("entry_allocation_same_relationship"), transaction.atomic():
        Allocation.objects.filter(pk=allocation.pk).update(relationship=second)
        check_now("entry_allocation_same_relationship")
    assert set(
        GrantEntry.objects.filter(allocation=allocation).values_list("relationship_id", flat=True)
    ) == {rel.pk}
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
@pytest.mark.usefixtures("unchecked_balances")
def test_reconcile_reports_a_raw_update_of_a_grant(ledger) -> None:
    grant = ledger[0]
    Grant.objects.filter(pk=grant.pk).update(used=F("used") + 10)

    out, error = reconcile_fails()

    assert out == f"grant {grant.pk}: used is 50, the ledger says 40\n"
    assert str(error) == "1 difference(s) between balances and ledger."


@pytest.mark.django_db
@pytest.mark.usefixtures("unchecked_balances")
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
@pytest.mark.usefixtures("unchecked_balances")
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
    with balance_checks_off():  # committed: the database itself would refuse it
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


@pytest.mark.django_db
@pytest.mark.usefixtures("unchecked_balances")
def test_reconcile_reports_a_status_the_ledger_does_not_explain(ledger) -> None:
    grant = ledger[0]
    # Expired without its expiry entry: the history would still count its 500 available.
    Grant.objects.filter(pk=grant.pk).update(status="expired")

    out, error = reconcile_fails()

    assert out == (
        f"grant {grant.pk}: usable balance (available while active) is 0, the ledger says 500\n"
    )
    assert str(error) == "1 difference(s) between balances and ledger."
    Grant.objects.filter(pk=grant.pk).update(status="active")
    services.grant_expire(actor=None, grant=grant)
    assert reconcile() == "Balances match the ledger.\n"


@pytest.mark.django_db
@pytest.mark.parametrize("scoped", [False, True])
def test_reconcile_is_one_statement_with_no_subquery_per_row(
    ledger, tenant_b, scoped, django_assert_num_queries
) -> None:
    for n in range(3):  # more rows must not mean more queries or more scans
        make_grant(student=tenant_b.student, minutes=60 + n)
    org_id = ledger[0].organization_id if scoped else None
    with django_assert_num_queries(1):
        assert find_differences(organization_id=org_id) == []

    sql, params = differences_query(organization_id=org_id)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]

    def nodes(node):  # type: ignore[no-untyped-def]
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    every = list(nodes(plan[0]["Plan"]))
    # No correlated subquery evaluated per grant or allocation…
    assert [n["Subplan Name"] for n in every if "SubPlan" in n.get("Subplan Name", "")] == []
    # …and the entries are read by two scans, one per GROUP BY (per grant, per allocation),
    # each once (loops = 1), whatever the number of rows.
    scans = [n for n in every if n.get("Relation Name") == "grants_grantentry"]
    assert len(scans) == 2
    assert [n["Actual Loops"] for n in scans] == [1, 1]
