"""The propose form never silently saves a rate of 0.00: blank rates take the provider's
default pay rate and the service type's client rate, 0.00 needs "No charge / unpaid", and the
rates are shown before saving, with or without the page's script (docs/rules.md, "Money")."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from matchpal.models import ServiceType
from providers.models import Provider
from relationships.models import Relationship
from tests.support import Tenant, past_grant

pytestmark = pytest.mark.django_db

ZERO = 'This rate comes to 0.00: enter a rate, or tick "No charge / unpaid" to save 0.00.'


def new_url(tenant: Tenant) -> str:
    return f"/o/{tenant.organization.slug}/relationships/new/"


def tutoring(tenant: Tenant) -> ServiceType:
    return tenant.organization.service_types.get(name="Tutoring")


def form_data(client: Client, tenant: Tenant, **overrides: str) -> dict[str, object]:
    token = client.get(new_url(tenant)).context["form"]["token"].value()
    data: dict[str, object] = {
        "student": tenant.student.public_id,
        "provider": tenant.provider.public_id,
        "service_type": tutoring(tenant).public_id,
        "amount": "2",
        "measure": "hours",
        "provider_pay_rate": "",
        "client_rate": "",
        "token": token,
    }
    data.update(overrides)
    return data


@pytest.fixture
def priced(tenant_a: Tenant) -> Tenant:
    past_grant(tenant_a.student, 600)
    Provider.objects.filter(pk=tenant_a.provider.pk).update(default_pay_rate=Decimal("35.00"))
    ServiceType.objects.filter(pk=tutoring(tenant_a).pk).update(client_rate=Decimal("65.00"))
    return tenant_a


def test_blank_rates_take_the_provider_and_service_type_defaults(
    priced: Tenant, admin_client_a: Client
) -> None:
    response = admin_client_a.post(new_url(priced), form_data(admin_client_a, priced))
    assert response.status_code == 302
    rel = Relationship.objects.get()
    assert (rel.provider_pay_rate, rel.client_rate) == (Decimal("35.00"), Decimal("65.00"))


def test_a_rate_of_zero_needs_the_no_charge_confirmation(
    priced: Tenant, admin_client_a: Client
) -> None:
    ServiceType.objects.filter(pk=tutoring(priced).pk).update(client_rate=Decimal("0.00"))
    response = admin_client_a.post(new_url(priced), form_data(admin_client_a, priced))
    assert response.status_code == 200
    assert response.context["form"].errors == {"client_rate": [ZERO]}
    response = admin_client_a.post(
        new_url(priced), form_data(admin_client_a, priced, provider_pay_rate="0")
    )
    assert response.context["form"].errors == {"provider_pay_rate": [ZERO], "client_rate": [ZERO]}
    assert not Relationship.objects.exists()

    response = admin_client_a.post(
        new_url(priced), form_data(admin_client_a, priced, no_charge="on")
    )
    assert response.status_code == 302
    rel = Relationship.objects.get()
    assert (rel.provider_pay_rate, rel.client_rate) == (Decimal("35.00"), Decimal("0.00"))


def test_the_rates_are_shown_before_saving_without_a_script(
    priced: Tenant, admin_client_a: Client
) -> None:
    response = admin_client_a.post(
        new_url(priced), form_data(admin_client_a, priced, client_rate="70", preview="1")
    )
    assert response.status_code == 200
    assert not Relationship.objects.exists()
    html = response.content.decode()
    assert 'provider pay <strong data-rate="provider_pay_rate">35.00</strong>' in html
    assert 'client <strong data-rate="client_rate">70.00</strong>' in html


def test_the_page_gives_its_script_each_choices_default(
    priced: Tenant, admin_client_a: Client
) -> None:
    response = admin_client_a.get(new_url(priced))
    defaults = json.loads(response.context["defaults"])
    assert defaults["provider"] == {}
    assert defaults["service_type"][str(tutoring(priced).public_id)] == "65.00"
    html = response.content.decode()
    assert 'src="/static/js/propose-rates.js"' in html
    assert "<script>" not in html
    # A provider found in the search field brings its default along (the script reads it).
    matches = admin_client_a.get(
        f"/o/{priced.organization.slug}/relationships/search/providers/",
        {"active": "1", "provider_search": priced.provider.name[:3]},
    )
    assert (
        f'data-value="{priced.provider.public_id}" data-label="{priced.provider.name}" '
        'data-rate="35.00"'
    ) in matches.content.decode()
    # A provider already chosen (the form shown again) is in the page's own table.
    data = {**form_data(admin_client_a, priced), "preview": "1"}
    shown = admin_client_a.post(new_url(priced), data)
    chosen = json.loads(shown.context["defaults"])["provider"]
    assert chosen == {str(priced.provider.public_id): "35.00"}
