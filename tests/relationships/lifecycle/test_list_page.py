"""The relationships list page: filters, columns, paging and who sees what."""

from datetime import timedelta

import pytest

from matchpal.models import Organization
from relationships import services
from relationships.models import Relationship
from sessions_app import services as session_services
from tests.factories import ProviderFactory, StudentFactory
from tests.relationships.lifecycle.support import url
from tests.support import (
    NOW,
    Tenant,
    at,
    member,
    other_provider,
    pair,
    paired,
    past_grant,
    propose,
    service_type,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def make_listing(tenant: Tenant) -> dict[str, Relationship]:
    """Five relationships of varied statuses, services, people and creation dates."""
    org = tenant.organization
    _, maria = other_provider(tenant, "maria@alpha.example", ("Tutoring", "Advising"))
    maria.name = "Maria Quinteros"
    maria.save()
    zed = StudentFactory(organization=org, name="Zed Alvarez")
    tenant.student.name = "Ann Baker"
    tenant.student.save()
    tenant.provider.name = "Paul Okafor"
    tenant.provider.save()
    for student in (tenant.student, zed):
        past_grant(student, 2000, service_types=("Tutoring", "Advising"))
    made = {
        "ann_paul": propose(tenant, quantity=60),
        "ann_maria_adv": propose(tenant, quantity=60, provider=maria, service_type="Advising"),
        "zed_paul": propose(tenant, quantity=60, student=zed),
        "zed_maria": propose(tenant, quantity=60, student=zed, provider=maria),
        "ann_maria": propose(tenant, quantity=60, provider=maria),
    }
    pair(tenant, made["ann_paul"])
    pair(tenant, made["zed_maria"])
    services.relationship_decline(membership=member(tenant.admin), relationship=made["zed_paul"])
    for key, days in (
        ("ann_paul", 20),
        ("ann_maria_adv", 10),
        ("zed_paul", 5),
        ("zed_maria", 2),
        ("ann_maria", 0),
    ):
        Relationship.objects.filter(pk=made[key].pk).update(created_at=NOW - timedelta(days=days))
    return made


def listed(client, org: Organization, **params: str) -> list[int]:  # type: ignore[no-untyped-def]
    response = client.get(url(org), params)
    assert response.status_code == 200
    return [r.pk for r in response.context["page"]]


def test_list_filters(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    made = make_listing(tenant_a)
    pk = {key: rel.pk for key, rel in made.items()}
    maria = made["zed_maria"].provider
    zed = made["zed_maria"].student

    newest_first = ["ann_maria", "zed_maria", "zed_paul", "ann_maria_adv", "ann_paul"]
    assert listed(admin_client_a, org) == [pk[k] for k in newest_first]
    assert listed(admin_client_a, org, status="paired") == [pk["zed_maria"], pk["ann_paul"]]
    assert listed(admin_client_a, org, status="declined") == [pk["zed_paul"]]
    assert listed(
        admin_client_a, org, service_type=str(service_type(org, "Advising").public_id)
    ) == [pk["ann_maria_adv"]]
    assert listed(admin_client_a, org, provider=str(maria.public_id)) == [
        pk["ann_maria"],
        pk["zed_maria"],
        pk["ann_maria_adv"],
    ]
    assert listed(admin_client_a, org, student=str(zed.public_id)) == [
        pk["zed_maria"],
        pk["zed_paul"],
    ]
    assert listed(
        admin_client_a, org, provider=str(maria.public_id), student=str(zed.public_id)
    ) == [pk["zed_maria"]]
    # Created dates, inclusive, in the organization's days.
    assert listed(
        admin_client_a,
        org,
        created_after=(NOW - timedelta(days=10)).date().isoformat(),
        created_before=(NOW - timedelta(days=2)).date().isoformat(),
    ) == [pk["zed_maria"], pk["zed_paul"], pk["ann_maria_adv"]]
    assert listed(admin_client_a, org, created_before="2025-05-22") == [pk["ann_paul"]]
    # The search looks in the student's and the provider's names.
    assert listed(admin_client_a, org, q="alvarez") == [pk["zed_maria"], pk["zed_paul"]]
    assert listed(admin_client_a, org, q=" QUINTEROS ") == [
        pk["ann_maria"],
        pk["zed_maria"],
        pk["ann_maria_adv"],
    ]
    assert listed(admin_client_a, org, q="okafor", status="proposed") == []
    assert listed(admin_client_a, org, q="nobody") == []


def test_list_shows_allocated_used_and_remaining(tenant_a: Tenant, admin_client_a) -> None:
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    session_services.session_log(
        membership=member(tenant_a.admin), relationship=rel, starts_at=at(10, 15), duration=90
    )
    response = admin_client_a.get(url(tenant_a.organization))
    row = response.context["page"][0]
    assert (row.held, row.consumed) == (210, 90)
    html = response.content.decode()
    assert '<td class="text-end">5 h</td>' in html
    assert '<td class="text-end">1 h 30 min</td>' in html
    assert '<td class="text-end">3 h 30 min</td>' in html


def test_list_paginates(tenant_a: Tenant, admin_client_a, settings) -> None:
    settings.MATCHPAL_PAGE_SIZE = 4
    org = tenant_a.organization
    past_grant(tenant_a.student, 6000, service_types=("Tutoring", "Advising"))
    made = []
    for i in range(10):
        provider = ProviderFactory(organization=org, services=["Tutoring"])
        made.append(propose(tenant_a, quantity=60, provider=provider))
        Relationship.objects.filter(pk=made[-1].pk).update(created_at=NOW - timedelta(hours=i))
    newest_first = [r.pk for r in made]
    first = admin_client_a.get(url(org))
    assert first.context["page"].paginator.num_pages == 3
    assert [r.pk for r in first.context["page"]] == newest_first[:4]
    assert "Page 1 of 3" in first.content.decode()
    assert listed(admin_client_a, org, page="2") == newest_first[4:8]
    assert listed(admin_client_a, org, page="3") == newest_first[8:]
    assert listed(admin_client_a, org, page="99") == newest_first[8:]
    assert listed(admin_client_a, org, page="x") == newest_first[:4]
    # Filters carry over to the next page's link.
    response = admin_client_a.get(url(org), {"status": "proposed"})
    assert "?status=proposed&page=2" in response.content.decode()


def test_a_provider_lists_only_their_own(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    _, other = other_provider(tenant_a)
    own = propose(tenant_a, quantity=60)
    propose(tenant_a, quantity=60, provider=other)
    assert listed(provider_client_a, org) == [own.pk]


def test_a_student_may_not_list(tenant_a: Tenant, student_client_a) -> None:
    assert student_client_a.get(url(tenant_a.organization)).status_code == 403


def test_another_tenant_sees_nothing(tenant_a: Tenant, tenant_b: Tenant, admin_client_b) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    org_a = tenant_a.organization
    assert admin_client_b.get(url(org_a)).status_code == 404
    assert admin_client_b.get(url(org_a, f"{rel.public_id}/")).status_code == 404
    # Under their own organization's address the relationship does not exist either.
    assert admin_client_b.get(url(tenant_b.organization, f"{rel.public_id}/")).status_code == 404
    assert (
        admin_client_b.post(
            url(tenant_b.organization, f"{rel.public_id}/cancel/"), {"reason": "x"}
        ).status_code
        == 404
    )
    rel.refresh_from_db()
    assert rel.status == "proposed"
