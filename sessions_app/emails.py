"""What the scheduling part tells people (docs/scheduling.md): the kinds of notice it adds to
`notifications.kinds` (messages, no-show warnings and suspensions, and the calendar invites
`sessions_app.calendar.send_invite` emails without a notice), all sent through
`notifications.services.notify`."""

from notifications import kinds
from notifications.kinds import ADMIN, PROVIDER, STUDENT, Kind

SCHEDULING_KINDS = [
    Kind("session_message", "A message about a session", frozenset({PROVIDER, STUDENT})),
    Kind("no_show_warning", "A warning after missed sessions", frozenset({STUDENT})),
    Kind("booking_suspended", "Booking is suspended after no-shows", frozenset({ADMIN, STUDENT})),
    Kind("calendar_invite", "Calendar invitations for my sessions", frozenset({PROVIDER, STUDENT})),
]


def register_kinds() -> None:
    """Called once the apps are ready (`SessionsAppConfig.ready`)."""
    for kind in SCHEDULING_KINDS:
        if kind.key not in kinds.KINDS:
            kinds.register(kind)
