"""Creating organizations, and switching between them from the home page."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from matchpal import services
from matchpal.forms import POLICY_FIELDS, OrganizationSettingsForm
from matchpal.models import Membership, Organization, Role, ServiceType
from matchpal.services import OrganizationCreationDisabled
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.support import Tenant, client_for, messages_of

CREATION_OFF = "Creating organizations is turned off on this server; ask its operator."
CREATION_OFF_PAGE = "Creating organizations is turned off on this server."


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
    "warning_short_session_percent": 50,
    "warning_gap_days": 21,
    "warning_cancellations": 3,
    "warning_cancellation_days": 30,
    "student_recap": "off",
    "student_recap_min_length": 0,
    "checkin_required": False,
    "checkin_overdue_hours": 2,
    "no_show_suspension_count": None,
    "no_show_suspension_days": 60,
    "session_reminder_hours": 24,
    "booking_notice_hours": 12,
    "booking_horizon_days": 60,
    "booking_slot_minutes": 60,
    "booking_slot_step_minutes": 30,
}


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
