"""A provider's sessions list reads their sessions by the session's own provider
(`session_org_provider_starts`), and they are the sessions a provider may see: theirs, none of
another provider's nor of another organization's (docs/indexes.md)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from matchpal.models import Membership
from sessions_app import selectors
from sessions_app.models import Session
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant, other_provider

pytestmark = pytest.mark.django_db


def sessions_of(tenant: Tenant, provider: object, count: int) -> list[Session]:
    relationship = RelationshipFactory(
        organization=tenant.organization, student=tenant.student, provider=provider
    )
    now = timezone.now()
    return [
        SessionFactory(relationship=relationship, starts_at=now - timedelta(days=day))
        for day in range(count)
    ]


def test_the_provider_sees_their_own_sessions_newest_first(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    mine = sessions_of(tenant_a, tenant_a.provider, 3)
    _, someone = other_provider(tenant_a)
    sessions_of(tenant_a, someone, 2)
    sessions_of(tenant_b, tenant_b.provider, 2)
    membership = Membership.objects.get(
        user=tenant_a.provider_user, organization=tenant_a.organization
    )
    rows = list(selectors.session_rows(organization=tenant_a.organization, membership=membership))
    assert [s.pk for s in rows] == [s.pk for s in mine]
    theirs = selectors.session_list(organization=tenant_a.organization, membership=membership)
    assert {s.pk for s in rows} == {s.pk for s in theirs}


def test_a_provider_without_a_record_sees_nothing(tenant_a: Tenant) -> None:
    sessions_of(tenant_a, tenant_a.provider, 1)
    tenant_a.provider.user = None
    tenant_a.provider.save(update_fields=["user"])
    membership = Membership.objects.get(
        user=tenant_a.provider_user, organization=tenant_a.organization
    )
    assert not selectors.session_rows(organization=tenant_a.organization, membership=membership)


def test_the_provider_home_lists_are_those_of_the_sessions_they_see(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """`to_log`, `requests_query` and `coming_up_query` read a provider's sessions by their own
    provider column (`home_sessions`): the same rows as filtering what `visible_to` shows."""
    now = timezone.now()
    statuses = ("scheduled", "pending", "completed", "scheduled", "pending", "cancelled")
    for tenant, provider in (
        (tenant_a, tenant_a.provider),
        (tenant_a, other_provider(tenant_a)[1]),
        (tenant_b, tenant_b.provider),
    ):
        pairing = RelationshipFactory(
            organization=tenant.organization,
            student=tenant.student,
            provider=provider,
            status="paired",
        )
        for day, status in enumerate(statuses, start=-3):
            SessionFactory(
                relationship=pairing, starts_at=now + timedelta(days=day, hours=1), status=status
            )
    org = tenant_a.organization
    membership = Membership.objects.get(user=tenant_a.provider_user, organization=org)
    seen = selectors.session_list(organization=org, membership=membership)
    mine = {
        "to log": selectors.to_log(organization=org, membership=membership, now=now),
        "requests": selectors.requests_query(organization=org, membership=membership),
        "coming up": selectors.coming_up_query(organization=org, membership=membership, now=now),
    }
    expected = {
        "to log": seen.filter(selectors.due_to_log(now)).order_by("starts_at"),
        "requests": seen.filter(status="pending").order_by("starts_at", "id"),
        "coming up": seen.filter(status="scheduled", starts_at__gt=now).order_by("starts_at", "id"),
    }
    for name, rows in mine.items():
        assert [s.pk for s in rows] == [s.pk for s in expected[name]], name
        assert rows, name
    shown = selectors.coming_up(organization=org, membership=membership)
    assert all(s.relationship.organization is org for s in shown)
