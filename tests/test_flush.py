"""A transactional test ends with Django's flush, which the tests' PostgreSQL backend does by
deleting rows (tests/postgresql/base.py): every table is empty afterwards, the append-only
ledger too, and the content types and permissions are as `migrate` left them."""

import random
from datetime import time

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from grants.models import GrantEntry
from providers.models import AvailabilityVersion, AvailabilityWindow
from students.models import ChargedTotal
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.support import make_tenant, paired

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the tests' flush is PostgreSQL's"
)


@pytest.mark.django_db
def test_the_flush_deletes_rows_and_truncates_only_the_append_only_ledger() -> None:
    statements = connection.ops.sql_flush(
        no_style(), ["students_student", "grants_grantentry", "django_content_type"]
    )

    assert statements == [
        "SET CONSTRAINTS ALL DEFERRED;",
        # The ledger refuses TRUNCATE (grants 0010) but for the flush's own.
        "ALTER TABLE grants_grantentry DISABLE TRIGGER grants_entry_no_truncate;",
        'TRUNCATE "grants_grantentry";',
        "ALTER TABLE grants_grantentry ENABLE TRIGGER grants_entry_no_truncate;",
        'DELETE FROM "students_student";',
    ]


def leave_rows_whose_deletion_writes_others() -> None:
    """A tenant with a grant, a pairing holding hours of it, a charged session (its deletion
    writes the reports' roll-ups and the student's charged total) and weekly hours (whose
    deletion writes the hours' version, at commit)."""
    tenant = make_tenant("Alpha Tutoring", "alpha")
    make_grant(student=tenant.student)
    paired(tenant, quantity=60)  # hours held: the allocation and the balances' summaries
    relationship = RelationshipFactory(organization=tenant.organization, student=tenant.student)
    SessionFactory(relationship=relationship, charged_minutes=30)
    AvailabilityWindow.objects.create(
        organization=tenant.organization,
        provider=relationship.provider,
        weekday=0,
        start=time(9),
        end=time(11),
    )
    assert GrantEntry.objects.exists()
    assert ChargedTotal.objects.exists()
    assert AvailabilityVersion.objects.exists()


def rows_left() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model not in (ContentType, Permission) and model._default_manager.exists()
    }


@pytest.mark.django_db(transaction=True)
def test_a_flush_leaves_every_table_empty_but_content_types_and_permissions() -> None:
    kinds, permissions = ContentType.objects.count(), Permission.objects.count()
    leave_rows_whose_deletion_writes_others()

    call_command("flush", interactive=False, verbosity=0)

    assert rows_left() == {}
    assert (ContentType.objects.count(), Permission.objects.count()) == (kinds, permissions)
    assert kinds > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("order", ["sorted", "reversed", *(f"shuffled {n}" for n in range(6))])
def test_the_flush_empties_every_table_whatever_the_order_of_its_tables(order: str) -> None:
    """Django lists the tables to flush from a set: their order follows the strings' hashes and
    changes from one test process to the next. Whatever it is, the flush commits and leaves
    nothing, not even what the triggers of the rows it deletes write."""
    leave_rows_whose_deletion_writes_others()
    tables = sorted(connection.introspection.django_table_names(only_existing=True))
    if order == "reversed":
        tables.reverse()
    else:
        random.Random(order).shuffle(tables)

    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))

    assert rows_left() == {}
