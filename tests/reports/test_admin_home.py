"""The admin home's "Needs attention" figures: real rows of this organization only."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.woocommerce.models import ErrorKind, OrderError, Store
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.support import Tenant, client_for, propose

pytestmark = pytest.mark.django_db


def attention(tenant: Tenant) -> dict:  # type: ignore[type-arg]
    response = client_for(tenant.admin).get(reverse("org_home", args=[tenant.organization.slug]))
    assert response.status_code == 200
    return response.context["attention"]


def fill(tenant: Tenant) -> None:
    """One proposal, a disputed session, a session past its start still scheduled, a session
    delivered this week, and an open order error."""
    org = tenant.organization
    make_grant(student=tenant.student, minutes=600)
    propose(tenant, quantity=120)
    paired = RelationshipFactory(organization=org)
    now = timezone.now()
    SessionFactory(
        relationship=paired,
        starts_at=now - timedelta(days=20),
        duration_minutes=45,
        disputed_at=now,
        dispute_reason="We met for 30 minutes only.",
    )
    SessionFactory(relationship=paired, starts_at=now - timedelta(hours=3), status="scheduled")
    SessionFactory(relationship=paired, starts_at=now - timedelta(minutes=90), duration_minutes=50)
    store = Store.objects.create(organization=org, name="Shop", store_url="https://s.example/")
    OrderError.objects.create(
        organization=org, store=store, kind=ErrorKind.UNKNOWN_PRODUCT, message="Unmapped"
    )


def test_the_admin_home_counts_what_needs_attention(tenant_a: Tenant, tenant_b: Tenant) -> None:
    fill(tenant_a)
    fill(tenant_b)  # the other organization's rows are never counted
    figures = attention(tenant_a)
    assert figures["proposal_count"] == 1
    assert [r.student for r in figures["proposals"]] == [tenant_a.student]
    assert figures["disputed_count"] == 1
    assert figures["disputed"][0].dispute_reason == "We met for 30 minutes only."
    assert figures["to_log"] == 1
    assert figures["open_order_errors"] == 1


def test_the_page_shows_the_figures_and_links(tenant_a: Tenant) -> None:
    fill(tenant_a)
    response = client_for(tenant_a.admin).get(
        reverse("org_home", args=[tenant_a.organization.slug])
    )
    html = response.content.decode()
    assert "Proposals awaiting an answer" in html
    assert "We met for 30 minutes only." in html
    assert reverse("woocommerce:error_list", args=["alpha"]) in html
    assert f"{tenant_a.student.name} with {tenant_a.provider.name}" in html


def test_resolved_errors_and_confirmed_disputes_drop_off(tenant_a: Tenant) -> None:
    fill(tenant_a)
    OrderError.objects.update(resolved_at=timezone.now())
    from sessions_app.models import Session

    Session.objects.filter(disputed_at__isnull=False).update(status="cancelled")
    figures = attention(tenant_a)
    assert (figures["open_order_errors"], figures["disputed_count"]) == (0, 0)


@pytest.mark.parametrize(("status", "counted"), [("paired", 1), ("completed", 0), ("cancelled", 0)])
def test_only_a_paired_relationships_past_scheduled_sessions_are_to_log(
    tenant_a: Tenant, status: str, counted: int
) -> None:
    """As the provider's home lists them: an ended relationship's sessions cannot be logged."""
    rel = RelationshipFactory(organization=tenant_a.organization, status=status)
    now = timezone.now()
    SessionFactory(relationship=rel, starts_at=now - timedelta(hours=3), status="scheduled")
    # Neither still to come nor already logged: never counted.
    SessionFactory(relationship=rel, starts_at=now + timedelta(hours=3), status="scheduled")
    SessionFactory(relationship=rel, starts_at=now - timedelta(hours=5))
    assert attention(tenant_a)["to_log"] == counted


def test_this_week_counts_the_week_s_sessions_by_outcome_in_the_center_s_zone(
    tenant_a: Tenant,
) -> None:
    """The dashboard's week (reports.dashboard): every session starting this week in the
    organization's zone, by status; delivered = the completed sessions' durations."""
    from sessions_app.selectors import this_week

    rel = RelationshipFactory(organization=tenant_a.organization, status="paired")
    start, end = this_week(tenant_a.organization)
    inside = start + timedelta(hours=10)
    SessionFactory(relationship=rel, starts_at=inside, charged_minutes=50)
    SessionFactory(
        relationship=rel,
        starts_at=inside + timedelta(hours=1),
        status="no_show",
        charged_minutes=30,
    )
    SessionFactory(
        relationship=rel,
        starts_at=inside + timedelta(hours=2),
        status="cancelled",
        charged_minutes=20,
    )
    # Not delivered: an uncharged cancellation, a scheduled session, last week's and next week's.
    SessionFactory(
        relationship=rel,
        starts_at=inside + timedelta(hours=3),
        status="cancelled",
        charged_minutes=0,
    )
    SessionFactory(relationship=rel, starts_at=inside + timedelta(hours=4), status="scheduled")
    SessionFactory(relationship=rel, starts_at=start - timedelta(minutes=1), charged_minutes=60)
    SessionFactory(relationship=rel, starts_at=end, charged_minutes=60)
    home = reverse("org_home", args=[tenant_a.organization.slug])
    week = client_for(tenant_a.admin).get(home).context["week"]
    assert (week.sessions, week.completed, week.no_shows, week.cancelled, week.scheduled) == (
        5,
        1,
        1,
        2,
        1,
    )
    assert week.delivered_minutes == 60
