"""Service types: the admin's page under /o/<slug>/service-types/ — add, rename, deactivate —
and what a deactivated type means for the forms of every app."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import ProtectedError
from django.test import Client

from grants.forms import GrantCreateForm, PackageForm
from matchpal import services
from matchpal.errors import DomainError
from matchpal.models import ServiceType
from matchpal.services import DuplicateServiceType
from providers.forms import ProviderForm
from providers.models import ProviderService
from relationships.forms import ProposeForm
from tests.factories import ProviderFactory
from tests.support import Tenant, client_for, messages_of

pytestmark = pytest.mark.django_db

LIST = "/o/alpha/service-types/"
NEW = "/o/alpha/service-types/new/"
NO_NAME = "Give the service type a name."


def of(tenant: Tenant, name: str) -> ServiceType:
    return ServiceType.objects.get(organization=tenant.organization, name=name)


def names(tenant: Tenant) -> list[tuple[str, bool]]:
    return list(
        ServiceType.objects.filter(organization=tenant.organization)
        .order_by("name")
        .values_list("name", "is_active")
    )


def edit_url(st: ServiceType) -> str:
    return f"/o/{st.organization.slug}/service-types/{st.public_id}/edit/"


def active_url(st: ServiceType) -> str:
    return f"/o/{st.organization.slug}/service-types/{st.public_id}/active/"


# --- Services -------------------------------------------------------------------------------


class TestServices:
    def test_create_tidies_the_name_and_makes_an_active_type(self, tenant_a: Tenant) -> None:
        st = services.service_type_create(
            actor=tenant_a.admin, organization=tenant_a.organization, name="  Test   prep "
        )

        assert (st.name, st.is_active) == ("Test prep", True)
        assert st.organization == tenant_a.organization

    @pytest.mark.sqlite
    def test_a_name_taken_in_any_case_is_refused(self, tenant_a: Tenant) -> None:
        with pytest.raises(DuplicateServiceType) as error:
            services.service_type_create(
                actor=tenant_a.admin, organization=tenant_a.organization, name="tutoring"
            )

        assert error.value.message == (
            "This organization already has a service type called “tutoring”."
        )
        assert error.value.field == "name"
        assert names(tenant_a) == [("Advising", True), ("Tutoring", True)]

    def test_a_blank_name_is_refused(self, tenant_a: Tenant) -> None:
        with pytest.raises(DomainError, match=NO_NAME):
            services.service_type_create(
                actor=tenant_a.admin, organization=tenant_a.organization, name="   "
            )

    def test_another_organization_may_use_the_same_name(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        services.service_type_create(
            actor=tenant_b.admin, organization=tenant_b.organization, name="Coaching"
        )

        st = services.service_type_create(
            actor=tenant_a.admin, organization=tenant_a.organization, name="Coaching"
        )

        assert st.organization == tenant_a.organization

    def test_rename(self, tenant_a: Tenant) -> None:
        tutoring = of(tenant_a, "Tutoring")

        services.service_type_rename(actor=tenant_a.admin, service_type=tutoring, name="Math help")

        tutoring.refresh_from_db()
        assert tutoring.name == "Math help"

    def test_rename_may_change_only_the_case(self, tenant_a: Tenant) -> None:
        tutoring = of(tenant_a, "Tutoring")

        services.service_type_rename(actor=tenant_a.admin, service_type=tutoring, name="TUTORING")

        assert names(tenant_a) == [("Advising", True), ("TUTORING", True)]

    def test_rename_to_another_types_name_is_refused(self, tenant_a: Tenant) -> None:
        with pytest.raises(DuplicateServiceType, match="called “Advising”"):
            services.service_type_rename(
                actor=tenant_a.admin, service_type=of(tenant_a, "Tutoring"), name="Advising"
            )

        assert names(tenant_a) == [("Advising", True), ("Tutoring", True)]

    def test_deactivate_and_reactivate(self, tenant_a: Tenant) -> None:
        advising = of(tenant_a, "Advising")

        services.service_type_set_active(actor=tenant_a.admin, service_type=advising, active=False)
        assert names(tenant_a) == [("Advising", False), ("Tutoring", True)]
        services.service_type_set_active(actor=tenant_a.admin, service_type=advising, active=True)
        assert names(tenant_a) == [("Advising", True), ("Tutoring", True)]

    def test_a_type_in_use_cannot_be_deleted_even_with_the_raw_orm(self, tenant_a: Tenant) -> None:
        # The personas' provider offers Tutoring (ProviderService's PROTECT foreign key).
        tutoring = of(tenant_a, "Tutoring")
        assert ProviderService.objects.filter(service_type=tutoring).exists()

        with pytest.raises(ProtectedError), transaction.atomic():
            tutoring.delete()

        assert ServiceType.objects.filter(pk=tutoring.pk).exists()


# --- Pages ----------------------------------------------------------------------------------


class TestPages:
    def test_the_list_shows_each_type_with_its_providers_and_status(
        self, admin_client_a: Client, tenant_a: Tenant
    ) -> None:
        ProviderFactory(organization=tenant_a.organization, services=["Tutoring", "Advising"])
        ServiceType.objects.create(organization=tenant_a.organization, name="Coaching")
        ServiceType.objects.filter(organization=tenant_a.organization, name="Advising").update(
            is_active=False
        )

        response = admin_client_a.get(LIST)

        assert response.status_code == 200
        # Active ones first.
        assert [(st.name, st.provider_count, st.is_active) for st in response.context["page"]] == [
            ("Coaching", 0, True),
            ("Tutoring", 2, True),
            ("Advising", 1, False),
        ]
        html = response.content.decode()
        assert "Reactivate" in html
        assert html.count("Deactivate") == 2
        assert f'href="{NEW}"' in html

    def test_the_settings_page_links_to_it(self, admin_client_a: Client) -> None:
        assert f'href="{LIST}"' in admin_client_a.get("/o/alpha/settings/").content.decode()

    def test_add(self, admin_client_a: Client, tenant_a: Tenant) -> None:
        response = admin_client_a.post(NEW, {"name": "Test prep"})

        assert response.status_code == 302
        assert response["Location"] == LIST
        assert messages_of(response) == ["Test prep was added."]
        assert of(tenant_a, "Test prep").is_active

    @pytest.mark.parametrize(
        ("name", "error"),
        [
            ("", "This field is required."),
            ("ADVISING", "This organization already has a service type called “ADVISING”."),
            ("x" * 61, "Ensure this value has at most 60 characters (it has 61)."),
        ],
    )
    def test_an_invalid_name_re_renders_with_the_error(
        self, admin_client_a: Client, tenant_a: Tenant, name: str, error: str
    ) -> None:
        response = admin_client_a.post(NEW, {"name": name})

        assert response.status_code == 200
        assert response.context["form"].errors == {"name": [error]}
        assert error in response.content.decode()
        assert names(tenant_a) == [("Advising", True), ("Tutoring", True)]

    def test_rename(self, admin_client_a: Client, tenant_a: Tenant) -> None:
        tutoring = of(tenant_a, "Tutoring")
        assert admin_client_a.get(edit_url(tutoring)).context["form"]["name"].value() == "Tutoring"

        response = admin_client_a.post(edit_url(tutoring), {"name": "Math help"})

        assert response["Location"] == LIST
        assert messages_of(response) == ["Tutoring is now called Math help."]
        tutoring.refresh_from_db()
        assert tutoring.name == "Math help"

    def test_rename_to_a_taken_name_re_renders_under_the_old_title(
        self, admin_client_a: Client, tenant_a: Tenant
    ) -> None:
        response = admin_client_a.post(edit_url(of(tenant_a, "Tutoring")), {"name": "advising"})

        assert response.status_code == 200
        assert response.context["form"].errors == {
            "name": ["This organization already has a service type called “advising”."]
        }
        assert '<h1 class="h3 mb-3">Rename Tutoring</h1>' in response.content.decode()
        assert names(tenant_a) == [("Advising", True), ("Tutoring", True)]

    def test_deactivate_then_reactivate(self, admin_client_a: Client, tenant_a: Tenant) -> None:
        advising = of(tenant_a, "Advising")

        response = admin_client_a.post(active_url(advising), {"active": "0", "confirm": "yes"})

        assert response["Location"] == LIST
        assert messages_of(response) == [
            "Advising is deactivated: new providers, packages, grants and relationships cannot "
            "use it; what already does keeps it."
        ]
        assert names(tenant_a) == [("Advising", False), ("Tutoring", True)]
        response = admin_client_a.post(active_url(advising), {"active": "1"})
        assert messages_of(response) == ["Advising is offered again."]
        assert names(tenant_a) == [("Advising", True), ("Tutoring", True)]

    def test_deactivating_needs_a_post(self, admin_client_a: Client, tenant_a: Tenant) -> None:
        assert admin_client_a.get(active_url(of(tenant_a, "Advising"))).status_code == 405

    @pytest.mark.parametrize("persona", ["provider_user", "student_user"])
    def test_other_roles_get_403(self, persona: str, tenant_a: Tenant) -> None:
        client = client_for(getattr(tenant_a, persona))
        advising = of(tenant_a, "Advising")

        assert client.get(LIST).status_code == 403
        assert client.post(NEW, {"name": "Planted"}).status_code == 403
        assert client.post(edit_url(advising), {"name": "Planted"}).status_code == 403
        assert client.post(active_url(advising), {"active": "0"}).status_code == 403
        assert names(tenant_a) == [("Advising", True), ("Tutoring", True)]

    def test_another_organizations_type_is_not_found(
        self, admin_client_a: Client, tenant_b: Tenant
    ) -> None:
        theirs = of(tenant_b, "Advising")
        mine_path = f"/o/alpha/service-types/{theirs.public_id}/"

        assert admin_client_a.get(mine_path + "edit/").status_code == 404
        assert admin_client_a.post(mine_path + "edit/", {"name": "Planted"}).status_code == 404
        assert admin_client_a.post(mine_path + "active/", {"active": "0"}).status_code == 404
        theirs.refresh_from_db()
        assert (theirs.name, theirs.is_active) == ("Advising", True)


# --- A deactivated type in the forms of every app -------------------------------------------


@pytest.fixture
def advising_off(tenant_a: Tenant) -> ServiceType:
    advising = of(tenant_a, "Advising")
    services.service_type_set_active(actor=tenant_a.admin, service_type=advising, active=False)
    return advising


@pytest.mark.parametrize(
    ("form_class", "field"),
    [
        (ProviderForm, "service_types"),
        (PackageForm, "service_types"),
        (GrantCreateForm, "service_types"),
        (ProposeForm, "service_type"),
    ],
)
def test_a_deactivated_type_is_not_offered_in_new_forms(
    form_class: type, field: str, tenant_a: Tenant, advising_off: ServiceType
) -> None:
    form = form_class(organization=tenant_a.organization)

    assert list(form.fields[field].queryset) == [of(tenant_a, "Tutoring")]


def test_a_new_provider_cannot_be_given_a_deactivated_type(
    admin_client_a: Client, tenant_a: Tenant, advising_off: ServiceType
) -> None:
    response = admin_client_a.post(
        "/o/alpha/providers/new/",
        {"name": "Ravi Shah", "service_types": [advising_off.public_id], "default_pay_rate": "40"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "service_types": [
            f"Select a valid choice. {advising_off.public_id} is not one of the available choices."
        ]
    }


def test_editing_a_provider_keeps_the_deactivated_type_they_offer(
    admin_client_a: Client, tenant_a: Tenant, advising_off: ServiceType
) -> None:
    provider = ProviderFactory(organization=tenant_a.organization, services=["Advising"])
    path = f"/o/alpha/providers/{provider.public_id}/edit/"

    form = admin_client_a.get(path).context["form"]
    choices = [(c.data["label"], c.data["selected"]) for c in form["service_types"]]
    assert choices == [("Advising (inactive)", True), ("Tutoring", False)]
    data = {
        "name": provider.name,
        "email": provider.email,
        "phone": "",
        "service_types": [advising_off.public_id],
        "default_pay_rate": "40",
        "bio": "",
    }
    assert admin_client_a.post(path, data).status_code == 302

    assert list(provider.service_types.all()) == [advising_off]


def test_an_admin_sets_and_edits_a_service_types_client_rate(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    slug = tenant_a.organization.slug
    response = admin_client_a.post(
        f"/o/{slug}/service-types/new/", {"name": "Coaching", "client_rate": "70.00"}
    )
    assert response.status_code == 302
    coaching = of(tenant_a, "Coaching")
    assert coaching.client_rate == Decimal("70.00")
    form = admin_client_a.get(edit_url(coaching)).context["form"]
    assert form.initial["client_rate"] == Decimal("70.00")
    response = admin_client_a.post(edit_url(coaching), {"name": "Coaching", "client_rate": "72.50"})
    assert messages_of(response) == ["Coaching was saved."]
    coaching.refresh_from_db()
    assert coaching.client_rate == Decimal("72.50")
    assert "72.50" in admin_client_a.get(f"/o/{slug}/service-types/").content.decode()
    # Blank keeps the rate; a negative one is refused on the field.
    admin_client_a.post(edit_url(coaching), {"name": "Coaching", "client_rate": ""})
    coaching.refresh_from_db()
    assert coaching.client_rate == Decimal("72.50")
    response = admin_client_a.post(edit_url(coaching), {"name": "Coaching", "client_rate": "-1"})
    assert response.context["form"].errors == {
        "client_rate": ["Ensure this value is greater than or equal to 0."]
    }
