"""The "Log a session" picker's search box reads any text a person can type or paste."""

import pytest
from django.db import connection
from django.test import Client

from matchpal.models import Membership
from relationships.models import Relationship
from relationships.selectors import visible_to
from sessions_app.selectors import (
    PICK_ROWS,
    paired_to_log,
    relationships_to_log,
    students_to_log,
)
from tests.factories import ProviderFactory, RelationshipFactory, StudentFactory
from tests.support import Tenant, member

pytestmark = pytest.mark.django_db


def test_a_nul_byte_in_the_search_is_dropped_not_a_server_error(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    admin_client_a.raise_request_exception = False
    new = f"/o/{tenant_a.organization.slug}/sessions/new/"

    response = admin_client_a.get(new, {"q": "nob\x00ody"})

    assert response.status_code == 200
    assert response.context["q"] == "nobody"
    assert response.context["rows"] == []


def _pair(tenant: Tenant, student: str, provider: str, status: str = "paired") -> Relationship:
    org = tenant.organization
    return RelationshipFactory(
        organization=org,
        student=StudentFactory(organization=org, name=student),
        provider=ProviderFactory(organization=org, name=provider),
        status=status,
    )


def _in_center_order(tenant: Tenant, membership: Membership) -> list[int]:
    """The first PICK_ROWS + 1 of every paired relationship the member sees, sorted whole."""
    return list(
        Relationship.objects.filter(
            visible_to(membership), organization=tenant.organization, status="paired"
        )
        .order_by("student__name", "provider__name", "id")
        .values_list("pk", flat=True)[: PICK_ROWS + 1]
    )


def test_the_choices_are_the_centers_first_by_name_even_with_names_tied_at_the_bound(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The rows are bounded by the (PICK_ROWS + 1)th student with a pairing; students sharing
    that one's name are all kept, so a later student of the same name whose provider sorts
    first still comes first, and a student with only a proposal does not count."""
    _pair(tenant_a, "Aaaa proposed only", "Any provider", status="proposed")
    for n in range(PICK_ROWS - 1):
        _pair(tenant_a, f"Aaab {n:02}", f"Provider {n:02}")
    # The 20th, 21st and 22nd students with a pairing share a name.
    tied = [_pair(tenant_a, "Aaac Same", name) for name in ("Zed", "Amy", "Aaron")]
    _pair(tenant_b, "Aaaa other center", "Provider")
    admin = member(tenant_a.admin)

    rows = relationships_to_log(organization=tenant_a.organization, membership=admin)

    assert [r.pk for r in rows] == _in_center_order(tenant_a, admin)
    assert [r.pk for r in rows[PICK_ROWS - 1 :]] == [tied[2].pk, tied[1].pk]
    assert {r.organization_id for r in rows} == {tenant_a.organization.pk}


def test_a_providers_choices_and_a_search_keep_the_same_order(tenant_a: Tenant) -> None:
    for n in range(PICK_ROWS + 3):
        _pair(tenant_a, f"Aaab {n:02}", f"Provider {n:02}")
    mine = RelationshipFactory(
        organization=tenant_a.organization,
        student=StudentFactory(organization=tenant_a.organization, name="Aaab 05"),
        provider=tenant_a.provider,
    )
    provider = member(tenant_a.provider_user)
    admin = member(tenant_a.admin)

    theirs = relationships_to_log(organization=tenant_a.organization, membership=provider)
    found = relationships_to_log(organization=tenant_a.organization, membership=admin, query="05")

    assert mine in theirs
    assert [r.pk for r in theirs] == _in_center_order(tenant_a, provider)
    assert {(r.student.name, r.provider.name) for r in found} == {
        ("Aaab 05", "Provider 05"),
        ("Aaab 05", tenant_a.provider.name),
    }


def test_the_students_can_be_walked_in_name_order_through_an_index(tenant_a: Tenant) -> None:
    """At a few rows the planner sorts them (cheaper); told not to sort, it needs an index in
    the students' (organization, name, id) order, which the large center's plan walks
    (docs/indexes.md)."""
    admin = member(tenant_a.admin)
    students = students_to_log(
        organization=tenant_a.organization,
        paired=paired_to_log(organization=tenant_a.organization, membership=admin),
    )[PICK_ROWS : PICK_ROWS + 1]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        plan = students.explain()
        cursor.execute("RESET enable_sort")

    assert "student_org_name" in plan
    assert "Sort" not in plan
