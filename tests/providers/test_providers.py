"""Provider records: pages, filters, own profile, service types and the database guards."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client

from matchpal.errors import ConflictError, DomainError
from matchpal.models import Invitation, Role, ServiceType
from providers import services
from providers.models import Provider, ProviderService, ProviderStatus
from providers.services import DuplicateProviderEmail
from tests.factories import MembershipFactory, ProviderFactory, UserFactory
from tests.support import Tenant, client_for, messages_of

pytestmark = pytest.mark.django_db

LIST = "/o/alpha/providers/"
NEW = "/o/alpha/providers/new/"
ME = "/o/alpha/providers/me/"
BASE_URL = "http://testserver/"
FOREIGN_TYPE = "A service type of another organization was chosen."


def detail_url(provider: Provider) -> str:
    return f"/o/{provider.organization.slug}/providers/{provider.public_id}/"


def service_type(tenant: Tenant, name: str) -> ServiceType:
    return ServiceType.objects.get(organization=tenant.organization, name=name)


def type_names(provider: Provider) -> list[str]:
    return sorted(provider.service_types.values_list("name", flat=True))


def form_data(
    tenant: Tenant, services_: tuple[str, ...] = ("Tutoring",), **overrides: object
) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Ravi Shah",
        "email": "ravi@example.org",
        "phone": "555-0199",
        "service_types": [service_type(tenant, n).public_id for n in services_],
        "default_pay_rate": "41.50",
        "bio": "Chemistry tutor.",
    }
    data.update(overrides)
    return data


def create_and_check(model, **fields):  # type: ignore[no-untyped-def]
    """Insert with the raw ORM, then check the deferred constraints at once.

    The composite tenant keys are DEFERRABLE INITIALLY DEFERRED; inside the test's transaction
    they would only be checked at a commit that never comes.
    """
    with transaction.atomic():
        row = model.objects.create(**fields)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return row


# --- Create, edit, detail ---------------------------------------------------------------------


class TestCreate:
    def test_admin_creates_a_provider_with_service_types(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        assert admin_client_a.get(NEW).status_code == 200

        response = admin_client_a.post(
            NEW,
            form_data(
                tenant_a, ("Tutoring", "Advising"), name=" Ravi Shah ", email=" ravi@example.org "
            ),
        )

        provider = Provider.objects.get(
            organization=tenant_a.organization, email="ravi@example.org"
        )
        assert response.status_code == 302
        assert response["Location"] == detail_url(provider)
        assert messages_of(response) == ["Ravi Shah was added."]
        assert (
            provider.name,
            provider.phone,
            provider.default_pay_rate,
            provider.bio,
            provider.status,
            provider.user,
        ) == (
            "Ravi Shah",
            "555-0199",
            Decimal("41.50"),
            "Chemistry tutor.",
            ProviderStatus.ACTIVE,
            None,
        )
        assert type_names(provider) == ["Advising", "Tutoring"]
        assert set(
            ProviderService.objects.filter(provider=provider).values_list("organization", flat=True)
        ) == {tenant_a.organization.pk}

    def test_the_form_offers_only_the_organizations_active_service_types(
        self,
        admin_client_a,
        tenant_a: Tenant,
        tenant_b: Tenant,  # type: ignore[no-untyped-def]
    ) -> None:
        ServiceType.objects.filter(organization=tenant_a.organization, name="Advising").update(
            is_active=False
        )

        form = admin_client_a.get(NEW).context["form"]

        assert list(form.fields["service_types"].queryset) == [service_type(tenant_a, "Tutoring")]

    def test_a_foreign_service_type_is_not_a_valid_choice(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
        tenant_b: Tenant,
    ) -> None:
        foreign = service_type(tenant_b, "Tutoring")

        response = admin_client_a.post(NEW, form_data(tenant_a, service_types=[foreign.public_id]))

        assert response.status_code == 200
        assert response.context["form"].errors == {
            "service_types": [
                f"Select a valid choice. {foreign.public_id} is not one of the available choices."
            ]
        }
        assert not Provider.objects.filter(email="ravi@example.org").exists()

    @pytest.mark.parametrize(
        ("overrides", "errors"),
        [
            ({"name": ""}, {"name": ["This field is required."]}),
            ({"email": "ravi-at-example"}, {"email": ["Enter a valid email address."]}),
            ({"default_pay_rate": "lots"}, {"default_pay_rate": ["Enter a number."]}),
            (
                {"default_pay_rate": "-1.00"},
                {"default_pay_rate": ["The pay rate cannot be negative."]},
            ),
            ({"default_pay_rate": ""}, {"default_pay_rate": ["This field is required."]}),
        ],
    )
    def test_invalid_form_re_renders_with_messages(
        self,
        admin_client_a,
        tenant_a: Tenant,  # type: ignore[no-untyped-def]
        overrides,
        errors,
    ) -> None:
        response = admin_client_a.post(NEW, form_data(tenant_a, **overrides))

        assert response.status_code == 200
        assert response.context["form"].errors == errors
        html = response.content.decode()
        for messages in errors.values():
            for message in messages:
                assert message in html
        assert Provider.objects.filter(organization=tenant_a.organization).count() == 1

    def test_duplicate_email_in_the_organization_is_refused(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        response = admin_client_a.post(NEW, form_data(tenant_a, email="Provider@Alpha.example"))

        assert response.status_code == 200
        message = str(DuplicateProviderEmail("Provider@Alpha.example"))
        assert message == (
            "Another provider of this organization already uses Provider@Alpha.example."
        )
        assert response.context["form"].errors == {"email": [message]}
        assert message in response.content.decode()
        assert Provider.objects.filter(organization=tenant_a.organization).count() == 1
        assert not ProviderService.objects.filter(provider__name="Ravi Shah").exists()

    def test_same_email_in_another_organization_is_allowed(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
        tenant_b: Tenant,
    ) -> None:
        response = admin_client_a.post(NEW, form_data(tenant_a, email="provider@beta.example"))

        assert response.status_code == 302
        assert Provider.objects.filter(email="provider@beta.example").count() == 2

    def test_other_roles_and_tenants_cannot_create(
        self,
        provider_client_a,
        student_client_a,  # type: ignore[no-untyped-def]
        admin_client_b,
        tenant_a: Tenant,
    ) -> None:
        data = form_data(tenant_a)

        assert provider_client_a.post(NEW, data).status_code == 403
        assert student_client_a.post(NEW, data).status_code == 403
        assert admin_client_b.post(NEW, data).status_code == 404
        assert Client().post(NEW, data).status_code == 302
        assert not Provider.objects.filter(email="ravi@example.org").exists()


class TestServices:
    def test_a_service_type_of_another_organization_is_refused(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        with pytest.raises(DomainError) as excinfo:
            services.provider_create(
                actor=tenant_a.admin,
                organization=tenant_a.organization,
                name="Cross",
                service_types=[
                    service_type(tenant_a, "Tutoring"),
                    service_type(tenant_b, "Advising"),
                ],
            )

        assert str(excinfo.value) == FOREIGN_TYPE
        assert excinfo.value.field == "service_types"
        # The provider row was rolled back with the refused service types.
        assert not Provider.objects.filter(name="Cross").exists()

    def test_updating_with_a_foreign_service_type_changes_nothing(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        provider = tenant_a.provider

        with pytest.raises(DomainError, match=re.escape(FOREIGN_TYPE)):
            services.provider_update(
                actor=tenant_a.admin,
                provider=provider,
                name="Changed",
                service_types=[service_type(tenant_b, "Tutoring")],
            )

        provider.refresh_from_db()
        assert provider.name != "Changed"
        assert type_names(provider) == ["Tutoring"]

    def test_service_types_are_replaced(self, tenant_a: Tenant) -> None:
        provider = tenant_a.provider

        services.provider_update(
            actor=tenant_a.admin,
            provider=provider,
            service_types=[service_type(tenant_a, "Advising")],
        )
        assert type_names(provider) == ["Advising"]
        services.provider_update(
            actor=tenant_a.admin,
            provider=provider,
            service_types=[service_type(tenant_a, "Advising"), service_type(tenant_a, "Tutoring")],
        )
        assert type_names(provider) == ["Advising", "Tutoring"]
        services.provider_update(actor=tenant_a.admin, provider=provider, service_types=[])
        assert type_names(provider) == []

    def test_leaving_service_types_out_keeps_them(self, tenant_a: Tenant) -> None:
        services.provider_update(actor=tenant_a.admin, provider=tenant_a.provider, phone="555-0000")

        assert type_names(tenant_a.provider) == ["Tutoring"]

    @pytest.mark.sqlite
    def test_duplicate_email_raises_the_domain_error(self, tenant_a: Tenant) -> None:
        with pytest.raises(DuplicateProviderEmail) as excinfo:
            services.provider_create(
                actor=tenant_a.admin,
                organization=tenant_a.organization,
                name="Copy",
                email="PROVIDER@alpha.example",
            )

        assert excinfo.value.field == "email"
        assert str(excinfo.value) == (
            "Another provider of this organization already uses PROVIDER@alpha.example."
        )

    def test_update_refuses_fields_that_are_not_editable(self, tenant_a: Tenant) -> None:
        with pytest.raises(ValueError, match=r"Not editable: \['status'\]"):
            services.provider_update(
                actor=tenant_a.admin, provider=tenant_a.provider, status="inactive"
            )

    def test_own_profile_only_for_the_linked_login(self, tenant_a: Tenant) -> None:
        other = ProviderFactory(organization=tenant_a.organization, name="Someone Else")

        with pytest.raises(DomainError) as excinfo:
            services.provider_update_own_profile(
                actor=tenant_a.provider_user, provider=other, name="Hijacked"
            )

        assert str(excinfo.value) == "You can only edit your own profile."
        other.refresh_from_db()
        assert other.name == "Someone Else"

    def test_own_profile_cannot_change_pay_or_email(self, tenant_a: Tenant) -> None:
        with pytest.raises(
            ValueError, match=r"Not editable by the provider: \['default_pay_rate', 'email'\]"
        ):
            services.provider_update_own_profile(
                actor=tenant_a.provider_user,
                provider=tenant_a.provider,
                default_pay_rate=Decimal("999"),
                email="me@example.org",
            )


class TestEdit:
    def test_admin_edits_a_provider(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        provider = tenant_a.provider
        url = detail_url(provider) + "edit/"
        form = admin_client_a.get(url).context["form"]
        assert list(form.initial["service_types"]) == [service_type(tenant_a, "Tutoring")]

        response = admin_client_a.post(
            url,
            form_data(
                tenant_a,
                ("Advising",),
                name="Renamed Tutor",
                email="renamed@example.org",
                default_pay_rate="50.00",
            ),
        )

        assert response.status_code == 302
        assert response["Location"] == detail_url(provider)
        assert messages_of(response) == ["Renamed Tutor was saved."]
        provider.refresh_from_db()
        assert (provider.name, provider.email, provider.default_pay_rate, provider.user) == (
            "Renamed Tutor",
            "renamed@example.org",
            Decimal("50.00"),
            tenant_a.provider_user,
        )
        assert type_names(provider) == ["Advising"]

    def test_duplicate_email_on_edit_is_refused_and_nothing_saved(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        ProviderFactory(organization=tenant_a.organization, email="other@example.org")
        provider = tenant_a.provider
        before = Provider.objects.filter(pk=provider.pk).values().get()

        response = admin_client_a.post(
            detail_url(provider) + "edit/",
            form_data(tenant_a, ("Advising",), name="Changed", email="OTHER@example.org"),
        )

        assert response.status_code == 200
        assert response.context["form"].errors == {
            "email": [str(DuplicateProviderEmail("OTHER@example.org"))]
        }
        assert Provider.objects.filter(pk=provider.pk).values().get() == before
        assert type_names(provider) == ["Tutoring"]

    def test_only_admins_edit(
        self,
        provider_client_a,
        student_client_a,
        admin_client_b,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        url = detail_url(tenant_a.provider) + "edit/"
        data = form_data(tenant_a, name="Self Raise", default_pay_rate="500")

        assert provider_client_a.post(url, data).status_code == 403
        assert student_client_a.post(url, data).status_code == 403
        assert admin_client_b.post(url, data).status_code == 404
        assert (
            admin_client_b.post(
                f"/o/beta/providers/{tenant_a.provider.public_id}/edit/", data
            ).status_code
            == 404
        )
        tenant_a.provider.refresh_from_db()
        assert tenant_a.provider.default_pay_rate == Decimal("35.00")


class TestDetail:
    def test_admin_sees_the_provider(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        provider = ProviderFactory(
            organization=tenant_a.organization,
            bio="Loves algebra.",
            services=["Tutoring", "Advising"],
        )

        response = admin_client_a.get(detail_url(provider))

        assert response.status_code == 200
        assert response.context["provider"] == provider
        html = response.content.decode()
        assert "Advising, Tutoring" in html
        assert "Loves algebra." in html
        assert "Invite to sign in" in html

    def test_provider_sees_own_detail_only(self, provider_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        other = ProviderFactory(organization=tenant_a.organization)

        own = provider_client_a.get(detail_url(tenant_a.provider))

        assert own.status_code == 200
        assert own.context["invitations"] == []
        assert "Deactivate" not in own.content.decode()
        assert provider_client_a.get(detail_url(other)).status_code == 403

    def test_students_cannot_see_providers(self, student_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        assert student_client_a.get(detail_url(tenant_a.provider)).status_code == 403


class TestOwnProfile:
    def test_provider_edits_name_phone_and_bio_only(
        self,
        provider_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        provider = tenant_a.provider
        page = provider_client_a.get(ME)
        assert page.status_code == 200
        assert list(page.context["form"].fields) == ["name", "phone", "bio"]

        response = provider_client_a.post(
            ME,
            {
                "name": "Pat Tutor",
                "phone": "555-0142",
                "bio": "Now also teaching Latin.",
                # Not on the form: ignored.
                "email": "sneaky@example.org",
                "default_pay_rate": "999.00",
                "status": "inactive",
                "service_types": [service_type(tenant_a, "Advising").public_id],
            },
        )

        assert response.status_code == 302
        assert response["Location"] == ME
        assert messages_of(response) == ["Your profile was saved."]
        provider.refresh_from_db()
        assert (provider.name, provider.phone, provider.bio) == (
            "Pat Tutor",
            "555-0142",
            "Now also teaching Latin.",
        )
        assert (provider.email, provider.default_pay_rate, provider.status) == (
            "provider@alpha.example",
            Decimal("35.00"),
            ProviderStatus.ACTIVE,
        )
        assert type_names(provider) == ["Tutoring"]

    def test_invalid_profile_re_renders(self, provider_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        response = provider_client_a.post(ME, {"name": "", "phone": "1", "bio": ""})

        assert response.status_code == 200
        assert response.context["form"].errors == {"name": ["This field is required."]}
        tenant_a.provider.refresh_from_db()
        assert tenant_a.provider.name != ""
        assert tenant_a.provider.phone == ""

    def test_provider_without_a_record(self, tenant_a: Tenant) -> None:
        user = UserFactory()
        MembershipFactory(user=user, organization=tenant_a.organization, role=Role.PROVIDER)

        response = client_for(user).post(ME, {"name": "Ghost", "phone": "", "bio": ""})

        assert response.status_code == 200
        assert response.context["provider"] is None
        assert "No provider record is linked to your login yet." in response.content.decode()
        assert not Provider.objects.filter(name="Ghost").exists()

    def test_other_roles_get_403(
        self,
        admin_client_a,
        student_client_a,  # type: ignore[no-untyped-def]
        admin_client_b,
    ) -> None:
        assert admin_client_a.get(ME).status_code == 403
        assert student_client_a.post(ME, {"name": "X"}).status_code == 403
        assert admin_client_b.get(ME).status_code == 404


# --- List, filters, pagination ------------------------------------------------------------


class TestList:
    @pytest.fixture
    def roster(self, tenant_a: Tenant) -> None:
        Provider.objects.filter(pk=tenant_a.provider.pk).update(name="Provider A")
        ProviderFactory(
            organization=tenant_a.organization,
            name="Zara Ng",
            email="zara@tutors.example",
            services=["Tutoring", "Advising"],
        )
        ProviderFactory(
            organization=tenant_a.organization,
            name="Yusuf Ali",
            email="yusuf@advice.example",
            services=["Advising"],
        )
        ProviderFactory(
            organization=tenant_a.organization,
            name="Xavier Roe",
            email="xavier@tutors.example",
            services=[],
            status=ProviderStatus.INACTIVE,
        )

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({}, ["Provider A", "Xavier Roe", "Yusuf Ali", "Zara Ng"]),
            ({"q": "zara"}, ["Zara Ng"]),
            ({"q": " YUSUF@ "}, ["Yusuf Ali"]),
            ({"q": "tutors.example"}, ["Xavier Roe", "Zara Ng"]),
            ({"status": "inactive"}, ["Xavier Roe"]),
            ({"status": "active", "q": "tutors"}, ["Zara Ng"]),
            ({"service_type": "Advising"}, ["Yusuf Ali", "Zara Ng"]),
            ({"service_type": "Tutoring"}, ["Provider A", "Zara Ng"]),
            ({"service_type": "Tutoring", "q": "z"}, ["Zara Ng"]),
        ],
    )
    def test_filters(
        self,
        admin_client_a,
        tenant_a: Tenant,
        roster: None,  # type: ignore[no-untyped-def]
        query,
        expected,
    ) -> None:
        if "service_type" in query:
            query = {
                **query,
                "service_type": str(service_type(tenant_a, query["service_type"]).public_id),
            }

        response = admin_client_a.get(LIST, query)

        assert response.status_code == 200
        assert [p.name for p in response.context["page"]] == expected

    def test_a_provider_with_two_matching_types_is_listed_once(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
        roster: None,
    ) -> None:
        response = admin_client_a.get(LIST)

        names = [p.name for p in response.context["page"]]
        assert names.count("Zara Ng") == 1

    def test_the_service_filter_offers_only_this_organizations_types(
        self,
        admin_client_a,
        tenant_a: Tenant,
        tenant_b: Tenant,  # type: ignore[no-untyped-def]
    ) -> None:
        foreign = service_type(tenant_b, "Tutoring")

        response = admin_client_a.get(LIST, {"service_type": str(foreign.public_id)})

        assert response.status_code == 200
        field = response.context["filter"].form.fields["service_type"]
        assert set(field.queryset) == set(
            ServiceType.objects.filter(organization=tenant_a.organization)
        )
        assert response.context["filter"].errors == {
            "service_type": [
                "Select a valid choice. That choice is not one of the available choices."
            ]
        }
        assert "Beta Advising" not in response.content.decode()
        assert tenant_a.provider.name in [p.name for p in response.context["page"]]

    def test_pagination(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        for n in range(25):  # 26 providers with the persona's record
            ProviderFactory(
                organization=tenant_a.organization,
                name=f"Tutor {n:02d}",
                services=["Tutoring", "Advising"],
            )

        first = admin_client_a.get(LIST)
        second = admin_client_a.get(LIST, {"page": "2"})

        assert len(first.context["page"]) == 25
        assert 'href="?page=2"' in first.content.decode()
        assert second.status_code == 200
        assert len(second.context["page"]) == 1
        names = {p.name for p in first.context["page"]} | {p.name for p in second.context["page"]}
        assert len(names) == 26


# --- Deactivate and reactivate ----------------------------------------------------------------


class TestStatus:
    def test_deactivate_then_reactivate_never_deletes(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        provider = tenant_a.provider
        url = detail_url(provider) + "status/"

        response = admin_client_a.post(url, {"status": "inactive", "confirm": "yes"})

        assert response["Location"] == detail_url(provider)
        assert messages_of(response) == [f"{provider.name} is now inactive."]
        provider.refresh_from_db()
        assert provider.status == ProviderStatus.INACTIVE
        assert type_names(provider) == ["Tutoring"]

        response = admin_client_a.post(url, {"status": "active"})

        assert messages_of(response) == [f"{provider.name} is now active."]
        provider.refresh_from_db()
        assert provider.status == ProviderStatus.ACTIVE
        assert Provider.objects.filter(pk=provider.pk).exists()


# --- Invitations ----------------------------------------------------------------------------


class TestInvite:
    def test_invite_sends_the_email_on_commit(  # type: ignore[no-untyped-def]
        self, admin_client_a, tenant_a: Tenant, django_capture_on_commit_callbacks
    ) -> None:
        provider = ProviderFactory(
            organization=tenant_a.organization, name="Lena Moss", email="lena@example.org"
        )

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = admin_client_a.post(detail_url(provider) + "invite/")

        assert len(callbacks) == 1
        assert response["Location"] == detail_url(provider)
        assert messages_of(response) == ["An invitation was sent to lena@example.org."]
        invitation = Invitation.objects.get()
        assert (invitation.email, invitation.role, invitation.provider, invitation.student) == (
            "lena@example.org",
            Role.PROVIDER,
            provider,
            None,
        )
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["lena@example.org"]
        assert "as provider." in mail.outbox[0].body
        assert f"http://testserver/invitations/{invitation.token}/" in mail.outbox[0].body

    def test_service_errors_are_domain_errors(self, tenant_a: Tenant) -> None:
        with pytest.raises(ConflictError) as excinfo:
            services.provider_invite(
                actor=tenant_a.admin, provider=tenant_a.provider, base_url=BASE_URL
            )
        assert str(excinfo.value) == f"{tenant_a.provider.name} can already sign in."


# --- Database guards (PostgreSQL) -----------------------------------------------------------


class TestCompositeKeys:
    def test_a_provider_service_cannot_use_another_tenants_service_type(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        with pytest.raises(IntegrityError, match="provider_service_type_org"):
            create_and_check(
                ProviderService,
                organization=tenant_a.organization,
                provider=tenant_a.provider,
                service_type=service_type(tenant_b, "Advising"),
            )

        assert type_names(tenant_a.provider) == ["Tutoring"]

    def test_a_provider_service_cannot_join_another_tenants_provider(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        with pytest.raises(IntegrityError, match="provider_service_provider_org"):
            create_and_check(
                ProviderService,
                organization=tenant_a.organization,
                provider=tenant_b.provider,
                service_type=service_type(tenant_a, "Advising"),
            )

    def test_a_same_tenant_provider_service_is_fine(self, tenant_a: Tenant) -> None:
        create_and_check(
            ProviderService,
            organization=tenant_a.organization,
            provider=tenant_a.provider,
            service_type=service_type(tenant_a, "Advising"),
        )

        assert type_names(tenant_a.provider) == ["Advising", "Tutoring"]

    def test_the_pay_rate_cannot_be_negative_in_the_database(self, tenant_a: Tenant) -> None:
        with (
            pytest.raises(IntegrityError, match="provider_pay_rate_not_negative"),
            transaction.atomic(),
        ):
            Provider.objects.filter(pk=tenant_a.provider.pk).update(
                default_pay_rate=Decimal("-0.01")
            )
