"""What booking tells whom (docs/notifications.md, the booking rows): a request asks the
provider, the provider's answer tells the student (with the reason when declined), and
cancelling a weekly series from one occurrence on tells both sides once, in the app and by
email."""

import pytest

from sessions_app import booking
from sessions_app.booking import Series
from tests.notifications.support import email_to, html_of, inbox
from tests.scheduling.support import book
from tests.support import Tenant, at, member, set_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def requested(tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox):  # type: ignore[no-untyped-def]
    set_policy(tenant_a.organization, booking_auto_accept=False)
    rel.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        [session] = book(tenant_a, rel, at(12, 15), topic="Quadratics")
    return session


def test_a_request_asks_the_provider_to_answer(tenant_a: Tenant, requested, mailoutbox) -> None:
    org = tenant_a.organization
    assert [(m.subject, m.to) for m in mailoutbox] == [
        ("[Matchpal] Session requested: Thu Jun 12 at 15:00", [tenant_a.provider.email])
    ]
    email = mailoutbox[0]
    assert f"{tenant_a.student.name} asks for a session with you on Thu Jun 12 at 15:00" in (
        email.body
    )
    link = f"http://localhost:8000/o/{org.slug}/sessions/{requested.public_id}/"
    assert f"Answer the request: {link}" in email.body
    assert f'href="{link}"' in html_of(email)
    assert inbox(tenant_a.provider_user, org)[0][0] == "session_requested"
    # Who asked is not told.
    assert [k for k, _ in inbox(tenant_a.student_user, org) if k.startswith("session")] == []


def test_a_declined_request_tells_the_student_why(
    tenant_a: Tenant, requested, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    org = tenant_a.organization
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_decline(
            membership=member(tenant_a.provider_user, org),
            session=requested,
            message="I am away that week.",
        )

    declined = "[Matchpal] Session declined: Thu Jun 12 at 15:00"
    assert sorted((m.subject, m.to[0]) for m in mailoutbox) == sorted(
        [(declined, tenant_a.student.email), (declined, tenant_a.student.guardian_email)]
    )
    body = email_to(mailoutbox, tenant_a.student.email).body
    assert f"{tenant_a.provider.name} declined the session on Thu Jun 12 at 15:00: " in body
    assert "I am away that week." in body
    assert inbox(tenant_a.student_user, org)[0][0] == "request_answered"
    assert not any(m.attachments for m in mailoutbox)  # nothing was in anyone's calendar


def test_cancelling_a_series_from_one_occurrence_tells_both_sides_once(
    tenant_a: Tenant, rel, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    org = tenant_a.organization
    with django_capture_on_commit_callbacks(execute=True):
        _, _, third, _ = book(tenant_a, rel, at(12, 15), series=Series(count=4))
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        booking.series_cancel_following(
            membership=member(tenant_a.admin, org), session=third, reason="Term ends"
        )

    series = [m for m in mailoutbox if "Weekly sessions cancelled" in m.subject]
    # The student's guardian too, as for every notice to the student.
    assert sorted(m.to[0] for m in series) == sorted(
        [tenant_a.student.email, tenant_a.student.guardian_email, tenant_a.provider.email]
    )
    body = email_to(series, tenant_a.provider.email).body
    assert "are cancelled from Thu Jun 26 at 15:00 on (2 sessions)" in body
    assert "Why: Term ends" in body
    for user in (tenant_a.student_user, tenant_a.provider_user):
        assert [k for k, _ in inbox(user, org)].count("series_cancelled") == 1
