"""A student's and a provider's page lead an admin to that person's relationships and
sessions: the lists, filtered to them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant, client_for

pytestmark = pytest.mark.django_db


def test_a_student_and_a_provider_page_lead_to_their_relationships_and_sessions(
    tenant_a: Tenant,
) -> None:
    """The tabs on a student's and a provider's page open the lists filtered to that person."""
    org, admin = tenant_a.organization, client_for(tenant_a.admin)
    mine = RelationshipFactory(organization=org, student=tenant_a.student)
    SessionFactory(relationship=mine, starts_at=timezone.now() - timedelta(hours=2))
    RelationshipFactory(organization=org)  # someone else's
    for person, detail, key in (
        (tenant_a.student, "students:detail", "student"),
        (mine.provider, "providers:detail", "provider"),
    ):
        html = admin.get(reverse(detail, args=[org.slug, person.public_id])).content.decode()
        for listing in ("relationships:list", "sessions_app:list"):
            url = f"{reverse(listing, args=[org.slug])}?{key}={person.public_id}"
            assert f'href="{url}"' in html
            page = admin.get(url).context["page"]
            assert [getattr(row, "relationship", row).pk for row in page] == [mine.pk]
