"""A select of a few model objects (the service types of the list filters) reads its options in
one plain query, not through Django's server-side cursor (DECLARE, FETCH, CLOSE: three round
trips on every list page; docs/performance.md, "Per-request cost")."""

import pytest
from django.db import connection

from matchpal.fields import ListedChoiceField
from matchpal.models import ServiceType
from tests.support import Tenant, service_type

pytestmark = pytest.mark.django_db


def open_cursors() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        return int(cursor.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side cursors")
def test_the_options_are_read_without_a_server_side_cursor(tenant_a: Tenant) -> None:
    service_type(tenant_a.organization, "Advising")
    field = ListedChoiceField(
        queryset=ServiceType.objects.filter(organization=tenant_a.organization),
        to_field_name="public_id",
        empty_label="Any service",
    )
    choices = iter(field.choices)
    assert next(choices)[1] == "Any service"
    next(choices)  # the first object is read: with Django's iterator a cursor is open now
    assert open_cursors() == 0
    assert (
        len(list(choices))
        == ServiceType.objects.filter(organization=tenant_a.organization).count() - 1
    )


def test_the_options_are_the_organizations_in_one_query(
    tenant_a: Tenant, tenant_b: Tenant, django_assert_num_queries
) -> None:
    mine = service_type(tenant_a.organization, "Advising")
    ServiceType.objects.create(organization=tenant_b.organization, name="Chess")
    field = ListedChoiceField(
        queryset=ServiceType.objects.filter(organization=tenant_a.organization),
        to_field_name="public_id",
    )
    with django_assert_num_queries(1):
        labels = [label for _, label in field.choices]
    assert "Advising" in labels
    assert "Chess" not in labels
    assert str(mine.public_id) in [str(value) for value, _ in field.choices]
