"""The members page: roles, removals and invitations of an organization."""

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from matchpal import services
from matchpal.models import Invitation, Membership, Role
from tests.conftest import Tenant, client_for
from tests.factories import MembershipFactory
from tests.matchpal.tenancy.support import ALREADY_DONE, LAST_ADMIN, invite, messages_of


@pytest.mark.django_db
class TestMembersPage:
    def test_lists_members_and_pending_invitations(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        pending = invite(tenant_a.organization, tenant_a.admin, "pending@example.com")
        revoked = invite(tenant_a.organization, tenant_a.admin, "gone@example.com")
        services.invitation_revoke(actor=tenant_a.admin, invitation=revoked)
        expired = invite(tenant_a.organization, tenant_a.admin, "old@example.com")
        Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())

        response = admin_client_a.get("/o/alpha/members/")

        assert response.status_code == 200
        assert [m.user.email for m in response.context["members"]] == [
            "admin@alpha.example",
            "provider@alpha.example",
            "student@alpha.example",
        ]
        assert list(response.context["invitations"]) == [pending]
        html = response.content.decode()
        assert "pending@example.com" in html
        assert "gone@example.com" not in html
        assert "old@example.com" not in html

    def test_members_and_invitations_are_paged_each_by_its_own_parameter(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
        settings,  # type: ignore[no-untyped-def]
    ) -> None:
        settings.MATCHPAL_PAGE_SIZE = 2
        for email in ("pending1@example.com", "pending2@example.com", "pending3@example.com"):
            invite(tenant_a.organization, tenant_a.admin, email)

        response = admin_client_a.get("/o/alpha/members/?page=2&invitations_page=2")

        # Members by role then email; invitations newest first.
        assert [m.user.email for m in response.context["members"]] == ["student@alpha.example"]
        assert [i.email for i in response.context["invitations"]] == ["pending1@example.com"]
        html = response.content.decode()
        # Going back on one list keeps the other list's page.
        assert 'href="?page=1&amp;invitations_page=2"' in html
        assert 'href="?page=2&amp;invitations_page=1"' in html
        assert html.count("Page 2 of 2") == 2

    def test_invite_sends_the_email_and_lists_the_invitation(  # type: ignore[no-untyped-def]
        self, admin_client_a, tenant_a: Tenant, django_capture_on_commit_callbacks
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client_a.post(
                "/o/alpha/members/invite/", {"email": "helper@example.com", "role": "admin"}
            )

        assert response.status_code == 302
        assert response["Location"] == "/o/alpha/members/"
        assert messages_of(response) == ["An invitation was sent to helper@example.com."]
        invitation = Invitation.objects.get(email="helper@example.com")
        assert (invitation.organization, invitation.role, invitation.invited_by) == (
            tenant_a.organization,
            Role.ADMIN,
            tenant_a.admin,
        )
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["helper@example.com"]
        assert f"http://testserver/invitations/{invitation.token}/" in mail.outbox[0].body
        listing = admin_client_a.get("/o/alpha/members/")
        assert list(listing.context["invitations"]) == [invitation]

    def test_invite_of_a_member_is_refused_on_the_form(  # type: ignore[no-untyped-def]
        self, admin_client_a, tenant_a: Tenant, django_capture_on_commit_callbacks
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client_a.post(
                "/o/alpha/members/invite/", {"email": "student@alpha.example", "role": "admin"}
            )

        assert response.status_code == 400
        assert response.context["form"].errors == {
            "email": ["student@alpha.example is already a member of Alpha Tutoring."]
        }
        assert not Invitation.objects.exists()
        assert mail.outbox == []

    def test_invite_with_a_bad_email_or_role_is_refused(self, admin_client_a) -> None:  # type: ignore[no-untyped-def]
        response = admin_client_a.post(
            "/o/alpha/members/invite/", {"email": "not-an-email", "role": "owner"}
        )

        assert response.status_code == 400
        assert response.context["form"].errors == {
            "email": ["Enter a valid email address."],
            "role": ["Select a valid choice. owner is not one of the available choices."],
        }
        assert not Invitation.objects.exists()

    def test_change_role(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        tenant_a.provider_user.name = "Pat Provider"
        tenant_a.provider_user.save()
        membership = Membership.objects.get(user=tenant_a.provider_user)

        response = admin_client_a.post(
            f"/o/alpha/members/{membership.public_id}/role/", {"role": "admin"}
        )

        assert response.status_code == 302
        assert response["Location"] == "/o/alpha/members/"
        assert messages_of(response) == ["Pat Provider is now Admin."]
        membership.refresh_from_db()
        assert membership.role == Role.ADMIN

    def test_change_role_of_the_last_admin_shows_the_error(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        membership = Membership.objects.get(user=tenant_a.admin)

        response = admin_client_a.post(
            f"/o/alpha/members/{membership.public_id}/role/", {"role": "student"}
        )

        assert messages_of(response) == [LAST_ADMIN]
        membership.refresh_from_db()
        assert membership.role == Role.ADMIN

    def test_change_to_an_unknown_role(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        membership = Membership.objects.get(user=tenant_a.student_user)

        response = admin_client_a.post(
            f"/o/alpha/members/{membership.public_id}/role/", {"role": "owner"}
        )

        assert messages_of(response) == ["Choose a role: admin, provider or student."]
        membership.refresh_from_db()
        assert membership.role == Role.STUDENT

    def test_remove_member(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        tenant_a.student_user.name = "Sam Student"
        tenant_a.student_user.save()
        membership = Membership.objects.get(user=tenant_a.student_user)

        response = admin_client_a.post(
            f"/o/alpha/members/{membership.public_id}/remove/", {"confirm": "yes"}
        )

        assert response["Location"] == "/o/alpha/members/"
        assert messages_of(response) == ["Sam Student is no longer a member."]
        assert not Membership.objects.filter(pk=membership.pk).exists()
        # The removed person loses access at once.
        assert client_for(tenant_a.student_user).get("/o/alpha/").status_code == 404

    def test_removing_the_last_admin_is_refused(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        membership = Membership.objects.get(user=tenant_a.admin)

        response = admin_client_a.post(
            f"/o/alpha/members/{membership.public_id}/remove/", {"confirm": "yes"}
        )

        assert response["Location"] == "/o/alpha/members/"
        assert messages_of(response) == [LAST_ADMIN]
        assert Membership.objects.filter(pk=membership.pk).exists()

    def test_an_admin_leaving_goes_home(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        MembershipFactory(organization=tenant_a.organization, role=Role.ADMIN)
        membership = Membership.objects.get(user=tenant_a.admin)

        response = admin_client_a.post(
            f"/o/alpha/members/{membership.public_id}/remove/", {"confirm": "yes"}
        )

        assert response["Location"] == "/"
        assert not Membership.objects.filter(pk=membership.pk).exists()

    def test_revoke_invitation(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        invitation = invite(tenant_a.organization, tenant_a.admin, "maybe@example.com")

        response = admin_client_a.post(
            f"/o/alpha/invitations/{invitation.public_id}/revoke/", {"confirm": "yes"}
        )

        assert response["Location"] == "/o/alpha/members/"
        assert messages_of(response) == ["The invitation of maybe@example.com was revoked."]
        invitation.refresh_from_db()
        assert invitation.status == "revoked"
        again = admin_client_a.post(
            f"/o/alpha/invitations/{invitation.public_id}/revoke/", {"confirm": "yes"}
        )
        assert messages_of(again) == [ALREADY_DONE]
        assert Client().get(f"/invitations/{invitation.token}/").status_code == 410

    def test_actions_need_post(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        membership = Membership.objects.get(user=tenant_a.student_user)
        invitation = invite(tenant_a.organization, tenant_a.admin, "x@example.com")

        assert (
            admin_client_a.get(f"/o/alpha/members/{membership.public_id}/remove/").status_code
            == 405
        )
        assert (
            admin_client_a.get(f"/o/alpha/members/{membership.public_id}/role/").status_code == 405
        )
        assert (
            admin_client_a.get(f"/o/alpha/invitations/{invitation.public_id}/revoke/").status_code
            == 405
        )
        assert Membership.objects.filter(pk=membership.pk).exists()

    def test_other_roles_get_403(
        self,
        provider_client_a,
        student_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        membership = Membership.objects.get(user=tenant_a.admin)
        for client in (provider_client_a, student_client_a):
            assert client.get("/o/alpha/members/").status_code == 403
            assert (
                client.post(
                    "/o/alpha/members/invite/", {"email": "x@example.com", "role": "admin"}
                ).status_code
                == 403
            )
            assert (
                client.post(f"/o/alpha/members/{membership.public_id}/remove/").status_code == 403
            )
        assert Membership.objects.filter(pk=membership.pk).exists()
        assert not Invitation.objects.exists()

    def test_another_tenant_gets_404(
        self,
        admin_client_b,
        tenant_a: Tenant,  # type: ignore[no-untyped-def]
        tenant_b: Tenant,
    ) -> None:
        a_member = Membership.objects.get(user=tenant_a.student_user)
        a_invitation = invite(tenant_a.organization, tenant_a.admin, "x@example.com")

        assert admin_client_b.get("/o/alpha/members/").status_code == 404
        assert (
            admin_client_b.post(f"/o/alpha/members/{a_member.public_id}/remove/").status_code == 404
        )
        # A's objects through B's own URLs: the same 404.
        assert (
            admin_client_b.post(f"/o/beta/members/{a_member.public_id}/remove/").status_code == 404
        )
        assert (
            admin_client_b.post(
                f"/o/beta/members/{a_member.public_id}/role/", {"role": "admin"}
            ).status_code
            == 404
        )
        assert (
            admin_client_b.post(f"/o/beta/invitations/{a_invitation.public_id}/revoke/").status_code
            == 404
        )
        a_member.refresh_from_db()
        a_invitation.refresh_from_db()
        assert a_member.role == Role.STUDENT
        assert a_invitation.status == "pending"
