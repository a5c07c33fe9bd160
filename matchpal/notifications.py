"""Email subjects, made in one place. Notices (in the app and by email) go through
`notifications.services.notify` (docs/notifications.md); `send_email_on_commit` stays for mail
that is no notice of an event."""

import re
from collections.abc import Iterable

from django.core.mail import send_mail
from django.db import transaction

# Line breaks, NUL and every other control character (C0, DEL, C1, line/paragraph separators).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
SUBJECT_MAX = 150


def email_subject(text: str) -> str:
    """The one place an email subject is made: names and reasons people typed become one line
    (a newline in a header would make sending fail after the commit, losing the email), and
    the length capped."""
    line = _CONTROL.sub(" ", f"[Matchpal] {text}")
    return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 1] + "…"


def send_email_on_commit(*, subject: str, body: str, to: Iterable[str]) -> None:
    recipients = sorted({address for address in to if address})
    if not recipients:
        return
    subject = email_subject(subject)
    transaction.on_commit(
        lambda: send_mail(
            subject=subject,
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    )
