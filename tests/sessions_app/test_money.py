"""Money follows what was charged (docs/rules.md, "Money"): the minutes actually charged, at the
rates the session was logged at, paid to the provider per the confirmation rule and the
center's setting for charged absences; the client amount shown to providers only where the
center allows it."""

from datetime import timedelta
from decimal import Decimal

import pytest

from relationships.models import Relationship
from sessions_app import selectors, services
from sessions_app.models import Money, Session
from tests.support import (
    Tenant,
    at,
    log_as_admin,
    member,
    membership,
    paired,
    past_grant,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def rel(tenant_a: Tenant) -> Relationship:
    past_grant(tenant_a.student, 900)
    return paired(
        tenant_a, quantity=600, provider_pay_rate=Decimal("40.00"), client_rate=Decimal("50.00")
    )


def money(session: Session) -> Money:
    """The session's money both ways; they must agree."""
    python = Session.objects.get(pk=session.pk).money()
    row = Session.objects.with_money().get(pk=session.pk)
    sql = Money(
        charged_minutes=row.money_minutes,
        paid_minutes=row.paid_minutes,
        provider_earnings=row.provider_earnings,
        client_amount=row.client_amount,
    )
    assert python == sql
    return python


def amounts(session: Session) -> tuple[int, int, Decimal, Decimal]:
    m = money(session)
    return m.charged_minutes, m.paid_minutes, m.provider_earnings, m.client_amount


def set_rates(relationship: Relationship, pay: str, client: str) -> None:
    Relationship.objects.filter(pk=relationship.pk).update(
        provider_pay_rate=Decimal(pay), client_rate=Decimal(client)
    )
    relationship.refresh_from_db()


def test_a_session_keeps_the_rates_it_was_logged_at(tenant_a: Tenant, rel) -> None:
    before = log_as_admin(tenant_a, rel, at(10, 9), 90)
    scheduled = log_as_admin(tenant_a, rel, at(10, 14), 60, scheduled=True)
    set_rates(rel, "60.00", "80.00")
    after = log_as_admin(tenant_a, rel, at(10, 11), 30)
    assert amounts(before) == (90, 90, Decimal("60.00"), Decimal("75.00"))
    assert amounts(after) == (30, 30, Decimal("30.00"), Decimal("40.00"))
    # Scheduled: nothing yet; completed: the rates of the moment it is logged.
    assert amounts(scheduled) == (0, 0, Decimal("0.00"), Decimal("0.00"))
    set_rates(rel, "44.00", "66.00")
    services.session_complete(membership=member(tenant_a.admin), session=scheduled)
    assert amounts(scheduled) == (60, 60, Decimal("44.00"), Decimal("66.00"))


def test_a_revision_is_worth_its_review_time(tenant_a: Tenant, rel) -> None:
    reviewed = log_as_admin(tenant_a, rel, at(10, 9), 90, kind="revision", review_minutes=30)
    assert amounts(reviewed) == (30, 30, Decimal("20.00"), Decimal("25.00"))
    set_policy(tenant_a.organization, revision_minutes=45)
    fixed = log_as_admin(tenant_a, rel, at(10, 14), 90, kind="revision")
    assert amounts(fixed) == (45, 45, Decimal("30.00"), Decimal("37.50"))


def test_a_cancelled_session_is_worth_nothing_unless_charged(tenant_a: Tenant, rel) -> None:
    done = log_as_admin(tenant_a, rel, at(10, 9), 60)
    services.session_cancel(
        membership=member(tenant_a.admin), session=done, reason="Logged by mistake"
    )
    assert amounts(done) == (0, 0, Decimal("0.00"), Decimal("0.00"))
    early = log_as_admin(tenant_a, rel, at(20, 9), 60, scheduled=True)
    services.session_cancel(membership=member(tenant_a.admin), session=early, reason="Holiday")
    assert amounts(early) == (0, 0, Decimal("0.00"), Decimal("0.00"))


def test_charged_absences_pay_the_provider_per_the_centers_setting(tenant_a: Tenant, rel) -> None:
    org = set_policy(tenant_a.organization, late_cancellation_charge="full", no_show_charge="full")
    assert org.pay_providers_for_charged_absences is True
    now = at(11, 12)
    late = log_as_admin(tenant_a, rel, now + timedelta(hours=2), 60, scheduled=True)
    services.session_cancel(membership=member(tenant_a.admin), session=late, reason="Ill")
    assert amounts(late) == (60, 60, Decimal("40.00"), Decimal("50.00"))
    absent = log_as_admin(tenant_a, rel, at(10, 9), 90)
    services.session_no_show(membership=member(tenant_a.admin), session=absent, party="student")
    assert amounts(absent) == (90, 90, Decimal("60.00"), Decimal("75.00"))
    provider_absent = log_as_admin(tenant_a, rel, at(10, 14), 30)
    services.session_no_show(
        membership=member(tenant_a.admin), session=provider_absent, party="provider"
    )
    assert amounts(provider_absent) == (0, 0, Decimal("0.00"), Decimal("0.00"))

    set_policy(org, pay_providers_for_charged_absences=False)
    # The client is still charged; the provider is not paid for it.
    assert amounts(late) == (60, 0, Decimal("0.00"), Decimal("50.00"))
    assert amounts(absent) == (90, 0, Decimal("0.00"), Decimal("75.00"))


def test_confirmation_rule_applies_to_completed_sessions(tenant_a: Tenant, rel) -> None:
    set_policy(tenant_a.organization, require_student_confirmation=True)
    session = log_as_admin(tenant_a, rel, at(10, 9), 90)
    assert amounts(session) == (90, 0, Decimal("0.00"), Decimal("75.00"))
    services.session_confirm(membership=member(tenant_a.student_user), session=session)
    assert amounts(session) == (90, 90, Decimal("60.00"), Decimal("75.00"))


def test_a_relationship_counting_sessions_is_worth_the_sessions_minutes(
    tenant_a: Tenant,
) -> None:
    past_grant(tenant_a.student, 3, unit="sessions")
    rel = paired(
        tenant_a,
        quantity=3,
        unit="sessions",
        provider_pay_rate=Decimal("40.00"),
        client_rate=Decimal("50.00"),
    )
    session = log_as_admin(tenant_a, rel, at(10, 9), 45)
    assert Session.objects.get(pk=session.pk).charged_minutes == 1
    assert amounts(session) == (45, 45, Decimal("30.00"), Decimal("37.50"))


def test_provider_home_shows_what_was_earned(tenant_a: Tenant, rel, provider_client_a) -> None:
    org = tenant_a.organization
    log_as_admin(tenant_a, rel, at(10, 9), 90)
    set_rates(rel, "100.00", "100.00")
    earned = selectors.earnings(
        organization=org, membership=membership(tenant_a.provider_user, org), since=at(9, 0)
    )
    assert (earned.minutes, earned.amount) == (90, Decimal("60.00"))
    html = provider_client_a.get(f"/o/{org.slug}/").content.decode()
    assert "Earnings 60.00" in html


@pytest.mark.parametrize("allowed", [False, True])
def test_providers_see_the_client_amount_only_where_allowed(
    tenant_a: Tenant, rel, provider_client_a, admin_client_a, allowed: bool
) -> None:
    set_policy(tenant_a.organization, providers_see_client_amount=allowed)
    session = log_as_admin(tenant_a, rel, at(10, 9), 90)
    slug = tenant_a.organization.slug
    for url in (
        f"/o/{slug}/sessions/{session.public_id}/",
        f"/o/{slug}/relationships/{rel.public_id}/",
    ):
        html = provider_client_a.get(url).content.decode()
        assert "60.00" in html
        assert ("75.00" in html) is allowed
        assert "75.00" in admin_client_a.get(url).content.decode()
