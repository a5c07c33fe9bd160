"""A transactional test ends with Django's flush, which the tests' PostgreSQL backend does by
deleting rows (tests/postgresql/base.py): every table is empty afterwards, the append-only
ledger too, and the content types and permissions are as `migrate` left them."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from grants.models import GrantEntry
from tests.factories import make_grant
from tests.support import make_tenant

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
        # The ledger's TRUNCATE guards (grants 0010), off only around the flush's TRUNCATE.
        "ALTER TABLE grants_grant DISABLE TRIGGER grants_grant_no_truncate;",
        "ALTER TABLE grants_grantentry DISABLE TRIGGER grants_entry_no_truncate;",
        'TRUNCATE "grants_grantentry";',
        "ALTER TABLE grants_grant ENABLE TRIGGER grants_grant_no_truncate;",
        "ALTER TABLE grants_grantentry ENABLE TRIGGER grants_entry_no_truncate;",
        'DELETE FROM "students_student";',
    ]


@pytest.mark.django_db(transaction=True)
def test_a_flush_leaves_every_table_empty_but_content_types_and_permissions() -> None:
    kinds, permissions = ContentType.objects.count(), Permission.objects.count()
    tenant = make_tenant("Alpha Tutoring", "alpha")
    make_grant(student=tenant.student)
    assert GrantEntry.objects.exists()

    call_command("flush", interactive=False, verbosity=0)

    left = {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model not in (ContentType, Permission) and model._default_manager.exists()
    }
    assert left == {}
    assert (ContentType.objects.count(), Permission.objects.count()) == (kinds, permissions)
    assert kinds > 0
