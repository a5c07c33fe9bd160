"""A name or reason with a line break still sends its email, on one subject line."""

from django.core import mail

from matchpal.notifications import email_subject
from notifications.services import Audience, Message, admins, notify
from tests.support import Tenant


def test_a_line_break_in_a_subject_becomes_a_space(
    tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            organization=tenant_a.organization,
            kind="dispute_opened",
            about="session:1",
            audiences=[
                Audience(
                    admins(tenant_a.organization),
                    Message(
                        subject="Bob\r\nBcc: victim@example.com disputed a session", text="Bob"
                    ),
                )
            ],
        )

    assert [m.subject for m in mail.outbox] == [
        "[Matchpal] Bob Bcc: victim@example.com disputed a session"
    ]


def test_a_subject_is_one_line_of_at_most_150_characters() -> None:
    subject = email_subject("x\u2028" * 200)
    assert len(subject) <= 150
    assert subject.endswith("…")
    assert subject.isprintable()
