"""A grant's total is at most 100,000 hours (6,000,000 minutes) or 10,000 sessions: a field
error in the add-hours form, a LedgerError in the ledger, for adjustments too (docs/rules.md,
"Errors people can read")."""

import pytest

from grants import services
from grants.models import Grant, Package, Unit
from grants.services import LedgerError
from matchpal.models import ServiceType
from tests.factories import make_grant
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

HOURS = "A grant holds at most 100,000 hours."
SESSIONS = "A grant holds at most 10,000 sessions."


def add_url(t: Tenant) -> str:
    return f"/o/{t.organization.slug}/students/{t.student.public_id}/hours/add/"


def post_add(t: Tenant, **data: object):  # type: ignore[no-untyped-def]
    client = client_for(t.admin)
    url = add_url(t)
    token = client.get(url).context["form"]["token"].value()
    return client.post(url, {"token": token, **data})


def types(t: Tenant) -> list[ServiceType]:
    return list(ServiceType.objects.filter(organization=t.organization, name="Tutoring"))


def test_the_add_hours_form_bounds_a_custom_total(tenant_a: Tenant) -> None:
    tutoring = types(tenant_a)[0].public_id
    response = post_add(tenant_a, amount="10001", unit="sessions", service_types=[tutoring])
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [SESSIONS]
    assert "is-invalid" in response.content.decode()
    response = post_add(tenant_a, amount="100001", unit="hours", service_types=[tutoring])
    assert response.context["form"].errors["amount"] == [
        "Ensure this value is less than or equal to 100000."
    ]
    assert not Grant.objects.exists()
    response = post_add(tenant_a, amount="100000", unit="hours", service_types=[tutoring])
    assert response.status_code == 302
    assert Grant.objects.get().total == 6_000_000


def test_the_add_hours_form_bounds_packages_times_count(tenant_a: Tenant) -> None:
    package = services.package_save(
        actor=tenant_a.admin,
        organization=tenant_a.organization,
        name="Many sessions",
        quantity=5_000,
        unit=Unit.SESSIONS,
        validity_days=None,
        price="1.00",
        service_types=types(tenant_a),
    )
    response = post_add(tenant_a, package=package.public_id, count="3")
    assert response.status_code == 200
    assert response.context["form"].errors["count"] == [SESSIONS]
    assert not Grant.objects.exists()
    assert post_add(tenant_a, package=package.public_id, count="2").status_code == 302


def test_the_ledger_bounds_a_grant_total(tenant_a: Tenant) -> None:
    with pytest.raises(LedgerError, match=SESSIONS) as error:
        services.grant_create(
            actor=tenant_a.admin,
            student=tenant_a.student,
            quantity=10_001,
            unit=Unit.SESSIONS,
            service_types=types(tenant_a),
        )
    assert error.value.field == "amount"
    with pytest.raises(LedgerError, match=HOURS):
        services.grant_create(
            actor=tenant_a.admin,
            student=tenant_a.student,
            quantity=2**31,
            unit=Unit.MINUTES,
            service_types=types(tenant_a),
        )
    assert not Grant.objects.exists()


def test_an_adjustment_cannot_push_a_total_past_the_cap(tenant_a: Tenant) -> None:
    grant = make_grant(student=tenant_a.student, minutes=5_999_000)
    with pytest.raises(LedgerError, match=HOURS):
        services.grant_adjust(actor=tenant_a.admin, grant=grant, delta=1_001, reason="More")
    services.grant_adjust(actor=tenant_a.admin, grant=grant, delta=1_000, reason="More")
    grant.refresh_from_db()
    assert grant.total == 6_000_000
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/grants/{grant.public_id}/adjust/"
    token = client.get(url).context["form"]["token"].value()
    response = client.post(
        url,
        {"token": token, "direction": "up", "amount": "1", "measure": "hours", "reason": "More"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [HOURS]
    grant.refresh_from_db()
    assert grant.total == 6_000_000


def test_a_package_holds_no_more_than_a_grant(tenant_a: Tenant) -> None:
    """A package is granted whole: one past the cap could be saved but never granted."""
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/packages/new/"
    tutoring = types(tenant_a)[0]
    response = client.post(
        url,
        {
            "name": "Lifetime",
            "amount": "10001",
            "measure": "sessions",
            "service_types": [tutoring.public_id],
            "price": "10.00",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [SESSIONS]
    assert not Package.objects.filter(organization=tenant_a.organization).exists()
    with pytest.raises(LedgerError, match="100,000 hours"):
        services.package_save(
            actor=tenant_a.admin,
            organization=tenant_a.organization,
            name="Lifetime",
            quantity=6_000_001,
            unit=Unit.MINUTES,
            service_types=types(tenant_a),
            validity_days=None,
            price=None,
        )
