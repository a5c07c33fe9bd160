"""The session page names who logged the session, wrote its internal note, sent its report and
resolved its dispute, read in one query of the users: the session's own lookup joins none of
them (ten joined tables cost PostgreSQL 6-14 ms of planning a request, docs/performance.md)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_app import selectors
from sessions_app.models import Session
from tests.support import Tenant, client_for, log, member, paired, past_grant, second_admin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def _logged(tenant: Tenant) -> Session:
    past_grant(tenant.student)
    return log(tenant, paired(tenant))


def _page(tenant: Tenant, session: Session) -> tuple[str, int]:
    client = client_for(tenant.admin)
    url = f"/o/{tenant.organization.slug}/sessions/{session.public_id}/"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def test_the_page_names_each_person_from_one_query_of_the_users(tenant_a: Tenant) -> None:
    tenant_a.admin.name, tenant_a.provider_user.name = "Ada Admin", "Pat Provider"
    tenant_a.admin.save(update_fields=["name"])
    tenant_a.provider_user.save(update_fields=["name"])
    resolver = second_admin(tenant_a)
    resolver.name = "Rae Resolver"
    resolver.save(update_fields=["name"])
    session = _logged(tenant_a)
    Session.objects.filter(pk=session.pk).update(
        internal_note="Brought the wrong book.",
        internal_note_author=tenant_a.admin,
        report_sent_at=timezone.now(),
        report_sent_by=tenant_a.provider_user,
        disputed_at=timezone.now(),
        dispute_reason="Too short",
        dispute_resolved_at=timezone.now(),
        dispute_resolved_by=resolver,
        dispute_resolution="kept",
    )

    html, count = _page(tenant_a, session)

    assert 'Logged by</dt><dd class="col-sm-9">Pat Provider on' in html
    assert "— Ada Admin</span>" in html
    assert " by Pat Provider" in html
    assert ", Rae Resolver)" in html
    # The request's 1 (the user with its membership), the session, its people (1), its
    # history, its messages and its check-in answers.
    assert count == 6


def test_a_session_nobody_logged_reads_no_users(tenant_a: Tenant) -> None:
    session = _logged(tenant_a)
    Session.objects.filter(pk=session.pk).update(logged_by=None)

    html, count = _page(tenant_a, session)

    assert "Logged by" not in html
    assert count == 5


def test_the_lookup_joins_the_relationship_and_its_people_only(tenant_a: Tenant) -> None:
    session = _logged(tenant_a)
    admin = member(tenant_a.admin, tenant_a.organization)
    with CaptureQueriesContext(connection) as queries:
        found = selectors.session_get(
            organization=tenant_a.organization, membership=admin, public_id=session.public_id
        )
    (query,) = queries.captured_queries
    assert query["sql"].count(" JOIN ") == 4  # relationship, student, provider, service type
    assert found.relationship.organization is tenant_a.organization
    assert found.organization is tenant_a.organization
