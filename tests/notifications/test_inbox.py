"""The inbox: the bell's unread count on every role's pages, newest first, opening a notice marks
it read and leads to its page, and "mark all read"."""

import pytest

from matchpal.models import Notification
from matchpal.tenancy import UNREAD_CAP
from tests.support import Tenant, client_for


def notice(tenant: Tenant, user, text: str = "A notice", link: str = "") -> Notification:  # type: ignore[no-untyped-def]
    return Notification.objects.create(
        organization=tenant.organization,
        user=user,
        kind="hours_low",
        text=text,
        link=link or f"/o/{tenant.organization.slug}/",
    )


@pytest.mark.parametrize("role", ["admin", "provider_user", "student_user"])
def test_every_role_sees_the_bell_with_its_own_unread_count(role: str, tenant_a: Tenant) -> None:
    user = getattr(tenant_a, role)
    for i in range(3):
        notice(tenant_a, user, f"Notice {i}")
    notice(tenant_a, tenant_a.admin if role != "admin" else tenant_a.student_user)

    html = client_for(user).get(f"/o/{tenant_a.organization.slug}/").content.decode()

    assert f'href="/o/{tenant_a.organization.slug}/inbox/"' in html
    assert '<span class="badge rounded-pill text-bg-danger">3</span>' in html


def test_past_the_cap_the_bell_says_99_plus(tenant_a: Tenant) -> None:
    Notification.objects.bulk_create(
        Notification(organization=tenant_a.organization, user=tenant_a.admin, text=str(i))
        for i in range(UNREAD_CAP + 5)
    )

    html = client_for(tenant_a.admin).get(f"/o/{tenant_a.organization.slug}/").content.decode()

    assert '<span class="badge rounded-pill text-bg-danger">99+</span>' in html


def test_the_inbox_lists_newest_first_and_opening_marks_read_and_follows_the_link(
    tenant_a: Tenant,
) -> None:
    org = tenant_a.organization
    older = notice(tenant_a, tenant_a.student_user, "Older")
    newer = notice(tenant_a, tenant_a.student_user, "Newer", link=f"/o/{org.slug}/my/hours/")
    client = client_for(tenant_a.student_user)

    page = client.get(f"/o/{org.slug}/inbox/")
    assert [n.text for n in page.context["page"]] == ["Newer", "Older"]

    response = client.post(f"/o/{org.slug}/inbox/{newer.public_id}/open/")

    assert response["Location"] == f"/o/{org.slug}/my/hours/"
    newer.refresh_from_db()
    older.refresh_from_db()
    assert newer.read_at is not None
    assert older.read_at is None


def test_a_link_off_the_site_opens_the_inbox_instead(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    odd = notice(tenant_a, tenant_a.student_user, link="https://elsewhere.example/")

    response = client_for(tenant_a.student_user).post(f"/o/{org.slug}/inbox/{odd.public_id}/open/")

    assert response["Location"] == f"/o/{org.slug}/inbox/"


def test_mark_all_read_reads_only_ones_own(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    mine = [notice(tenant_a, tenant_a.provider_user) for _ in range(2)]
    theirs = notice(tenant_a, tenant_a.admin)

    client_for(tenant_a.provider_user).post(f"/o/{org.slug}/inbox/read-all/")

    assert all(Notification.objects.get(pk=n.pk).read_at is not None for n in mine)
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_preferences_offer_the_kinds_of_ones_role(tenant_a: Tenant) -> None:
    org = tenant_a.organization

    student_form = client_for(tenant_a.student_user).get(
        f"/o/{org.slug}/notifications/preferences/"
    )
    provider_form = client_for(tenant_a.provider_user).get(
        f"/o/{org.slug}/notifications/preferences/"
    )

    assert "hours_granted" in student_form.context["form"].fields
    assert "order_error" not in student_form.context["form"].fields
    assert "session_reminder" in provider_form.context["form"].fields
    assert "hours_granted" not in provider_form.context["form"].fields
