"""Inviting people: creating invitations, accepting them, and the acceptance pages."""

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.utils import timezone

from matchpal import services
from matchpal.errors import ConflictError
from matchpal.models import Invitation, Membership, Role, User
from matchpal.services import InvitationInvalid
from providers.models import Provider
from students.models import Student
from tests.conftest import Tenant, client_for
from tests.factories import PASSWORD, ProviderFactory, StudentFactory, UserFactory
from tests.matchpal.tenancy.support import ALREADY_DONE, invite, messages_of

NOT_VALID = "This invitation link is not valid. Ask for a new one."
USED = "This invitation has already been used."
EXPIRED = "This invitation has expired. Ask for a new one."


@pytest.mark.django_db
class TestInvitationCreate:
    def test_email_goes_out_on_commit(
        self, tenant_a: Tenant, django_capture_on_commit_callbacks
    ) -> None:  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            invitation = invite(tenant_a.organization, tenant_a.admin, " new.tutor@example.com ")
        # Nothing is sent before the transaction commits.
        assert len(callbacks) == 1
        assert mail.outbox == []

        callbacks[0]()

        assert invitation.email == "new.tutor@example.com"
        assert invitation.role == Role.PROVIDER
        assert invitation.invited_by == tenant_a.admin
        assert invitation.is_pending
        assert invitation.status == "pending"
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["new.tutor@example.com"]
        assert message.subject == "[Matchpal] You are invited to Alpha Tutoring"
        assert f"http://testserver/invitations/{invitation.token}/" in message.body
        assert "to join Alpha Tutoring on Matchpal as provider." in message.body

    def test_expires_after_the_configured_days(self, tenant_a: Tenant, settings) -> None:  # type: ignore[no-untyped-def]
        settings.MATCHPAL_INVITATION_DAYS = 3
        before = timezone.now()

        invitation = invite(tenant_a.organization, tenant_a.admin, "x@example.com")

        assert before + timedelta(days=3) <= invitation.expires_at
        assert invitation.expires_at <= timezone.now() + timedelta(days=3)

    def test_reinviting_revokes_the_pending_invitation(
        self,
        tenant_a: Tenant,
        django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            first = invite(tenant_a.organization, tenant_a.admin, "twice@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            second = invite(
                tenant_a.organization, tenant_a.admin, "TWICE@example.com", role=Role.STUDENT
            )

        first.refresh_from_db()
        assert first.status == "revoked"
        assert second.status == "pending"
        assert first.token != second.token
        assert len(mail.outbox) == 2
        with pytest.raises(InvitationInvalid, match=re.escape(NOT_VALID)):
            services.invitation_accept(
                user=UserFactory(email="twice@example.com"), token=first.token
            )

    def test_reinviting_in_another_organization_leaves_the_first_alone(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        in_a = invite(tenant_a.organization, tenant_a.admin, "shared@example.com")
        invite(tenant_b.organization, tenant_b.admin, "shared@example.com")

        in_a.refresh_from_db()
        assert in_a.status == "pending"

    def test_a_member_cannot_be_invited_again(
        self, tenant_a: Tenant, django_capture_on_commit_callbacks
    ) -> None:  # type: ignore[no-untyped-def]
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(ConflictError) as excinfo,
        ):
            invite(tenant_a.organization, tenant_a.admin, "PROVIDER@alpha.example")

        assert str(excinfo.value) == "PROVIDER@alpha.example is already a member of Alpha Tutoring."
        assert not Invitation.objects.exists()
        assert mail.outbox == []

    def test_a_member_of_another_organization_can_be_invited(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        invitation = invite(
            tenant_a.organization, tenant_a.admin, tenant_b.admin.email, role=Role.ADMIN
        )

        assert invitation.status == "pending"


@pytest.mark.django_db
class TestInvitationAccept:
    def test_creates_the_membership_and_is_single_use(self, tenant_a: Tenant) -> None:
        invitation = invite(
            tenant_a.organization, tenant_a.admin, "joiner@example.com", role=Role.ADMIN
        )
        user = UserFactory(email="joiner@example.com")

        membership = services.invitation_accept(user=user, token=invitation.token)

        assert (membership.user, membership.organization, membership.role) == (
            user,
            tenant_a.organization,
            Role.ADMIN,
        )
        invitation.refresh_from_db()
        assert invitation.accepted_by == user
        assert invitation.status == "accepted"
        with pytest.raises(InvitationInvalid) as excinfo:
            services.invitation_accept(user=user, token=invitation.token)
        assert str(excinfo.value) == USED
        with pytest.raises(InvitationInvalid, match=re.escape(USED)):
            services.invitation_accept(user=UserFactory(), token=invitation.token)
        assert Membership.objects.filter(organization=tenant_a.organization).count() == 4

    def test_expired(self, tenant_a: Tenant) -> None:
        invitation = invite(tenant_a.organization, tenant_a.admin, "late@example.com")
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )

        with pytest.raises(InvitationInvalid) as excinfo:
            services.invitation_accept(
                user=UserFactory(email="late@example.com"), token=invitation.token
            )

        assert str(excinfo.value) == EXPIRED
        assert not Membership.objects.filter(user__email="late@example.com").exists()

    def test_revoked(self, tenant_a: Tenant) -> None:
        invitation = invite(tenant_a.organization, tenant_a.admin, "revoked@example.com")
        services.invitation_revoke(actor=tenant_a.admin, invitation=invitation)

        with pytest.raises(InvitationInvalid) as excinfo:
            services.invitation_accept(
                user=UserFactory(email="revoked@example.com"), token=invitation.token
            )

        assert str(excinfo.value) == NOT_VALID
        assert not Membership.objects.filter(user__email="revoked@example.com").exists()

    def test_unknown_token(self, db: None) -> None:
        with pytest.raises(InvitationInvalid, match=re.escape(NOT_VALID)):
            services.invitation_accept(user=UserFactory(), token="no-such-token")

    def test_revoking_twice_or_after_acceptance_is_refused(self, tenant_a: Tenant) -> None:
        invitation = invite(tenant_a.organization, tenant_a.admin, "r@example.com")
        services.invitation_revoke(actor=tenant_a.admin, invitation=invitation)
        with pytest.raises(ConflictError, match=re.escape(ALREADY_DONE)):
            services.invitation_revoke(actor=tenant_a.admin, invitation=invitation)

        accepted = invite(tenant_a.organization, tenant_a.admin, "a@example.com")
        services.invitation_accept(user=UserFactory(email="a@example.com"), token=accepted.token)
        with pytest.raises(ConflictError, match=re.escape(ALREADY_DONE)):
            services.invitation_revoke(actor=tenant_a.admin, invitation=accepted)
        accepted.refresh_from_db()
        assert accepted.status == "accepted"

    def test_student_invitation_links_its_student_record(self, tenant_a: Tenant) -> None:
        student = StudentFactory(organization=tenant_a.organization, email="kid@example.net")
        invitation = invite(
            tenant_a.organization,
            tenant_a.admin,
            student.email,
            role=Role.STUDENT,
            student_id=student.pk,
        )
        user = UserFactory(email="kid@example.net")

        services.invitation_accept(user=user, token=invitation.token)

        student.refresh_from_db()
        assert student.user == user
        assert Student.objects.filter(organization=tenant_a.organization).count() == 2

    def test_provider_invitation_links_its_provider_record(self, tenant_a: Tenant) -> None:
        provider = ProviderFactory(organization=tenant_a.organization, email="tutor@example.org")
        invitation = invite(
            tenant_a.organization,
            tenant_a.admin,
            provider.email,
            role=Role.PROVIDER,
            provider_id=provider.pk,
        )
        user = UserFactory(email="tutor@example.org")

        membership = services.invitation_accept(user=user, token=invitation.token)

        provider.refresh_from_db()
        assert provider.user == user
        assert membership.role == Role.PROVIDER
        assert Provider.objects.filter(organization=tenant_a.organization).count() == 2
        # A provider invitation never creates or links a student record.
        assert not Student.objects.filter(user=user).exists()

    def test_student_invitation_without_a_record_links_the_one_with_the_same_email(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        other_org_same_email = StudentFactory(
            organization=tenant_b.organization, email="same@example.net"
        )
        record = StudentFactory(organization=tenant_a.organization, email="Same@Example.net")
        invitation = invite(
            tenant_a.organization, tenant_a.admin, "same@example.net", role=Role.STUDENT
        )
        user = UserFactory(email="same@example.net")

        services.invitation_accept(user=user, token=invitation.token)

        record.refresh_from_db()
        other_org_same_email.refresh_from_db()
        assert record.user == user
        assert other_org_same_email.user is None

    def test_student_invitation_without_a_record_creates_one(self, tenant_a: Tenant) -> None:
        invitation = invite(
            tenant_a.organization, tenant_a.admin, "fresh@example.net", role=Role.STUDENT
        )
        user = UserFactory(email="fresh@example.net", name="Fresh Face")

        services.invitation_accept(user=user, token=invitation.token)

        student = Student.objects.get(organization=tenant_a.organization, user=user)
        assert (student.name, student.email, student.status) == (
            "Fresh Face",
            "fresh@example.net",
            "active",
        )

    def test_created_record_is_named_after_the_email_when_the_user_has_no_name(
        self, tenant_a: Tenant
    ) -> None:
        invitation = invite(
            tenant_a.organization, tenant_a.admin, "nameless@example.net", role=Role.STUDENT
        )
        user = UserFactory(email="nameless@example.net", name="")

        services.invitation_accept(user=user, token=invitation.token)

        assert Student.objects.get(user=user).name == "nameless"

    def test_a_record_linked_to_another_login_rolls_the_acceptance_back(
        self, tenant_a: Tenant
    ) -> None:
        invitation = invite(
            tenant_a.organization,
            tenant_a.admin,
            "late@example.net",
            role=Role.STUDENT,
            student_id=tenant_a.student.pk,
        )
        user = UserFactory(email="late@example.net")

        with pytest.raises(
            ConflictError, match=r"This student record is already linked to another login\."
        ):
            services.invitation_accept(user=user, token=invitation.token)

        invitation.refresh_from_db()
        assert invitation.status == "pending"
        assert not Membership.objects.filter(user=user).exists()


@pytest.mark.django_db
class TestInvitationAcceptancePages:
    def test_anonymous_person_signs_up_through_the_link_and_joins(  # type: ignore[no-untyped-def]
        self, tenant_a: Tenant, django_capture_on_commit_callbacks
    ) -> None:
        student = StudentFactory(organization=tenant_a.organization, email="newbie@example.net")
        invitation = invite(
            tenant_a.organization,
            tenant_a.admin,
            student.email,
            role=Role.STUDENT,
            student_id=student.pk,
        )
        link = f"/invitations/{invitation.token}/"
        client = Client()

        page = client.get(link)

        assert page.status_code == 200
        signup_url = "/accounts/signup/?email=" + quote("newbie@example.net")
        assert page.context["signup_url"] == signup_url
        html = page.content.decode()
        assert "Create your account" in html
        assert f'href="{signup_url}"' in html
        assert client.get(signup_url).context["form"].initial["email"] == "newbie@example.net"

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                signup_url,
                {
                    "email": "newbie@example.net",
                    "password1": "a-long-pass-phrase-9",
                    "password2": "a-long-pass-phrase-9",
                },
            )

        # No verification email: the invitation proved the address.
        assert response.status_code == 302
        assert response["Location"] == link
        assert mail.outbox == []
        user = User.objects.get(email="newbie@example.net")
        assert EmailAddress.objects.filter(
            user=user, email="newbie@example.net", verified=True
        ).exists()
        assert client.session[SESSION_KEY] == str(user.pk)
        assert not Membership.objects.filter(user=user).exists()

        assert client.get(link).context["email_matches"] is True
        response = client.post(link)

        assert response.status_code == 302
        assert response["Location"] == "/o/alpha/"
        assert messages_of(response) == ["Welcome to Alpha Tutoring."]
        membership = Membership.objects.get(user=user)
        assert (membership.organization, membership.role) == (tenant_a.organization, Role.STUDENT)
        student.refresh_from_db()
        assert student.user == user
        assert "pending_invitation" not in client.session
        assert client.get("/o/alpha/").status_code == 200
        # The link was single use.
        assert client.get(link).status_code == 410

    def test_signing_up_through_the_link_with_another_email_keeps_the_invited_one(
        self, tenant_a: Tenant
    ) -> None:
        """allauth's stash: the address the link proved becomes the verified login email; the
        address typed in stays an unverified secondary one (and gets no email)."""
        invitation = invite(tenant_a.organization, tenant_a.admin, "invited@example.com")
        client = Client()
        client.get(f"/invitations/{invitation.token}/")

        response = client.post(
            "/accounts/signup/",
            {
                "email": "someone.else@example.com",
                "password1": "a-long-pass-phrase-9",
                "password2": "a-long-pass-phrase-9",
            },
        )

        assert response["Location"] == f"/invitations/{invitation.token}/"
        user = User.objects.get(email="invited@example.com")
        assert client.session[SESSION_KEY] == str(user.pk)
        assert set(
            EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")
        ) == {("invited@example.com", True, True), ("someone.else@example.com", False, False)}
        assert mail.outbox == []
        assert client.post(f"/invitations/{invitation.token}/")["Location"] == "/o/alpha/"

    def test_signing_up_without_an_invitation_still_needs_verification(
        self, tenant_a: Tenant
    ) -> None:
        # Pending, but this browser never opened the link: nothing proves the address.
        invite(tenant_a.organization, tenant_a.admin, "invited@example.com")
        fresh = Client()

        response = fresh.post(
            "/accounts/signup/",
            {
                "email": "invited@example.com",
                "password1": "a-long-pass-phrase-9",
                "password2": "a-long-pass-phrase-9",
            },
        )

        assert response["Location"] == "/accounts/confirm-email/"
        assert EmailAddress.objects.get(email="invited@example.com").verified is False
        assert SESSION_KEY not in fresh.session
        assert [m.to for m in mail.outbox] == [["invited@example.com"]]

    def test_existing_user_signs_in_and_comes_back_to_the_invitation(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        invitation = invite(
            tenant_a.organization, tenant_a.admin, tenant_b.admin.email, role=Role.PROVIDER
        )
        link = f"/invitations/{invitation.token}/"
        client = Client()
        client.get(link)

        response = client.post(
            "/accounts/login/", {"login": tenant_b.admin.email, "password": PASSWORD}
        )

        assert response["Location"] == link
        response = client.post(link)
        assert response["Location"] == "/o/alpha/"
        assert (
            Membership.objects.get(user=tenant_b.admin, organization=tenant_a.organization).role
            == Role.PROVIDER
        )
        # The provider invitation without a record created one for the new provider.
        assert Provider.objects.filter(
            organization=tenant_a.organization, user=tenant_b.admin
        ).exists()

    def test_signed_in_with_another_email_sees_a_warning_and_cannot_accept(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        invitation = invite(tenant_a.organization, tenant_a.admin, "intended@example.com")
        client = client_for(tenant_b.admin)

        page = client.get(f"/invitations/{invitation.token}/")
        post = client.post(f"/invitations/{invitation.token}/")

        for response in (page, post):
            assert response.status_code == 200
            assert response.context["email_matches"] is False
            assert (
                "This invitation is for intended@example.com, but you are signed in as "
                "admin@beta.example."
            ) in response.content.decode()
            assert "Accept the invitation" not in response.content.decode()
        assert not Membership.objects.filter(
            user=tenant_b.admin, organization=tenant_a.organization
        ).exists()
        invitation.refresh_from_db()
        assert invitation.status == "pending"

    def test_email_match_ignores_case(self, tenant_a: Tenant) -> None:
        user = UserFactory(email="CamelCase@example.com")
        invitation = invite(tenant_a.organization, tenant_a.admin, "camelcase@example.com")

        response = client_for(user).post(f"/invitations/{invitation.token}/")

        assert response["Location"] == "/o/alpha/"
        assert Membership.objects.filter(user=user, organization=tenant_a.organization).exists()

    def test_expired_link_shows_the_invalid_page(self, tenant_a: Tenant) -> None:
        invitation = invite(tenant_a.organization, tenant_a.admin, "late@example.com")
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())

        response = Client().get(f"/invitations/{invitation.token}/")

        assert response.status_code == 410
        assert response.templates[0].name == "matchpal/invitation_invalid.html"
        assert "It has expired. Ask Alpha Tutoring for a new one." in response.content.decode()

    def test_used_link_shows_the_invalid_page(self, tenant_a: Tenant) -> None:
        invitation = invite(tenant_a.organization, tenant_a.admin, "used@example.com")
        user = UserFactory(email="used@example.com")
        services.invitation_accept(user=user, token=invitation.token)

        for client in (Client(), client_for(user)):
            response = client.post(f"/invitations/{invitation.token}/")
            assert response.status_code == 410
            assert "It has already been used." in response.content.decode()

    def test_revoked_link_shows_the_invalid_page(self, tenant_a: Tenant) -> None:
        invitation = invite(tenant_a.organization, tenant_a.admin, "r@example.com")
        services.invitation_revoke(actor=tenant_a.admin, invitation=invitation)

        response = Client().get(f"/invitations/{invitation.token}/")

        assert response.status_code == 410
        assert "It was withdrawn. Ask Alpha Tutoring for a new one." in response.content.decode()

    def test_bogus_token_is_404(self, db: None) -> None:
        response = Client().get("/invitations/not-a-real-token/")

        assert response.status_code == 404
        assert "The link is not valid. Check that you copied all of it." in (
            response.content.decode()
        )

    def test_an_invalid_link_forgets_the_pending_invitation(self, tenant_a: Tenant) -> None:
        invitation = invite(tenant_a.organization, tenant_a.admin, "x@example.com")
        client = Client()
        client.get(f"/invitations/{invitation.token}/")
        assert client.session["pending_invitation"] == invitation.token

        client.get("/invitations/not-a-real-token/")

        assert "pending_invitation" not in client.session
