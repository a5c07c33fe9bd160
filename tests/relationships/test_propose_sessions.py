"""Proposing in sessions through the page: the unit is chosen by the admin and reaches the
ledger, which holds whole sessions from the student's grants in sessions only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grants.models import Allocation
from relationships.models import Relationship
from sessions_app import services as session_services
from tests.support import Tenant, client_for, member, past_grant, service_type

pytestmark = pytest.mark.django_db


def _post(tenant: Tenant, amount: str, measure: str):  # type: ignore[no-untyped-def]
    org = tenant.organization
    admin = client_for(tenant.admin)
    url = f"/o/{org.slug}/relationships/new/"
    token = admin.get(url).context["form"]["token"].value()
    return admin.post(
        url,
        {
            "student": tenant.student.public_id,
            "provider": tenant.provider.public_id,
            "service_type": service_type(org).public_id,
            "amount": amount,
            "measure": measure,
            "client_rate": "60",
            "token": token,
        },
    )


def test_proposing_in_sessions_holds_whole_sessions_from_session_grants_only(
    tenant_a: Tenant,
) -> None:
    minutes = past_grant(tenant_a.student, 600)
    sessions = past_grant(tenant_a.student, 5, unit="sessions")
    r = _post(tenant_a, "3", "sessions")
    assert r.status_code == 302, r.context["form"].errors
    rel = Relationship.objects.get(student=tenant_a.student)
    assert rel.unit == "sessions"
    assert [(a.grant_id, a.held) for a in Allocation.objects.filter(relationship=rel)] == [
        (sessions.pk, 3)
    ]
    minutes.refresh_from_db()
    sessions.refresh_from_db()
    assert (minutes.held, sessions.held) == (0, 3)


def test_proposing_in_sessions_without_session_grants_is_a_field_error(
    tenant_a: Tenant,
) -> None:
    past_grant(tenant_a.student, 600)
    r = _post(tenant_a, "2", "sessions")
    assert r.status_code == 200
    errors = r.context["form"].errors
    assert errors["measure"] == [
        f"{tenant_a.student.name} has no grant in sessions for Tutoring; "
        "propose in hours or minutes, or grant sessions first."
    ]
    assert not Relationship.objects.exists()


def test_proposing_more_sessions_than_granted_is_a_field_error(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    past_grant(tenant_a.student, 2, unit="sessions")
    r = _post(tenant_a, "3", "sessions")
    assert r.status_code == 200
    assert r.context["form"].errors["amount"] == [
        "Only 2 sessions are free to book for this service; reserving 3 sessions needs "
        "1 session more."
    ]
    assert not Relationship.objects.exists()


def test_a_completed_session_consumes_one_and_cancelling_it_restores_one(
    tenant_a: Tenant,
) -> None:
    grant = past_grant(tenant_a.student, 5, unit="sessions")
    assert _post(tenant_a, "3", "sessions").status_code == 302
    rel = Relationship.objects.get(student=tenant_a.student)
    provider = client_for(tenant_a.provider_user)
    org = tenant_a.organization
    assert provider.post(f"/o/{org.slug}/relationships/{rel.public_id}/accept/").status_code == 302
    Relationship.objects.filter(pk=rel.pk).update(paired_at=timezone.now() - timedelta(days=1))
    start = timezone.localtime(timezone.now() - timedelta(hours=3), org.tz)
    r = provider.post(
        f"/o/{org.slug}/relationships/{rel.public_id}/log/",
        {
            "date": start.date().isoformat(),
            "time": start.strftime("%H:%M"),
            "duration": "90",
            "kind": "tutoring",
            "mode": "Online",
            "notes": "Fractions",
        },
    )
    assert r.status_code == 302, r.context and r.context["form"].errors
    grant.refresh_from_db()
    assert (grant.used, grant.held) == (1, 2)
    session = rel.sessions.get()
    session_services.session_cancel(
        membership=member(tenant_a.admin), session=session, reason="Wrong day"
    )
    grant.refresh_from_db()
    assert (grant.used, grant.held) == (0, 3)


def test_the_allocation_page_of_a_pairing_in_sessions_asks_for_sessions_only(
    tenant_a: Tenant,
) -> None:
    grant = past_grant(tenant_a.student, 10, unit="sessions")
    assert _post(tenant_a, "4", "sessions").status_code == 302
    rel = Relationship.objects.get(student=tenant_a.student)
    admin = client_for(tenant_a.admin)
    page = f"/o/{tenant_a.organization.slug}/relationships/{rel.public_id}/allocation/"
    form = admin.get(page).context["form"]
    assert list(form.fields) == ["amount", "reason"]
    assert form.fields["amount"].label == "New allocation (sessions)"
    response = admin.post(page, {"amount": "6", "reason": "Exams"})
    assert response.status_code == 302, response.context["form"].errors
    grant.refresh_from_db()
    assert (grant.used, grant.held) == (0, 6)


def test_proposing_in_hours_to_a_student_with_only_session_grants_says_so(
    tenant_a: Tenant,
) -> None:
    past_grant(tenant_a.student, 5, unit="sessions")
    r = _post(tenant_a, "2", "hours")
    assert r.status_code == 200
    assert r.context["form"].errors["measure"] == [
        f"{tenant_a.student.name}'s grants for Tutoring are in sessions; propose in sessions."
    ]
    assert not Relationship.objects.exists()
