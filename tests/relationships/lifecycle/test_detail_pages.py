"""The relationship detail page and its actions: accept, decline, cancel, complete, allocation."""

from decimal import Decimal

import pytest

from grants.reconcile import find_differences
from sessions_app import services as session_services
from tests.factories import StudentFactory
from tests.relationships.lifecycle.support import history, url
from tests.support import (
    Tenant,
    at,
    balance,
    client_for,
    member,
    other_provider,
    paired,
    past_grant,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_the_detail_page_shows_allocated_used_and_remaining(
    tenant_a: Tenant, admin_client_a
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = paired(
        tenant_a, quantity=300, provider_pay_rate=Decimal("40.00"), client_rate=Decimal("50.00")
    )
    session_services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 15),
        duration=90,
    )
    response = admin_client_a.get(url(org, f"{rel.public_id}/"))
    assert response.status_code == 200
    assert response.context["allocated"] == 300
    html = response.content.decode()
    assert '<div class="fs-5">5 h</div>' in html
    assert '<div class="fs-5">1 h 30 min</div>' in html
    assert '<div class="fs-5" data-testid="remaining">3 h 30 min</div>' in html
    assert '<td class="text-end">60.00</td><td class="text-end">75.00</td>' in html
    assert "provider 40.00 · client 50.00" in html
    assert [s.pk for s in response.context["sessions"]] == [rel.sessions.get().pk]
    assert [h.to_status for h in response.context["history"]] == ["proposed", "paired"]
    assert "Change allocation" in html


def test_the_provider_accepts_by_post(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    detail = provider_client_a.get(url(org, f"{rel.public_id}/"))
    assert detail.status_code == 200
    assert (
        f'action="/o/{org.slug}/relationships/{rel.public_id}/accept/"' in detail.content.decode()
    )
    assert provider_client_a.get(url(org, f"{rel.public_id}/accept/")).status_code == 405

    response = provider_client_a.post(url(org, f"{rel.public_id}/accept/"))
    assert response.status_code == 302
    assert response["Location"] == rel.get_absolute_url()
    assert [str(m) for m in provider_client_a.get(response["Location"]).context["messages"]] == [
        "You accepted the proposal."
    ]
    rel.refresh_from_db()
    assert rel.status == "paired"
    assert history(rel)[-1] == ("proposed", "paired", tenant_a.provider_user, "Accepted")

    # Accepting again: the error is shown on the detail page, nothing changes.
    response = provider_client_a.post(url(org, f"{rel.public_id}/accept/"), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "This relationship is paired; it cannot become paired."
    ]
    assert len(history(rel)) == 2


def test_the_provider_declines_with_a_reason(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=120)
    form = provider_client_a.get(url(org, f"{rel.public_id}/decline/"))
    assert form.status_code == 200
    assert form.context["title"] == "Decline the proposal"
    response = provider_client_a.post(
        url(org, f"{rel.public_id}/decline/"), {"reason": "No evenings free"}
    )
    assert response.status_code == 302
    rel.refresh_from_db()
    assert rel.status == "declined"
    assert history(rel)[-1] == ("proposed", "declined", tenant_a.provider_user, "No evenings free")
    assert balance(grant) == (600, 0, 0)
    assert find_differences() == []


def test_admin_pages_cancel_complete_and_allocation(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=120)
    base = url(org, f"{rel.public_id}/")

    response = admin_client_a.post(
        base + "allocation/", {"amount": "3", "measure": "hours", "reason": "Exams"}
    )
    assert response.status_code == 302
    assert balance(grant) == (600, 0, 180)
    response = admin_client_a.post(base + "allocation/", {"amount": "700", "measure": "minutes"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Only 7 h are free to book for this service; reserving 8 h 40 min needs 1 h 40 min more."
    ]

    response = admin_client_a.post(base + "cancel/", {"reason": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    response = admin_client_a.post(base + "complete/", {"reason": ""})
    assert response.status_code == 302
    rel.refresh_from_db()
    assert rel.status == "completed"
    assert balance(grant) == (600, 0, 0)
    response = admin_client_a.post(base + "cancel/", {"reason": "Too late"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This relationship is completed; it cannot become cancelled."
    ]
    assert find_differences() == []


def test_the_allocation_page_of_a_relationship_counting_sessions(
    tenant_a: Tenant, admin_client_a
) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 10, unit="sessions")
    rel = propose(tenant_a, quantity=4, unit="sessions")
    response = admin_client_a.post(
        url(org, f"{rel.public_id}/allocation/"), {"amount": "6", "measure": "hours"}
    )
    assert response.status_code == 302
    assert balance(grant) == (10, 0, 6)
    response = admin_client_a.post(
        url(org, f"{rel.public_id}/allocation/"), {"amount": "11", "measure": "hours"}
    )
    assert response.context["form"].non_field_errors() == [
        "Only 4 sessions are free to book for this service; "
        "reserving 5 sessions needs 1 session more."
    ]
    detail = admin_client_a.get(url(org, f"{rel.public_id}/")).content.decode()
    assert '<div class="fs-5" data-testid="remaining">6 sessions</div>' in detail
    assert find_differences() == []


def test_providers_may_not_use_admin_actions(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=120)
    for action, data in (
        ("cancel/", {"reason": "x"}),
        ("complete/", {}),
        ("allocation/", {"amount": "1", "measure": "hours"}),
    ):
        assert (
            provider_client_a.post(url(org, f"{rel.public_id}/{action}"), data).status_code == 403
        )
    rel.refresh_from_db()
    assert rel.status == "paired"
    assert balance(grant) == (600, 0, 120)


def test_a_provider_cannot_see_or_answer_another_providers_relationship(
    tenant_a: Tenant, provider_client_a
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    _, other = other_provider(tenant_a)
    theirs = propose(tenant_a, quantity=60, provider=other)
    for path in ("", "decline/"):
        assert provider_client_a.get(url(org, f"{theirs.public_id}/{path}")).status_code == 404
    assert provider_client_a.post(url(org, f"{theirs.public_id}/accept/")).status_code == 404
    assert (
        provider_client_a.post(
            url(org, f"{theirs.public_id}/decline/"), {"reason": "x"}
        ).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == "proposed"


def test_a_student_sees_their_own_relationship_only(tenant_a: Tenant, student_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    own = paired(tenant_a, quantity=120)
    someone = StudentFactory(organization=org)
    past_grant(someone, 600)
    theirs = propose(tenant_a, quantity=60, student=someone)

    response = student_client_a.get(url(org, f"{own.public_id}/"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rates per hour" not in html
    assert "Change allocation" not in html
    assert "Log session" not in html
    assert student_client_a.get(url(org, f"{theirs.public_id}/")).status_code == 404
    assert student_client_a.post(url(org, f"{own.public_id}/accept/")).status_code == 403
    assert (
        student_client_a.post(url(org, f"{own.public_id}/cancel/"), {"reason": "x"}).status_code
        == 403
    )


def test_an_unknown_relationship_is_a_404(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    assert admin_client_a.get(url(org, "6f1c1c1e-3c55-4c39-9f0b-2d1cf0f0a001/")).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(tenant_a: Tenant) -> None:
    response = client_for(None).get(url(tenant_a.organization))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
