"""What the scheduling part tells people (docs/scheduling.md): the kinds of notice it adds to
`notifications.kinds` (messages, no-show warnings and suspensions go through
`notifications.services.notify`), and `send_session_email`, the one function for a session's
calendar emails (a booking's invite, an ended pairing's cancels), which are not notices."""

from django.core.mail import EmailMessage
from django.db import transaction

from matchpal.notifications import email_subject
from notifications import kinds
from notifications.kinds import ADMIN, PROVIDER, STUDENT, Kind
from notifications.services import Attachment

SCHEDULING_KINDS = [
    Kind("session_message", "A message about a session", frozenset({PROVIDER, STUDENT})),
    Kind("no_show_warning", "A warning after missed sessions", frozenset({STUDENT})),
    Kind("booking_suspended", "Booking is suspended after no-shows", frozenset({ADMIN, STUDENT})),
]


def register_kinds() -> None:
    """Called once the apps are ready (`SessionsAppConfig.ready`)."""
    for kind in SCHEDULING_KINDS:
        if kind.key not in kinds.KINDS:
            kinds.register(kind)


def send_session_email(
    *, subject: str, body: str, to: list[str], attachment: Attachment | None = None
) -> None:
    """One plain-text email to `to` (blank addresses left out) after commit; nothing is sent
    when the transaction rolls back."""
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
