"""`membership_for`, the one query of every tenant request: the membership comes with its
organization and the request's own user, so the services that take it as the actor read both
without another query (docs/performance.md, "Per-request cost")."""

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils.functional import SimpleLazyObject

from matchpal import tenancy
from matchpal.models import Notification, User
from matchpal.tenancy import membership_for
from tests.factories import UserFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db


def test_the_membership_holds_the_organization_and_the_very_user(
    tenant_a: Tenant,
    django_assert_num_queries,
) -> None:
    user = User.objects.get(pk=tenant_a.provider_user.pk)
    with django_assert_num_queries(1):
        membership = membership_for(user=user, org_slug=tenant_a.organization.slug)
        assert membership is not None
        assert membership.organization == tenant_a.organization
        assert membership.user is user
        assert membership.role == "provider"


def test_a_lazy_request_user_is_handed_on_as_the_user_itself(tenant_a: Tenant) -> None:
    user = User.objects.get(pk=tenant_a.admin.pk)
    lazy = SimpleLazyObject(lambda: user)
    membership = membership_for(user=lazy, org_slug=tenant_a.organization.slug)
    assert membership is not None
    assert type(membership.user) is User
    assert membership.user is user


def test_no_membership_of_another_organization_or_for_a_stranger(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    assert membership_for(user=tenant_a.admin, org_slug=tenant_b.organization.slug) is None
    assert membership_for(user=UserFactory(), org_slug=tenant_a.organization.slug) is None
    assert membership_for(user=tenant_a.admin, org_slug="no-such-organization") is None


def test_the_lookup_is_unordered_despite_the_models_default_ordering(tenant_a: Tenant) -> None:
    with CaptureQueriesContext(connection) as queries:
        membership_for(user=tenant_a.admin, org_slug=tenant_a.organization.slug)
    assert len(queries) == 1
    assert "ORDER BY" not in queries[0]["sql"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statement")
def test_the_statement_built_once_reads_what_the_orm_query_reads(tenant_a: Tenant) -> None:
    for text in ("one", "two"):
        Notification.objects.create(
            organization=tenant_a.organization, user=tenant_a.admin, text=text
        )
    slug = tenant_a.organization.slug
    built = tenancy._membership_prebuilt(user_id=tenant_a.admin.pk, org_slug=slug)
    (orm,) = tenancy._membership_query(user_id=tenant_a.admin.pk, org_slug=slug)
    assert built is not None
    assert values(built) == values(orm)
    assert values(built.organization) == values(orm.organization)
    assert built.unread_notices == orm.unread_notices == 2
    assert not built._state.adding
    assert not built.organization._state.adding
    assert tenancy._membership_prebuilt(user_id=tenant_a.admin.pk, org_slug="nope") is None


def values(instance: Model) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
