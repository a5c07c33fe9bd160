"""Emails about a session, sent after commit: one function, so that the notification layer can
route them later (per-person preferences, digests) without touching the callers."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.mail import EmailMessage
from django.db import transaction

from matchpal.notifications import email_subject


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


def send_session_email(
    *, subject: str, body: str, to: Iterable[str], attachment: Attachment | None = None
) -> None:
    """One plain-text email to `to` (blank addresses left out), sent once the transaction
    commits; nothing is sent when it rolls back."""
    recipients = sorted({address for address in to if address})
    if not recipients:
        return
    line = email_subject(subject)

    def send() -> None:
        message = EmailMessage(subject=line, body=body, to=recipients)
        if attachment is not None:
            message.attach(attachment.filename, attachment.content, attachment.mimetype)
        message.send()

    transaction.on_commit(send)
