"""The no-show rule (docs/scheduling.md, "No-show rules"): X student no-shows within Y days
suspend booking; the student is warned at X − 1; an admin lifts it, and that is kept."""

from datetime import timedelta

import pytest
from django.urls import reverse

from matchpal.models import Notification
from sessions_app import services
from students.models import BookingSuspension
from students.selectors import booking_suspended
from students.services import NOT_SUSPENDED, booking_suspension_lift
from tests.support import NOW, Tenant, client_for, log, member, refused, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def rule(tenant_a: Tenant) -> None:
    set_policy(tenant_a.organization, no_show_suspension_count=3, no_show_suspension_days=30)


def _no_show(tenant: Tenant, rel, days_ago: float, capture) -> None:  # type: ignore[no-untyped-def]
    session = log(tenant, rel, starts_at=NOW - timedelta(days=days_ago), scheduled=True)
    with capture(execute=True):
        services.session_no_show(membership=member(tenant.admin), session=session, party="student")


def _ours(outbox) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    """The no-show rule's emails (subject, to), leaving out the other notices of a no-show."""
    return [
        (m.subject, m.to)
        for m in outbox
        if "suspended" in m.subject or "missed session" in m.subject
    ]


def test_warned_at_two_suspended_at_three(
    tenant_a: Tenant, rel, grant, rule, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    _no_show(tenant_a, rel, 10, django_capture_on_commit_callbacks)
    assert _ours(mailoutbox) == []

    _no_show(tenant_a, rel, 5, django_capture_on_commit_callbacks)
    student = [tenant_a.student.email]
    assert _ours(mailoutbox) == [
        ("[Matchpal] A missed session: booking could be suspended", student)
    ]
    (warning,) = [m for m in mailoutbox if "missed session" in m.subject]
    assert "That is 2 missed within 30 days; at 3," in warning.body
    assert not booking_suspended(tenant_a.student)

    _no_show(tenant_a, rel, 1, django_capture_on_commit_callbacks)
    assert booking_suspended(tenant_a.student)
    suspension = BookingSuspension.objects.get()
    assert (suspension.no_shows, suspension.lifted_at) == (3, None)
    assert _ours(mailoutbox)[1:] == [
        ("[Matchpal] Booking suspended after repeated no-shows", student),
        (f"[Matchpal] {tenant_a.student.name}'s booking is suspended", [tenant_a.admin.email]),
    ]
    notice = Notification.objects.get(user=tenant_a.admin, kind="booking_suspended")
    assert notice.text == (
        f"{tenant_a.student.name}'s booking is suspended: 3 no-shows within 30 days. "
        "Lift it on the student's page."
    )


@pytest.mark.parametrize(("oldest_days_ago", "suspended"), [(30, True), (30.001, False)])
def test_the_window_counts_a_no_show_exactly_y_days_old(
    tenant_a: Tenant,
    rel,
    grant,
    rule,
    django_capture_on_commit_callbacks,
    oldest_days_ago: float,
    suspended: bool,
) -> None:
    for days_ago in (oldest_days_ago, 2, 1):
        _no_show(tenant_a, rel, days_ago, django_capture_on_commit_callbacks)

    assert booking_suspended(tenant_a.student) is suspended


def test_a_provider_no_show_does_not_count(
    tenant_a: Tenant, rel, grant, rule, django_capture_on_commit_callbacks
) -> None:
    for days_ago in (3, 2, 1):
        session = log(tenant_a, rel, starts_at=NOW - timedelta(days=days_ago), scheduled=True)
        services.session_no_show(
            membership=member(tenant_a.admin), session=session, party="provider"
        )

    assert not booking_suspended(tenant_a.student)


def test_an_admin_lifts_it_and_the_count_starts_again(
    tenant_a: Tenant, rel, grant, rule, django_capture_on_commit_callbacks
) -> None:
    for days_ago in (3, 2, 1):
        _no_show(tenant_a, rel, days_ago, django_capture_on_commit_callbacks)
    slug, student = tenant_a.organization.slug, tenant_a.student

    response = client_for(tenant_a.admin).post(
        reverse("students:suspension_lift", args=[slug, student.public_id]),
        {"reason": "Talked with the family"},
    )

    assert response.status_code == 302
    suspension = BookingSuspension.objects.get()
    assert (suspension.lifted_at, suspension.lifted_by, suspension.lift_reason) == (
        NOW,
        tenant_a.admin,
        "Talked with the family",
    )
    assert not booking_suspended(student)
    refused(
        lambda: booking_suspension_lift(membership=member(tenant_a.admin), student=student),
        NOT_SUSPENDED,
        error=Exception,
    )
    # The three before the lift no longer count: one more is one, not four.
    _no_show(tenant_a, rel, 0.5, django_capture_on_commit_callbacks)
    assert not booking_suspended(student)
    page = client_for(tenant_a.admin).get(student.get_absolute_url())
    assert "lifted" in page.content.decode()


def test_off_by_default(tenant_a: Tenant, rel, grant, django_capture_on_commit_callbacks) -> None:
    for days_ago in (4, 3, 2, 1):
        _no_show(tenant_a, rel, days_ago, django_capture_on_commit_callbacks)

    assert not booking_suspended(tenant_a.student)
