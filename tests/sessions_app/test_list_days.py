"""The sessions list's From and Until are the center's days: a range of start times between
its midnights, so a late-evening session is on its local date, not its UTC one."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from matchpal.models import Organization
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def listed(client: Client, tenant: Tenant, **params: str) -> list[str]:
    response = client.get(f"/o/{tenant.organization.slug}/sessions/", params)
    return [s.notes for s in response.context["page"]]


def test_a_late_evening_session_is_on_the_centers_date(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    Organization.objects.filter(pk=tenant_a.organization.pk).update(time_zone="America/New_York")
    relationship = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    for notes, start in [
        ("9th, first minute", datetime(2025, 6, 9, 0, 0, tzinfo=NEW_YORK)),
        ("9th, late evening", datetime(2025, 6, 9, 23, 30, tzinfo=NEW_YORK)),  # the 10th in UTC
        ("10th, first minute", datetime(2025, 6, 10, 0, 0, tzinfo=NEW_YORK)),
        ("8th, last minute", datetime(2025, 6, 8, 23, 59, tzinfo=NEW_YORK)),
    ]:
        SessionFactory(relationship=relationship, starts_at=start, notes=notes)

    assert listed(admin_client_a, tenant_a, date_from="2025-06-09", date_to="2025-06-09") == [
        "9th, late evening",
        "9th, first minute",
    ]
    assert listed(admin_client_a, tenant_a, date_from="2025-06-10") == ["10th, first minute"]
    assert listed(admin_client_a, tenant_a, date_to="2025-06-08") == ["8th, last minute"]


def test_the_days_are_a_range_of_start_times_not_a_date_per_row(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    with CaptureQueriesContext(connection) as queries:
        listed(admin_client_a, tenant_a, date_from="2025-06-09", date_to="2025-06-30")
    sessions = [q["sql"] for q in queries.captured_queries if "sessions_app_session" in q["sql"]]
    assert sessions
    for sql in sessions:
        assert "AT TIME ZONE" not in sql
        assert '"sessions_app_session"."starts_at" >=' in sql
