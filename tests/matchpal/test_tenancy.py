"""Tenancy: organizations, memberships and invitations — the services, then the pages."""

import re
import threading
from datetime import timedelta
from urllib.parse import quote

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.test import Client
from django.utils import timezone

from matchpal import services
from matchpal.errors import ConflictError, DomainError
from matchpal.forms import POLICY_FIELDS, OrganizationSettingsForm
from matchpal.models import Invitation, Membership, Organization, Role, ServiceType, User
from matchpal.services import (
    DISPUTE_DAYS_OUT_OF_RANGE,
    GRACE_TOO_LONG,
    LATE_WINDOW_TOO_LONG,
    LOW_BALANCE_TOO_HIGH,
    MAX_TOO_LONG,
    MIN_TOO_SMALL,
    NOTES_TOO_LONG,
    RESPONSE_DAYS_OUT_OF_RANGE,
    SESSIONS_PER_DAY_OUT_OF_RANGE,
    STEP_TOO_SMALL,
    InvitationInvalid,
    LastAdminError,
    OrganizationCreationDisabled,
    max_below_min,
    not_a_multiple,
    revision_out_of_range,
    weekly_out_of_range,
)
from providers.models import Provider
from students.models import Student
from tests.conftest import Tenant, client_for
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    ProviderFactory,
    StudentFactory,
    UserFactory,
)

BASE_URL = "http://testserver/"
CREATION_OFF = "Creating organizations is turned off on this server; ask its operator."
CREATION_OFF_PAGE = "Creating organizations is turned off on this server."
LAST_ADMIN = "This is the organization's last admin; make someone else an admin first."
NOT_VALID = "This invitation link is not valid. Ask for a new one."
USED = "This invitation has already been used."
EXPIRED = "This invitation has expired. Ask for a new one."
ALREADY_DONE = "This invitation was already accepted or revoked."


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The messages added while handling this request (not those left by earlier ones)."""
    return [str(m) for m in get_messages(response.wsgi_request)._queued_messages]


def invite(
    organization: Organization, actor: User, email: str, role: str = Role.PROVIDER, **kwargs: object
) -> Invitation:
    return services.invitation_create(
        actor=actor, organization=organization, email=email, role=role, base_url=BASE_URL, **kwargs
    )


# DESIGN §5, field by field: the policy a new organization starts with. Blank limits (None) are
# "no limit". Every policy field of the settings form must be here, so a new one gets its
# default written down too.
DESIGN_POLICY_DEFAULTS = {
    "duration_step_minutes": 5,
    "min_session_minutes": 5,
    "max_session_minutes": 180,
    "notes_min_length": 0,
    "logging_grace_hours": 72,
    "max_sessions_per_pair_per_day": None,
    "weekly_max_minutes_per_student_service": None,
    "weekly_max_minutes_per_provider": None,
    "no_show_charge": "none",
    "late_cancellation_window_hours": 24,
    "late_cancellation_charge": "none",
    "insufficient_hours": "refuse",
    "require_student_confirmation": False,
    "proposal_response_days": 7,
    "booking_students_may_request": True,
    "booking_auto_accept": True,
    "low_balance_threshold_minutes": 120,
    "revision_minutes": 60,
    "pay_providers_for_charged_absences": True,
    "providers_see_client_amount": False,
    "dispute_window_days": 14,
}


# === Services ==============================================================================


@pytest.mark.django_db
class TestOrganizationCreate:
    def test_creates_default_service_types_and_makes_the_creator_admin(self) -> None:
        user = UserFactory()

        org = services.organization_create(
            actor=user, name="  Riverside Tutors ", time_zone="Europe/Paris"
        )

        assert (org.name, org.slug, org.time_zone) == (
            "Riverside Tutors",
            "riverside-tutors",
            "Europe/Paris",
        )
        assert sorted(
            ServiceType.objects.filter(organization=org).values_list("name", flat=True)
        ) == ["Advising", "Tutoring"]
        assert list(Membership.objects.filter(organization=org).values_list("user", "role")) == [
            (user.pk, Role.ADMIN)
        ]

    def test_a_new_organization_has_every_design_policy_default_exactly(self) -> None:
        assert set(DESIGN_POLICY_DEFAULTS) == set(POLICY_FIELDS)
        identity = {"id", "name", "slug", "time_zone", "created_at"}
        assert {f.name for f in Organization._meta.concrete_fields} - identity == set(POLICY_FIELDS)

        org = services.organization_create(actor=UserFactory(), name="Fresh Start")
        org.refresh_from_db()  # what the database holds, not what the instance was given

        assert {field: getattr(org, field) for field in POLICY_FIELDS} == DESIGN_POLICY_DEFAULTS
        assert org.time_zone == "UTC"

    def test_the_settings_form_starts_from_the_same_defaults(self) -> None:
        org = services.organization_create(actor=UserFactory(), name="Fresh Start")

        form = OrganizationSettingsForm(instance=org)

        assert {f: form[f].value() for f in POLICY_FIELDS} == DESIGN_POLICY_DEFAULTS

    def test_default_service_types_are_per_organization(self) -> None:
        user = UserFactory()
        first = services.organization_create(actor=user, name="First")
        second = services.organization_create(actor=user, name="Second")

        assert ServiceType.objects.filter(name="Tutoring").count() == 2
        assert {st.organization_id for st in ServiceType.objects.filter(name="Advising")} == {
            first.pk,
            second.pk,
        }

    def test_slugs_are_unique(self) -> None:
        user = UserFactory()

        slugs = [
            services.organization_create(actor=user, name="Bright Minds").slug for _ in range(3)
        ]

        assert slugs == ["bright-minds", "bright-minds-2", "bright-minds-3"]

    def test_reserved_and_empty_slugs_are_avoided(self) -> None:
        user = UserFactory()

        assert services.organization_create(actor=user, name="New").slug == "new-org"
        assert services.organization_create(actor=user, name="Admin").slug == "admin-org"
        assert services.organization_create(actor=user, name="!!!").slug == "org"

    def test_an_explicit_slug_taken_already_is_refused_by_the_database(self) -> None:
        user = UserFactory()
        services.organization_create(actor=user, name="One", slug="shared")

        with pytest.raises(IntegrityError), transaction.atomic():
            services.organization_create(actor=user, name="Two", slug="shared")

        assert list(Organization.objects.values_list("name", flat=True)) == ["One"]

    def test_refused_when_the_operator_turned_it_off(self, settings) -> None:  # type: ignore[no-untyped-def]
        settings.MATCHPAL_ALLOW_ORG_CREATION = False
        user = UserFactory()

        with pytest.raises(OrganizationCreationDisabled) as excinfo:
            services.organization_create(actor=user, name="Refused")

        assert str(excinfo.value) == CREATION_OFF
        assert not Organization.objects.exists()
        assert not Membership.objects.exists()

    def test_superuser_may_create_when_it_is_off(self, settings) -> None:  # type: ignore[no-untyped-def]
        settings.MATCHPAL_ALLOW_ORG_CREATION = False
        operator = UserFactory(is_superuser=True, is_staff=True)

        org = services.organization_create(actor=operator, name="Operator's Center")

        assert Membership.objects.get(organization=org).user == operator


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
class TestLastAdmin:
    def test_the_last_admin_cannot_be_demoted(self, tenant_a: Tenant) -> None:
        membership = Membership.objects.get(user=tenant_a.admin)

        with pytest.raises(LastAdminError) as excinfo:
            services.membership_change_role(
                actor=tenant_a.admin, membership=membership, role=Role.PROVIDER
            )

        assert str(excinfo.value) == LAST_ADMIN
        membership.refresh_from_db()
        assert membership.role == Role.ADMIN

    def test_the_last_admin_cannot_be_removed(self, tenant_a: Tenant) -> None:
        membership = Membership.objects.get(user=tenant_a.admin)

        with pytest.raises(LastAdminError, match=re.escape(LAST_ADMIN)):
            services.membership_remove(actor=tenant_a.admin, membership=membership)

        assert Membership.objects.filter(pk=membership.pk).exists()

    def test_an_admin_can_be_demoted_or_removed_while_another_remains(
        self, tenant_a: Tenant
    ) -> None:
        second = MembershipFactory(organization=tenant_a.organization, role=Role.ADMIN)
        third = MembershipFactory(organization=tenant_a.organization, role=Role.ADMIN)

        services.membership_change_role(actor=tenant_a.admin, membership=second, role=Role.STUDENT)
        services.membership_remove(actor=tenant_a.admin, membership=third)

        second.refresh_from_db()
        assert second.role == Role.STUDENT
        assert not Membership.objects.filter(pk=third.pk).exists()
        assert list(
            Membership.objects.filter(
                organization=tenant_a.organization, role=Role.ADMIN
            ).values_list("user", flat=True)
        ) == [tenant_a.admin.pk]

    def test_non_admins_can_change_freely(self, tenant_a: Tenant) -> None:
        membership = Membership.objects.get(user=tenant_a.provider_user)

        services.membership_change_role(
            actor=tenant_a.admin, membership=membership, role=Role.ADMIN
        )
        services.membership_change_role(
            actor=tenant_a.admin, membership=membership, role=Role.STUDENT
        )
        services.membership_remove(
            actor=tenant_a.admin, membership=Membership.objects.get(user=tenant_a.student_user)
        )

        membership.refresh_from_db()
        assert membership.role == Role.STUDENT
        assert Membership.objects.filter(organization=tenant_a.organization).count() == 2

    def test_admins_of_another_organization_do_not_count(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        MembershipFactory(organization=tenant_b.organization, role=Role.ADMIN)

        with pytest.raises(LastAdminError, match=re.escape(LAST_ADMIN)):
            services.membership_change_role(
                actor=tenant_a.admin,
                membership=Membership.objects.get(user=tenant_a.admin),
                role=Role.PROVIDER,
            )

    def test_an_unknown_role_is_refused(self, tenant_a: Tenant) -> None:
        membership = Membership.objects.get(user=tenant_a.provider_user)

        with pytest.raises(DomainError) as excinfo:
            services.membership_change_role(
                actor=tenant_a.admin, membership=membership, role="owner"
            )

        assert str(excinfo.value) == "“owner” is not a role."


def _run_in_threads(*targets):  # type: ignore[no-untyped-def]
    """Run each target in its own thread and connection; return what each raised (or None)."""
    outcomes: list[BaseException | None] = [None] * len(targets)

    def runner(index: int, target) -> None:  # type: ignore[no-untyped-def]
        try:
            target()
        except BaseException as error:  # reported to the test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a thread did not finish: deadlock?"
    return outcomes


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
class TestTwoAdminsDemoteEachOther:
    def _two_admins(self) -> tuple[Organization, User, User]:
        org = OrganizationFactory(name="Race Center", slug="race")
        first, second = (
            UserFactory(email="first@race.example"),
            UserFactory(email="second@race.example"),
        )
        MembershipFactory(user=first, organization=org, role=Role.ADMIN)
        MembershipFactory(user=second, organization=org, role=Role.ADMIN)
        return org, first, second

    @staticmethod
    def _demote(actor: User, target: User, barrier: threading.Barrier):  # type: ignore[no-untyped-def]
        def run() -> None:
            close_old_connections()
            membership = Membership.objects.select_related("organization").get(user=target)
            barrier.wait(timeout=10)
            services.membership_change_role(actor=actor, membership=membership, role=Role.PROVIDER)

        return run

    def test_exactly_one_succeeds_at_the_same_moment(self) -> None:
        org, first, second = self._two_admins()
        barrier = threading.Barrier(2)

        outcomes = _run_in_threads(
            self._demote(first, second, barrier), self._demote(second, first, barrier)
        )

        assert sorted(type(o).__name__ for o in outcomes) == ["LastAdminError", "NoneType"]
        refused = next(o for o in outcomes if o is not None)
        assert str(refused) == LAST_ADMIN
        assert Membership.objects.filter(organization=org, role=Role.ADMIN).count() == 1

    def test_the_second_demotion_waits_for_the_first_lock(self) -> None:
        """Deterministic interleaving: the first demotion holds its locks until we let it go."""
        org, first, second = self._two_admins()
        first_locked, release_first = threading.Event(), threading.Event()
        second_done = threading.Event()

        def demote_second() -> None:
            close_old_connections()
            membership = Membership.objects.select_related("organization").get(user=second)
            with transaction.atomic():
                services.membership_change_role(
                    actor=first, membership=membership, role=Role.PROVIDER
                )
                first_locked.set()
                assert release_first.wait(timeout=10)

        def demote_first() -> None:
            close_old_connections()
            assert first_locked.wait(timeout=10)
            membership = Membership.objects.select_related("organization").get(user=first)
            try:
                services.membership_change_role(
                    actor=second, membership=membership, role=Role.PROVIDER
                )
            finally:
                second_done.set()

        def referee() -> None:
            assert first_locked.wait(timeout=10)
            # While the first transaction is open, the second is blocked on the admin rows.
            blocked = not second_done.wait(timeout=0.5)
            release_first.set()
            assert blocked, "the second demotion did not wait for the first one's lock"

        outcomes = _run_in_threads(demote_second, demote_first, referee)

        assert outcomes[0] is None
        assert outcomes[2] is None
        assert isinstance(outcomes[1], LastAdminError)
        assert str(outcomes[1]) == LAST_ADMIN
        assert list(
            Membership.objects.filter(organization=org, role=Role.ADMIN).values_list(
                "user__email", flat=True
            )
        ) == ["first@race.example"]

    def test_two_removals_at_once_leave_one_admin(self) -> None:
        org, first, second = self._two_admins()
        barrier = threading.Barrier(2)

        def remove(target: User):  # type: ignore[no-untyped-def]
            def run() -> None:
                close_old_connections()
                membership = Membership.objects.select_related("organization").get(user=target)
                barrier.wait(timeout=10)
                services.membership_remove(actor=target, membership=membership)

            return run

        outcomes = _run_in_threads(remove(first), remove(second))

        assert sorted(type(o).__name__ for o in outcomes) == ["LastAdminError", "NoneType"]
        assert Membership.objects.filter(organization=org, role=Role.ADMIN).count() == 1


# === Views =================================================================================


@pytest.mark.django_db
class TestHomeAndOrganizationSwitching:
    def test_anonymous_goes_to_sign_in(self) -> None:
        response = Client().get("/")

        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/"

    def test_one_organization_goes_straight_to_it(self, tenant_a: Tenant) -> None:
        response = client_for(tenant_a.provider_user).get("/")

        assert response.status_code == 302
        assert response["Location"] == "/o/alpha/"

    def test_several_organizations_go_to_the_list(self, tenant_a: Tenant, tenant_b: Tenant) -> None:
        MembershipFactory(
            user=tenant_a.admin, organization=tenant_b.organization, role=Role.STUDENT
        )

        response = client_for(tenant_a.admin).get("/")

        assert response.status_code == 302
        assert response["Location"] == "/orgs/"

    def test_no_organization_goes_to_the_list(self, db: None) -> None:
        response = client_for(UserFactory()).get("/")

        assert response["Location"] == "/orgs/"

    def test_the_list_shows_each_membership_with_its_role(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        MembershipFactory(
            user=tenant_a.admin, organization=tenant_b.organization, role=Role.STUDENT
        )

        response = client_for(tenant_a.admin).get("/orgs/")

        assert response.status_code == 200
        assert [(m.organization.slug, m.role) for m in response.context["page"]] == [
            ("alpha", Role.ADMIN),
            ("beta", Role.STUDENT),
        ]
        html = response.content.decode()
        assert 'href="/o/alpha/"' in html
        assert 'href="/o/beta/"' in html
        assert "Alpha Tutoring" in html
        assert "Beta Advising" in html

    def test_the_list_is_paginated(self, tenant_a: Tenant, settings) -> None:  # type: ignore[no-untyped-def]
        settings.MATCHPAL_PAGE_SIZE = 2
        for name in ("Beta Center", "Gamma Center"):
            MembershipFactory(
                user=tenant_a.admin, organization=OrganizationFactory(name=name), role=Role.STUDENT
            )
        client = client_for(tenant_a.admin)

        first, second = client.get("/orgs/"), client.get("/orgs/?page=2")

        assert [m.organization.name for m in first.context["page"]] == [
            "Alpha Tutoring",
            "Beta Center",
        ]
        assert [m.organization.name for m in second.context["page"]] == ["Gamma Center"]
        assert 'href="?page=2"' in first.content.decode()
        assert "Page 2 of 2" in second.content.decode()

    def test_the_list_needs_a_login(self, db: None) -> None:
        response = Client().get("/orgs/")

        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/orgs/"

    def test_switching_to_each_listed_organization_works(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        MembershipFactory(
            user=tenant_a.admin, organization=tenant_b.organization, role=Role.STUDENT
        )
        client = client_for(tenant_a.admin)

        admin_home = client.get("/o/alpha/")
        student_home = client.get("/o/beta/")

        assert admin_home.status_code == 200
        assert admin_home.templates[0].name == "reports/home_admin.html"
        assert student_home.status_code == 200
        assert student_home.templates[0].name == "reports/home_student.html"

    def test_a_non_member_gets_404(self, tenant_a: Tenant, tenant_b: Tenant) -> None:
        assert client_for(tenant_b.admin).get("/o/alpha/").status_code == 404
        assert client_for(tenant_b.admin).get("/o/no-such-org/").status_code == 404


@pytest.mark.django_db
class TestOrganizationCreateView:
    def test_create(self, db: None) -> None:
        user = UserFactory()
        client = client_for(user)

        assert client.get("/orgs/new/").status_code == 200
        response = client.post(
            "/orgs/new/", {"name": "Harbor Learning", "time_zone": "America/Chicago"}
        )

        assert response.status_code == 302
        assert response["Location"] == "/o/harbor-learning/"
        assert messages_of(response) == ["Harbor Learning was created; you are its admin."]
        org = Organization.objects.get(slug="harbor-learning")
        assert org.time_zone == "America/Chicago"
        assert Membership.objects.get(organization=org).user == user
        assert client.get("/o/harbor-learning/").status_code == 200

    def test_invalid_form_re_renders(self, db: None) -> None:
        client = client_for(UserFactory())

        response = client.post("/orgs/new/", {"name": "", "time_zone": "Mars/Olympus"})

        assert response.status_code == 200
        assert response.context["form"].errors == {
            "name": ["This field is required."],
            "time_zone": [
                "Select a valid choice. Mars/Olympus is not one of the available choices."
            ],
        }
        assert not Organization.objects.exists()

    def test_refused_when_the_operator_turned_it_off(self, settings) -> None:  # type: ignore[no-untyped-def]
        settings.MATCHPAL_ALLOW_ORG_CREATION = False
        client = client_for(UserFactory())

        get = client.get("/orgs/new/")
        post = client.post("/orgs/new/", {"name": "Sneaky", "time_zone": "Etc/UTC"})

        for response in (get, post):
            assert response.status_code == 302
            assert response["Location"] == "/orgs/"
            assert messages_of(response) == [CREATION_OFF_PAGE]
        assert not Organization.objects.exists()
        listing = client.get("/orgs/")
        assert listing.context["can_create"] is False
        assert "Create an organization" not in listing.content.decode()

    def test_superuser_may_create_when_it_is_off(self, settings) -> None:  # type: ignore[no-untyped-def]
        settings.MATCHPAL_ALLOW_ORG_CREATION = False
        client = client_for(UserFactory(is_superuser=True, is_staff=True))

        response = client.post("/orgs/new/", {"name": "Ops Center", "time_zone": "Etc/UTC"})

        assert response["Location"] == "/o/ops-center/"
        assert Organization.objects.filter(slug="ops-center").exists()

    def test_needs_a_login(self, db: None) -> None:
        response = Client().post("/orgs/new/", {"name": "Anon", "time_zone": "UTC"})

        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
        assert not Organization.objects.exists()


def settings_data(org: Organization, **changes: object) -> dict[str, object]:
    """The settings form as the browser would post it back, with `changes` applied."""
    data: dict[str, object] = {}
    for name, value in OrganizationSettingsForm(instance=org).initial.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


@pytest.mark.django_db
class TestSettingsPage:
    URL = "/o/alpha/settings/"

    def test_shows_the_policy(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        response = admin_client_a.get(self.URL)

        assert response.status_code == 200
        assert response.context["form"].instance == tenant_a.organization

    def test_saves_policy_fields(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        data = settings_data(
            tenant_a.organization,
            duration_step_minutes=15,
            min_session_minutes=30,
            max_session_minutes=120,
            notes_min_length=150,
            max_sessions_per_pair_per_day=2,
            no_show_charge="full",
            insufficient_hours="draw",
            require_student_confirmation=True,
            booking_auto_accept=False,
            time_zone="Europe/London",
        )

        response = admin_client_a.post(self.URL, data)

        assert response.status_code == 302
        assert response["Location"] == self.URL
        assert messages_of(response) == ["Settings saved."]
        org = Organization.objects.get(pk=tenant_a.organization.pk)
        assert (
            org.duration_step_minutes,
            org.min_session_minutes,
            org.max_session_minutes,
            org.notes_min_length,
            org.max_sessions_per_pair_per_day,
        ) == (15, 30, 120, 150, 2)
        assert (org.no_show_charge, org.insufficient_hours, org.time_zone) == (
            "full",
            "draw",
            "Europe/London",
        )
        assert org.require_student_confirmation is True
        assert org.booking_auto_accept is False
        # Untouched fields keep their values.
        assert (org.logging_grace_hours, org.low_balance_threshold_minutes) == (72, 120)

    def test_an_organization_created_with_the_defaults_can_save_its_settings(
        self, db: None
    ) -> None:
        user = UserFactory()
        org = services.organization_create(actor=user, name="Default Zone")

        response = client_for(user).post(
            f"/o/{org.slug}/settings/", settings_data(org, notes_min_length=10)
        )

        assert response.status_code == 302
        org.refresh_from_db()
        assert (org.time_zone, org.notes_min_length) == ("UTC", 10)

    def test_clearing_an_optional_limit_saves_no_limit(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        Organization.objects.filter(pk=tenant_a.organization.pk).update(
            weekly_max_minutes_per_provider=600
        )
        org = Organization.objects.get(pk=tenant_a.organization.pk)

        admin_client_a.post(self.URL, settings_data(org, weekly_max_minutes_per_provider=""))

        org.refresh_from_db()
        assert org.weekly_max_minutes_per_provider is None

    @pytest.mark.parametrize(
        ("changes", "field", "error"),
        [
            (
                {"min_session_minutes": 30, "max_session_minutes": 10},
                "max_session_minutes",
                "The maximum (10 min) is below the minimum (30 min).",
            ),
            ({"duration_step_minutes": 0}, "duration_step_minutes", STEP_TOO_SMALL),
            ({"min_session_minutes": 0}, "min_session_minutes", MIN_TOO_SMALL),
            ({"proposal_response_days": 0}, "proposal_response_days", RESPONSE_DAYS_OUT_OF_RANGE),
            ({"proposal_response_days": 366}, "proposal_response_days", RESPONSE_DAYS_OUT_OF_RANGE),
            # A step that the default minimum (5) is not a multiple of.
            (
                {"duration_step_minutes": 7, "max_session_minutes": 175},
                "min_session_minutes",
                "The minimum (5 min) is not a multiple of the duration step (7 min).",
            ),
            (
                {"duration_step_minutes": 25, "min_session_minutes": 50},
                "max_session_minutes",
                "The maximum (180 min) is not a multiple of the duration step (25 min).",
            ),
            ({"max_session_minutes": 1445}, "max_session_minutes", MAX_TOO_LONG),
            ({"revision_minutes": 0}, "revision_minutes", revision_out_of_range(180)),
            (
                {"max_session_minutes": 60, "revision_minutes": 90},
                "revision_minutes",
                "The revision value is between 1 minute and the session maximum (1 h).",
            ),
            (
                {"max_sessions_per_pair_per_day": 0},
                "max_sessions_per_pair_per_day",
                SESSIONS_PER_DAY_OUT_OF_RANGE,
            ),
            (
                {"max_sessions_per_pair_per_day": 25},
                "max_sessions_per_pair_per_day",
                SESSIONS_PER_DAY_OUT_OF_RANGE,
            ),
            (
                {"min_session_minutes": 30, "weekly_max_minutes_per_provider": 20},
                "weekly_max_minutes_per_provider",
                weekly_out_of_range(30),
            ),
            (
                {"weekly_max_minutes_per_student_service": 0},
                "weekly_max_minutes_per_student_service",
                weekly_out_of_range(5),
            ),
            (
                {"weekly_max_minutes_per_student_service": 10081},
                "weekly_max_minutes_per_student_service",
                weekly_out_of_range(5),
            ),
            ({"dispute_window_days": 0}, "dispute_window_days", DISPUTE_DAYS_OUT_OF_RANGE),
            ({"dispute_window_days": 366}, "dispute_window_days", DISPUTE_DAYS_OUT_OF_RANGE),
            ({"notes_min_length": 2001}, "notes_min_length", NOTES_TOO_LONG),
            ({"logging_grace_hours": 8761}, "logging_grace_hours", GRACE_TOO_LONG),
            (
                {"late_cancellation_window_hours": 721},
                "late_cancellation_window_hours",
                LATE_WINDOW_TOO_LONG,
            ),
            (
                {"low_balance_threshold_minutes": 60001},
                "low_balance_threshold_minutes",
                LOW_BALANCE_TOO_HIGH,
            ),
            ({"max_session_minutes": "two hours"}, "max_session_minutes", "Enter a whole number."),
            (
                {"logging_grace_hours": "-1"},
                "logging_grace_hours",
                "Ensure this value is greater than or equal to 0.",
            ),
            (
                {"no_show_charge": "half"},
                "no_show_charge",
                "Select a valid choice. half is not one of the available choices.",
            ),
            ({"name": ""}, "name", "This field is required."),
        ],
    )
    def test_invalid_input_re_renders_with_the_error_and_saves_nothing(
        self,
        admin_client_a,
        tenant_a: Tenant,
        changes,
        field,
        error,  # type: ignore[no-untyped-def]
    ) -> None:
        before = Organization.objects.filter(pk=tenant_a.organization.pk).values().get()
        data = settings_data(tenant_a.organization, **{"notes_min_length": 99, **changes})

        response = admin_client_a.post(self.URL, data)

        assert response.status_code == 200
        assert response.context["form"].errors == {field: [error]}
        assert error in response.content.decode().replace("&#x27;", "'")
        assert messages_of(response) == []
        assert Organization.objects.filter(pk=tenant_a.organization.pk).values().get() == before

    def test_rules_are_checked_together_each_error_on_its_field(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        """A step of 7 with min 5 and max 180 made a 60-minute session's edit form offer 7 min."""
        before = Organization.objects.filter(pk=tenant_a.organization.pk).values().get()
        data = settings_data(
            tenant_a.organization,
            duration_step_minutes=7,
            min_session_minutes=5,
            max_session_minutes=180,
            revision_minutes=200,
            dispute_window_days=0,
        )

        response = admin_client_a.post(self.URL, data)

        assert response.status_code == 200
        assert response.context["form"].errors == {
            "min_session_minutes": [not_a_multiple("minimum", 5, 7)],
            "max_session_minutes": [not_a_multiple("maximum", 180, 7)],
            "revision_minutes": [revision_out_of_range(180)],
            "dispute_window_days": [DISPUTE_DAYS_OUT_OF_RANGE],
        }
        assert Organization.objects.filter(pk=tenant_a.organization.pk).values().get() == before

    def test_saves_the_money_and_dispute_settings(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        data = settings_data(
            tenant_a.organization,
            pay_providers_for_charged_absences=False,
            providers_see_client_amount=True,
            dispute_window_days=30,
        )

        response = admin_client_a.post(self.URL, data)

        assert response.status_code == 302
        org = Organization.objects.get(pk=tenant_a.organization.pk)
        assert (
            org.pay_providers_for_charged_absences,
            org.providers_see_client_amount,
            org.dispute_window_days,
        ) == (False, True, 30)
        page = admin_client_a.get(self.URL).content.decode()
        for name in ("pay_providers_for_charged_absences", "providers_see_client_amount"):
            assert str(Organization._meta.get_field(name).help_text) in page
        assert "A student may dispute a session up to this many days after it." in page

    def test_the_service_refuses_what_the_form_refuses(self, tenant_a: Tenant) -> None:
        org = tenant_a.organization

        with pytest.raises(ValidationError) as caught:
            services.organization_update(
                actor=tenant_a.admin,
                organization=org,
                fields={"min_session_minutes": 120, "max_session_minutes": 60},
            )

        assert caught.value.message_dict == {"max_session_minutes": [max_below_min(60, 120)]}
        org.refresh_from_db()
        assert (org.min_session_minutes, org.max_session_minutes) == (5, 180)

    def test_admins_only(
        self,
        provider_client_a,
        student_client_a,
        admin_client_b,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        data = settings_data(tenant_a.organization, name="Hijacked")

        assert provider_client_a.get(self.URL).status_code == 403
        assert student_client_a.post(self.URL, data).status_code == 403
        assert admin_client_b.post(self.URL, data).status_code == 404
        assert Organization.objects.get(pk=tenant_a.organization.pk).name == "Alpha Tutoring"


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
