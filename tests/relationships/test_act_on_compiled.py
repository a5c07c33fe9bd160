"""`relationship_to_act_on` (the log form's lookup) runs a statement compiled once per role:
the same relationship as the ORM's query for every role that may see it, the same 404 for one
who may not, and another organization's relationship is never found."""

from typing import Any

import pytest
from django.http import Http404

from relationships.models import Relationship
from relationships.selectors import _to_act_on, _to_act_on_query, relationship_to_act_on
from tests.factories import ProviderFactory, RelationshipFactory, UserFactory
from tests.support import Tenant, member

pytestmark = pytest.mark.django_db


def test_each_role_finds_what_the_orm_finds(
    tenant_a: Tenant, tenant_b: Tenant, django_assert_num_queries: Any
) -> None:
    org = tenant_a.organization
    own = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    other_provider = ProviderFactory(organization=org, user=UserFactory())
    others = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=other_provider
    )
    for user in (tenant_a.admin, tenant_a.provider_user, tenant_a.student_user):
        membership = member(user, org)
        for relationship in (own, others):
            expected = list(
                _to_act_on_query(membership.role, org.pk, relationship.public_id, user.pk)
            )
            if expected:
                found = relationship_to_act_on(
                    organization=org, membership=membership, public_id=relationship.public_id
                )
                assert found == expected[0] == relationship
                # select_related as the ORM's: no query to read the people and the service.
                with django_assert_num_queries(0):
                    names = (found.provider.name, found.student.name, found.service_type.name)
                assert names == (
                    relationship.provider.name,
                    relationship.student.name,
                    relationship.service_type.name,
                )
            else:
                with pytest.raises(Http404):
                    relationship_to_act_on(
                        organization=org, membership=membership, public_id=relationship.public_id
                    )
    provider = member(tenant_a.provider_user, org)
    with pytest.raises(Http404):  # another provider's pairing is not theirs to know about
        relationship_to_act_on(organization=org, membership=provider, public_id=others.public_id)
    admin_b = member(tenant_b.admin, tenant_b.organization)
    with pytest.raises(Http404):  # nor another center's
        relationship_to_act_on(
            organization=tenant_b.organization, membership=admin_b, public_id=own.public_id
        )


def test_the_statements_are_the_orms(tenant_a: Tenant) -> None:
    """Compiled from the ORM's own query: the admin's names no user, the others' do."""
    assert _to_act_on["admin"].sql().count("%s") == 2  # the organization, the public id
    assert _to_act_on["provider"].sql().count("%s") == 3  # and the user
    assert _to_act_on["student"].sql().count("%s") == 3
    assert Relationship.objects.count() == 0
