"""The propose page: the form, its errors, double submits and who may use it."""

from decimal import Decimal

import pytest

from grants.reconcile import find_differences
from relationships.models import Relationship
from students.models import StudentStatus
from tests.factories import StudentFactory
from tests.relationships.lifecycle.support import HOLD, url
from tests.support import Tenant, balance, entries, past_grant, service_type

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def propose_form(tenant: Tenant, **overrides: str) -> dict[str, object]:
    org = tenant.organization
    data: dict[str, object] = {
        "student": tenant.student.public_id,
        "provider": tenant.provider.public_id,
        "service_type": service_type(org).public_id,
        "amount": "5",
        "measure": "hours",
        "provider_pay_rate": "",
        "client_rate": "60.00",
    }
    data.update(overrides)
    return data


def test_the_propose_page(
    tenant_a: Tenant, admin_client_a, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    page = admin_client_a.get(url(org, "new/"), {"student": tenant_a.student.public_id})
    assert page.status_code == 200
    form = page.context["form"]
    assert form["student"].value() == str(tenant_a.student.public_id)
    token = form["token"].value()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_a.post(url(org, "new/"), {**propose_form(tenant_a), "token": token})
    rel = Relationship.objects.get()
    assert response.status_code == 302
    assert response["Location"] == rel.get_absolute_url()
    assert (rel.provider_pay_rate, rel.client_rate) == (Decimal("35.00"), Decimal("60.00"))
    assert balance(grant) == (600, 0, 300)
    # The provider, the student and the guardian, each their own email.
    assert len(mailoutbox) == 3
    followed = admin_client_a.get(response["Location"])
    assert f"{tenant_a.provider.name} was asked to work with {tenant_a.student.name}." in [
        str(m) for m in followed.context["messages"]
    ]
    assert find_differences() == []


def test_the_propose_page_in_minutes(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    page = admin_client_a.get(url(org, "new/"))
    response = admin_client_a.post(
        url(org, "new/"),
        {
            **propose_form(tenant_a, amount="45", measure="minutes", provider_pay_rate="30"),
            "token": page.context["form"]["token"].value(),
        },
    )
    assert response.status_code == 302
    rel = Relationship.objects.get()
    assert rel.provider_pay_rate == Decimal("30.00")
    assert balance(grant) == (600, 0, 45)


def test_the_propose_page_rerenders_with_errors(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 240)
    token = admin_client_a.get(url(org, "new/")).context["form"]["token"].value()

    response = admin_client_a.post(
        url(org, "new/"), {**propose_form(tenant_a, amount="0", student=""), "token": token}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["student"] == ["This field is required."]
    assert errors["amount"] == ["Ensure this value is greater than or equal to 1."]

    response = admin_client_a.post(
        url(org, "new/"), {**propose_form(tenant_a), "token": "not-a-token"}
    )
    assert response.context["form"].errors["token"] == [
        "The form expired; reload the page and try again."
    ]

    # A shortfall found by the ledger: shown on the amount it concerns, the form kept.
    response = admin_client_a.post(url(org, "new/"), {**propose_form(tenant_a), "token": token})
    assert response.status_code == 200
    message = "Only 4 h are free to book for this service; reserving 5 h needs 1 h more."
    assert response.context["form"].errors["amount"] == [message]
    assert message in response.content.decode()
    assert response.context["form"]["amount"].value() == "5"

    # An inactive student is not a choice.
    other = StudentFactory(organization=tenant_a.organization)
    other.status = StudentStatus.INACTIVE
    other.save()
    response = admin_client_a.post(
        url(org, "new/"), {**propose_form(tenant_a, student=other.pk), "token": token}
    )
    assert response.context["form"].errors["student"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not Relationship.objects.exists()
    assert balance(grant) == (240, 0, 0)


def test_a_double_submitted_proposal_applies_once(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    token = admin_client_a.get(url(org, "new/")).context["form"]["token"].value()
    data = {**propose_form(tenant_a), "token": token}
    first = admin_client_a.post(url(org, "new/"), data)
    second = admin_client_a.post(url(org, "new/"), data)
    assert first.status_code == 302
    assert second.status_code == 302
    assert second["Location"] == url(org)
    assert [str(m) for m in admin_client_a.get(second["Location"]).context["messages"]] == [
        f"{tenant_a.provider.name} was asked to work with {tenant_a.student.name}.",
        "This was already applied; nothing changed.",
    ]
    assert Relationship.objects.count() == 1
    assert balance(grant) == (600, 0, 300)
    assert len(entries(kind=HOLD)) == 1
    assert find_differences() == []


def test_only_admins_propose(tenant_a: Tenant, provider_client_a, student_client_a) -> None:
    org = tenant_a.organization
    for client in (provider_client_a, student_client_a):
        assert client.get(url(org, "new/")).status_code == 403
        assert client.post(url(org, "new/"), propose_form(tenant_a)).status_code == 403
    assert not Relationship.objects.exists()
