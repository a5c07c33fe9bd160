"""Each event tells the right people, in the app (members) and by email (each address once),
with the wording of the state it is in and absolute links (docs/notifications.md)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grants import services as ledger
from grants.models import GrantSource
from grants.notices import warn_expiring
from integrations.woocommerce.models import ErrorKind, Store
from integrations.woocommerce.services.errors import record_error
from notifications.models import DeliveryStatus, EmailDelivery
from relationships import services as rel_services
from sessions_app import services as session_services
from tests.factories import make_grant
from tests.notifications.support import email_to, html_of, inbox, told
from tests.support import (
    NOW,
    Tenant,
    at,
    log,
    member,
    paired,
    past_grant,
    propose,
    service_type,
    set_policy,
)

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    def run(action):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run


def test_a_proposal_asks_the_provider_and_tells_the_student_it_is_only_proposed(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    past_grant(tenant_a.student, 600)
    student, provider, org = tenant_a.student, tenant_a.provider, tenant_a.organization
    mailoutbox.clear()

    rel = run_on_commit(lambda: propose(tenant_a, quantity=420))

    assert told(mailoutbox) == sorted(
        [
            (provider.email, f"[Matchpal] New tutoring proposal: {student.name}"),
            (student.email, f"[Matchpal] {provider.name} is proposed for your tutoring"),
            (student.guardian_email, f"[Matchpal] {provider.name} is proposed for your tutoring"),
        ]
    )
    to_provider = email_to(mailoutbox, provider.email)
    link = f"http://localhost:8000/o/{org.slug}/relationships/{rel.public_id}/"
    assert "Please accept or decline by Jun 18." in to_provider.body
    assert f"Accept or decline: {link}" in to_provider.body
    assert "Reserved: 7 h" in to_provider.body
    assert f"http://localhost:8000/o/{org.slug}/notifications/preferences/" in to_provider.body
    assert f'href="{link}"' in html_of(to_provider)
    assert org.name in to_provider.body
    assert org.name in to_provider.from_email
    to_student = email_to(mailoutbox, student.email).body
    assert "This is a proposal, not yet a pairing" in to_student
    assert "matched" not in to_student
    assert "paired" not in to_student.replace("a pairing", "")
    assert inbox(tenant_a.provider_user, org) == [
        (
            "proposal_made",
            f"{org.name} proposes that you work with {student.name} (Tutoring, 7 h). Please "
            "accept or decline by Jun 18.",
        )
    ]
    assert [kind for kind, _ in inbox(tenant_a.student_user, org)] == [
        "proposal_made",
        "hours_granted",
    ]
    assert inbox(tenant_a.admin, org) == []


def test_accepting_tells_the_student_they_are_paired_and_the_admins(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a)
    mailoutbox.clear()

    run_on_commit(
        lambda: rel_services.relationship_accept(
            membership=member(tenant_a.provider_user), relationship=rel
        )
    )

    provider, student = tenant_a.provider, tenant_a.student
    assert told(mailoutbox) == sorted(
        [
            (tenant_a.admin.email, f"[Matchpal] {provider.name} accepted {student.name}"),
            (student.email, f"[Matchpal] You are paired with {provider.name}"),
            (student.guardian_email, f"[Matchpal] You are paired with {provider.name}"),
        ]
    )
    assert "are now paired for tutoring" in email_to(mailoutbox, student.email).body
    # The provider accepted: nothing to tell them.
    assert [k for k, _ in inbox(tenant_a.provider_user, tenant_a.organization)] == ["proposal_made"]


def test_declining_tells_the_student_and_the_admins_with_the_reason(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a)
    mailoutbox.clear()

    run_on_commit(
        lambda: rel_services.relationship_decline(
            membership=member(tenant_a.provider_user), relationship=rel, reason="Fully booked."
        )
    )

    provider = tenant_a.provider
    subject = f"[Matchpal] {provider.name} declined"
    assert told(mailoutbox) == sorted(
        [
            (tenant_a.admin.email, subject),
            (tenant_a.student.email, subject),
            (tenant_a.student.guardian_email, subject),
        ]
    )
    assert ": Fully booked. The reserved hours are free" in mailoutbox[0].body


def test_an_unanswered_proposal_tells_student_provider_and_admins_differently(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a)
    mailoutbox.clear()

    run_on_commit(lambda: rel_services.relationship_decline(membership=None, relationship=rel))

    student, provider = tenant_a.student, tenant_a.provider
    assert told(mailoutbox) == sorted(
        [
            (
                tenant_a.admin.email,
                f"[Matchpal] Unanswered proposal declined: {student.name} with {provider.name}",
            ),
            (provider.email, f"[Matchpal] Proposal declined: {student.name}"),
            (student.email, f"[Matchpal] No answer from {provider.name}"),
            (student.guardian_email, f"[Matchpal] No answer from {provider.name}"),
        ]
    )
    assert f"{provider.name} declined" not in email_to(mailoutbox, student.email).body


def test_logging_a_session_tells_the_student_and_asks_to_confirm_where_required(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    set_policy(tenant_a.organization, require_student_confirmation=True)
    past_grant(tenant_a.student, 1200)
    rel = paired(tenant_a, quantity=600)
    mailoutbox.clear()

    session = run_on_commit(lambda: log(tenant_a, rel, at(10, 15), 90))

    provider, student = tenant_a.provider, tenant_a.student
    subject = f"[Matchpal] Session logged: Jun 10 with {provider.name}"
    assert told(mailoutbox) == sorted([(student.email, subject), (student.guardian_email, subject)])
    body = email_to(mailoutbox, student.email).body
    assert "Please confirm it, or dispute it if something is wrong." in body
    assert "When: Tuesday Jun 10, 2025 15:00 (America/New_York)" in body
    assert "How long: 1 h 30 min" in body
    assert "Reserved hours left: 8 h 30 min" in body
    link = f"http://localhost:8000/o/{tenant_a.organization.slug}/sessions/{session.public_id}/"
    assert f"Confirm the session: {link}" in body


@pytest.mark.parametrize(
    ("recap", "minimum", "asked"),
    [
        (
            "required",
            150,
            "Please confirm it with a recap of what you covered (at least 150 characters), "
            "or dispute it if something is wrong.",
        ),
        (
            "required",
            0,
            "Please confirm it with a recap of what you covered (at least 1 character), "
            "or dispute it if something is wrong.",
        ),
        (
            "optional",
            0,
            "Please confirm it (you may add a recap of what you covered), or dispute it if "
            "something is wrong.",
        ),
        ("off", 150, "Please confirm it, or dispute it if something is wrong."),
    ],
)
def test_the_logged_email_asks_for_the_recap_the_center_wants(
    tenant_a: Tenant, mailoutbox, run_on_commit, recap: str, minimum: int, asked: str
) -> None:
    set_policy(
        tenant_a.organization,
        require_student_confirmation=True,
        student_recap=recap,
        student_recap_min_length=minimum,
    )
    past_grant(tenant_a.student, 1200)
    rel = paired(tenant_a, quantity=600)
    mailoutbox.clear()

    run_on_commit(lambda: log(tenant_a, rel, at(10, 15), 60))

    message = email_to(mailoutbox, tenant_a.student.email)
    assert asked in message.body
    assert asked in html_of(message)
    [text] = [
        t for k, t in inbox(tenant_a.student_user, tenant_a.organization) if k == "session_logged"
    ]
    assert text.endswith(asked)


def test_without_confirmation_the_logged_email_asks_nothing(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    past_grant(tenant_a.student, 1200)
    rel = paired(tenant_a, quantity=600)
    mailoutbox.clear()

    run_on_commit(lambda: log(tenant_a, rel, at(10, 15), 60))

    body = email_to(mailoutbox, tenant_a.student.email).body
    assert "confirm" not in body.lower()


def test_cancelling_tells_the_other_side_not_whoever_cancelled(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=600)
    session = log(tenant_a, rel, NOW + timedelta(days=2), 60, scheduled=True)
    mailoutbox.clear()

    run_on_commit(
        lambda: session_services.session_cancel(
            membership=member(tenant_a.provider_user), session=session, reason="Ill"
        )
    )

    student = tenant_a.student
    subject = f"[Matchpal] Session cancelled: Jun 13 with {tenant_a.provider.name}"
    assert told(mailoutbox) == sorted([(student.email, subject), (student.guardian_email, subject)])
    assert "Why: Ill" in mailoutbox[0].body
    assert next(k for k, _ in inbox(tenant_a.student_user, tenant_a.organization)) == (
        "session_cancelled"
    )
    assert inbox(tenant_a.provider_user, tenant_a.organization)[0][0] != "session_cancelled"


def test_rescheduling_twice_tells_twice(tenant_a: Tenant, mailoutbox, run_on_commit) -> None:
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=600)
    session = log(tenant_a, rel, NOW + timedelta(days=2), 60, scheduled=True)
    mailoutbox.clear()
    admin = member(tenant_a.admin)

    for days in (3, 4):
        run_on_commit(
            lambda d=days: session_services.session_reschedule(
                membership=admin, session=session, starts_at=NOW + timedelta(days=d), reason=""
            )
        )

    assert [s for a, s in told(mailoutbox) if a == tenant_a.provider.email] == [
        "[Matchpal] Session moved to Jun 14, 12:00",
        "[Matchpal] Session moved to Jun 15, 12:00",
    ]


def test_hours_granted_by_an_admin_or_the_shop_tell_the_student(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    student = tenant_a.student
    run_on_commit(lambda: make_grant(student=student, minutes=600))
    run_on_commit(
        lambda: ledger.grant_create(
            actor=None,
            student=student,
            quantity=300,
            unit="minutes",
            service_types=[service_type(tenant_a.organization)],
            source=GrantSource.WOOCOMMERCE,
            reference="#1042",
        )
    )

    assert [s for a, s in told(mailoutbox) if a == student.email] == [
        "[Matchpal] 10 h added to your hours",
        "[Matchpal] 5 h added to your hours",
    ]
    shop = next(m for m in mailoutbox if m.subject.endswith("5 h added to your hours"))
    assert "5 h bought in the shop" in shop.body
    assert "Reference: #1042" in shop.body
    assert f"/o/{tenant_a.organization.slug}/my/hours/" in shop.body


def test_low_hours_tell_the_student_and_the_admins_once_a_day(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    past_grant(tenant_a.student, 180)
    rel = paired(tenant_a, quantity=180)
    mailoutbox.clear()

    run_on_commit(lambda: log(tenant_a, rel, at(9, 10), 60))
    run_on_commit(lambda: log(tenant_a, rel, at(10, 10), 30))

    student = tenant_a.student
    low = [(a, s) for a, s in told(mailoutbox) if "running low" in s or "running out" in s]
    assert low == sorted(
        [
            (
                tenant_a.admin.email,
                f"[Matchpal] {student.name}'s hours are running low (below 2 h free to book "
                "or reserved).",
            ),
            (tenant_a.admin.email, f"[Matchpal] Reserved hours running out: {student.name}"),
            (tenant_a.provider.email, f"[Matchpal] Reserved hours running out: {student.name}"),
            (student.email, "[Matchpal] Your hours are running low"),
            (student.guardian_email, "[Matchpal] Your hours are running low"),
        ]
    )


def test_expiry_warnings_at_14_and_3_days_then_expired(
    tenant_a: Tenant, mailoutbox, run_on_commit, time_machine
) -> None:
    grant = make_grant(student=tenant_a.student, minutes=600, expires_at=NOW + timedelta(days=10))
    mailoutbox.clear()

    run_on_commit(warn_expiring)
    run_on_commit(warn_expiring)  # a second run tells nobody again
    time_machine.move_to(NOW + timedelta(days=8))
    run_on_commit(warn_expiring)
    time_machine.move_to(NOW + timedelta(days=11))
    run_on_commit(ledger.expire_due_grants)

    assert [s for a, s in told(mailoutbox) if a == tenant_a.student.email] == [
        "[Matchpal] 10 h of your hours expire on Jun 21",
        "[Matchpal] 10 h of your hours expire on Jun 21",
        "[Matchpal] Some of your hours expired",
    ]
    # To the student and the guardian each: added, 14 days, 3 days, expired.
    logged = EmailDelivery.objects.filter(dispatch__object_key=f"grant:{grant.public_id}")
    assert sorted(logged.values_list("kind", "dispatch__occasion")) == sorted(
        2 * [("hours_granted", ""), ("grant_expiring", "14d"), ("grant_expiring", "3d")]
        + 2 * [("grant_expired", "")]
    )


def test_an_order_error_tells_the_admins(tenant_a: Tenant, mailoutbox, run_on_commit) -> None:
    store = Store.objects.create(
        organization=tenant_a.organization, name="Shop", store_url="https://shop.example/"
    )

    error = run_on_commit(
        lambda: record_error(
            store=store, kind=ErrorKind.UNKNOWN_PRODUCT, message="Product 7 is not mapped."
        )
    )

    assert told(mailoutbox) == [
        (tenant_a.admin.email, "[Matchpal] Shop order needs attention: Unknown product")
    ]
    assert f"/shop/errors/{error.public_id}/" in mailoutbox[0].body


def test_a_dispute_tells_the_admins_and_its_resolution_the_student(
    tenant_a: Tenant, mailoutbox, run_on_commit
) -> None:
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=600)
    session = log(tenant_a, rel, at(10, 15), 60)
    mailoutbox.clear()

    run_on_commit(
        lambda: session_services.session_dispute(
            membership=member(tenant_a.student_user), session=session, reason="Ended early"
        )
    )
    run_on_commit(
        lambda: session_services.session_resolve_dispute(
            membership=member(tenant_a.admin), session=session, resolution="kept", note="Checked."
        )
    )

    student = tenant_a.student
    assert told(mailoutbox) == sorted(
        [
            (tenant_a.admin.email, f"[Matchpal] Disputed session: {student.name}, Jun 10"),
            (student.email, "[Matchpal] Your dispute of the session of Jun 10 was resolved"),
        ]
    )


def test_an_email_turned_off_still_reaches_the_inbox_and_is_logged_not_sent(
    tenant_a: Tenant, client, mailoutbox, run_on_commit
) -> None:
    client.force_login(tenant_a.student_user)
    org = tenant_a.organization
    client.post(f"/o/{org.slug}/notifications/preferences/", {"hours_low": "on"})

    run_on_commit(lambda: make_grant(student=tenant_a.student, minutes=600))

    assert [a for a, _ in told(mailoutbox)] == [tenant_a.student.guardian_email]
    assert [k for k, _ in inbox(tenant_a.student_user, org)] == ["hours_granted"]
    skipped = EmailDelivery.objects.get(to=tenant_a.student.email)
    assert (skipped.status, skipped.error) == (
        DeliveryStatus.SKIPPED,
        "Turned off in the email preferences.",
    )


def test_the_centers_default_applies_to_who_has_not_chosen(
    tenant_a: Tenant, client, mailoutbox, run_on_commit
) -> None:
    client.force_login(tenant_a.admin)
    org = tenant_a.organization
    response = client.post(f"/o/{org.slug}/notifications/defaults/", {})  # all off
    assert response.status_code == 302, response.content.decode()[:2000]

    run_on_commit(lambda: make_grant(student=tenant_a.student, minutes=600))

    assert mailoutbox == []
    assert timezone.now() == NOW
