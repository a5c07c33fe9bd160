"""The sessions list reads its page of rows joined to the relationship's student, provider and
service type only: the organization, which the rows' action buttons read, is the request's own
row (docs/performance.md, "Per-request cost")."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from matchpal import prebuilt
from sessions_app.models import SessionStatus
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db


def test_the_page_joins_four_tables_and_shows_each_rows_actions(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    relationship = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    ahead = SessionFactory(
        relationship=relationship,
        starts_at=timezone.now() + timedelta(days=2),
        status=SessionStatus.SCHEDULED,
    )
    with CaptureQueriesContext(connection) as queries:
        response = admin_client_a.get(f"/o/{tenant_a.organization.slug}/sessions/")
    assert response.status_code == 200
    sent = [prebuilt.expand(q["sql"]) for q in queries]  # prepared statements as their text
    rows = [sql for sql in sent if 'FROM "sessions_app_session"' in sql]
    page = rows[-1]
    assert page.count(" JOIN ") == 4  # relationship, student, provider, service type
    assert '"matchpal_organization"' not in page
    shown = response.context["page"].object_list
    assert [s.pk for s in shown] == [ahead.pk]
    assert shown[0].relationship.organization is response.wsgi_request.organization
    assert f"/sessions/{ahead.public_id}/cancel/" in response.content.decode()
