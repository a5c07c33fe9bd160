from datetime import timedelta

import pytest
from django.utils import timezone

from grants.reconcile import find_differences
from matchpal.models import ServiceType
from relationships import services as rel_services
from sessions_app import services
from tests.factories import make_grant
from tests.support import Tenant, client_for, member


@pytest.mark.django_db
def test_propose_accept_log_pages(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    org = tenant_a.organization
    grant = make_grant(
        student=tenant_a.student, minutes=600, valid_from=timezone.now() - timedelta(days=2)
    )
    tutoring = ServiceType.objects.get(organization=org, name="Tutoring")
    admin = client_for(tenant_a.admin)
    r = admin.get(f"/o/{org.slug}/relationships/new/")
    token = r.context["form"]["token"].value()
    with django_capture_on_commit_callbacks(execute=True):
        r = admin.post(
            f"/o/{org.slug}/relationships/new/",
            {
                "student": tenant_a.student.public_id,
                "provider": tenant_a.provider.public_id,
                "service_type": tutoring.public_id,
                "amount": "5",
                "measure": "hours",
                "client_rate": "60",
                "token": token,
            },
        )
    assert r.status_code == 302, r.context["form"].errors
    rel = tenant_a.student.relationships.get()
    # The provider, the student and the guardian, each their own email.
    assert len(mailoutbox) == 3
    provider = client_for(tenant_a.provider_user)
    home = provider.get(f"/o/{org.slug}/")
    assert [p.pk for p in home.context["proposals"]] == [rel.pk]
    assert provider.post(f"/o/{org.slug}/relationships/{rel.public_id}/accept/").status_code == 302
    rel.refresh_from_db()
    assert rel.status == "paired"
    type(rel).objects.filter(pk=rel.pk).update(paired_at=timezone.now() - timedelta(days=1))
    start = timezone.localtime(timezone.now() - timedelta(hours=2), org.tz)
    r = provider.post(
        f"/o/{org.slug}/relationships/{rel.public_id}/log/",
        {
            "date": start.date().isoformat(),
            "time": start.strftime("%H:%M"),
            "duration": "90",
            "kind": "tutoring",
            "mode": "Online",
            "notes": "Quadratics",
        },
    )
    assert r.status_code == 302, r.context["form"].errors
    grant.refresh_from_db()
    assert (grant.used, grant.held) == (90, 210)
    for url in [
        f"/o/{org.slug}/",
        f"/o/{org.slug}/relationships/",
        f"/o/{org.slug}/sessions/",
        f"/o/{org.slug}/relationships/{rel.public_id}/",
    ]:
        assert provider.get(url).status_code == 200, url
        assert admin.get(url).status_code == 200, url
    student = client_for(tenant_a.student_user)
    page = student.get(f"/o/{org.slug}/")
    assert page.status_code == 200
    assert [s.running for s in page.context["sessions"]] == [90]
    session = rel.sessions.get()
    with pytest.raises(services.SessionRuleError):
        services.session_log(
            membership=member(tenant_a.provider_user),
            relationship=rel,
            starts_at=session.starts_at,
            duration=60,
        )
    services.session_edit(membership=member(tenant_a.admin), session=session, duration=60)
    grant.refresh_from_db()
    assert (grant.used, grant.held) == (60, 240)
    services.session_cancel(membership=member(tenant_a.admin), session=session, reason="Sick")
    grant.refresh_from_db()
    assert (grant.used, grant.held) == (0, 300)
    rel_services.relationship_complete(membership=member(tenant_a.admin), relationship=rel)
    grant.refresh_from_db()
    assert (grant.used, grant.held) == (0, 0)
    assert find_differences() == []
