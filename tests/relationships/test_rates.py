"""Admins change a relationship's rates with a reason; the history is kept and shown, and
sessions already logged keep their rates (docs/rules.md, "Money")."""

from decimal import Decimal

import pytest

from relationships.models import Relationship, RelationshipRateChange
from sessions_app import services as session_services
from sessions_app.models import Session
from tests.support import Tenant, at, member, paired, past_grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def rel(tenant_a: Tenant) -> Relationship:
    past_grant(tenant_a.student, 900)
    return paired(
        tenant_a, quantity=600, provider_pay_rate=Decimal("40.00"), client_rate=Decimal("50.00")
    )


def url(tenant: Tenant, rel: Relationship) -> str:
    return f"/o/{tenant.organization.slug}/relationships/{rel.public_id}/rates/"


def test_an_admin_changes_the_rates_with_a_reason_and_sees_the_history(
    tenant_a: Tenant, rel, admin_client_a
) -> None:
    logged = session_services.session_log(
        membership=member(tenant_a.admin), relationship=rel, starts_at=at(10, 9), duration=60
    )
    detail = admin_client_a.get(rel.get_absolute_url()).content.decode()
    assert url(tenant_a, rel) in detail

    response = admin_client_a.post(
        url(tenant_a, rel), {"provider_pay_rate": "45.00", "client_rate": "55.00", "reason": " "}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert not RelationshipRateChange.objects.exists()

    response = admin_client_a.post(
        url(tenant_a, rel),
        {"provider_pay_rate": "45.00", "client_rate": "55.00", "reason": "New school year"},
    )
    assert response.status_code == 302
    rel.refresh_from_db()
    assert (rel.provider_pay_rate, rel.client_rate) == (Decimal("45.00"), Decimal("55.00"))
    change = RelationshipRateChange.objects.get()
    assert (
        change.organization_id,
        change.actor,
        change.provider_pay_rate_before,
        change.provider_pay_rate_after,
        change.client_rate_before,
        change.client_rate_after,
        change.reason,
    ) == (
        tenant_a.organization.pk,
        tenant_a.admin,
        Decimal("40.00"),
        Decimal("45.00"),
        Decimal("50.00"),
        Decimal("55.00"),
        "New school year",
    )
    # The session logged before keeps its rates.
    money = Session.objects.get(pk=logged.pk).money()
    assert (money.provider_earnings, money.client_amount) == (Decimal("40.00"), Decimal("50.00"))

    html = admin_client_a.get(url(tenant_a, rel)).content.decode()
    assert "provider pay 40.00 → 45.00, client 50.00 → 55.00" in html
    assert "New school year" in html


def test_the_same_rates_are_refused_and_nothing_is_written(
    tenant_a: Tenant, rel, admin_client_a
) -> None:
    response = admin_client_a.post(
        url(tenant_a, rel),
        {"provider_pay_rate": "40.00", "client_rate": "50.00", "reason": "No change"},
    )
    assert response.context["form"].non_field_errors() == [
        "These are already the relationship's rates."
    ]
    assert not RelationshipRateChange.objects.exists()


def test_providers_and_students_cannot_change_rates(
    tenant_a: Tenant, rel, provider_client_a, student_client_a
) -> None:
    data = {"provider_pay_rate": "99.00", "client_rate": "99.00", "reason": "Mine"}
    for client in (provider_client_a, student_client_a):
        assert client.post(url(tenant_a, rel), data).status_code == 403
    rel.refresh_from_db()
    assert rel.provider_pay_rate == Decimal("40.00")
    assert not RelationshipRateChange.objects.exists()
