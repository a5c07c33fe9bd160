"""Messages on a booked session (docs/scheduling.md, "Messages")."""

import pytest
from django.urls import reverse

from sessions_app import session_messages
from sessions_app.models import SessionMessage
from tests.support import Tenant, at, client_for, log, member, refused

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_the_student_writes_and_the_provider_gets_it_by_email(
    tenant_a: Tenant, rel, grant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    path = reverse(
        "sessions_app:message_post", args=[tenant_a.organization.slug, session.public_id]
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(tenant_a.student_user).post(
            path, {"body": "Can we start with fractions?"}
        )

    assert response.status_code == 302
    message = SessionMessage.objects.get()
    assert (message.author, message.body) == (tenant_a.student_user, "Can we start with fractions?")
    (mail,) = mailoutbox
    assert mail.to == [tenant_a.provider.email]
    assert mail.subject == (
        f"[Matchpal] Message from {tenant_a.student.name} about the session of Jun 13, 10:00"
    )
    assert "Can we start with fractions?" in mail.body
    page = client_for(tenant_a.provider_user).get(session.get_absolute_url())
    assert [m.body for m in page.context["conversation"]] == ["Can we start with fractions?"]


def test_the_provider_answers_and_the_student_gets_it(
    tenant_a: Tenant, rel, grant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    with django_capture_on_commit_callbacks(execute=True):
        session_messages.message_post(
            membership=member(tenant_a.provider_user), session=session, body="Sure."
        )

    assert [m.to for m in mailoutbox] == [[tenant_a.student.email]]


def test_who_may_write_and_when(tenant_a: Tenant, rel, grant) -> None:
    ahead = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    done = log(tenant_a, rel, starts_at=at(10, 15))
    student = member(tenant_a.student_user)

    refused(
        lambda: session_messages.message_post(
            membership=member(tenant_a.admin), session=ahead, body="Hello"
        ),
        session_messages.ONLY_THE_PAIR,
    )
    refused(
        lambda: session_messages.message_post(membership=student, session=done, body="Thanks"),
        session_messages.NOT_BOOKED.format(status="completed"),
    )
    refused(
        lambda: session_messages.message_post(membership=student, session=ahead, body="  "),
        session_messages.EMPTY,
    )
    refused(
        lambda: session_messages.message_post(membership=student, session=ahead, body="x" * 1001),
        session_messages.TOO_LONG.format(length=1001),
    )
    assert SessionMessage.objects.count() == 0
