"""What the scheduling part tells people (docs/scheduling.md): the kinds of notice it adds to
`notifications.kinds` and the audiences of a session, for `notifications.services.notify`,
which tells each person in the app and by email (their preferences apply) after commit."""

from notifications import kinds
from notifications.kinds import ADMIN, PROVIDER, STUDENT, Kind
from notifications.services import Recipient, person
from relationships.models import Relationship

SCHEDULING_KINDS = [
    Kind(
        "session_booked",
        "A session is booked (with its calendar invite)",
        frozenset({PROVIDER, STUDENT}),
    ),
    Kind("session_message", "A message about a session", frozenset({PROVIDER, STUDENT})),
    Kind("no_show_warning", "A warning after missed sessions", frozenset({STUDENT})),
    Kind("booking_suspended", "Booking is suspended after no-shows", frozenset({ADMIN, STUDENT})),
]


def register_kinds() -> None:
    """Called once the apps are ready (`SessionsAppConfig.ready`)."""
    for kind in SCHEDULING_KINDS:
        if kind.key not in kinds.KINDS:
            kinds.register(kind)


def pair(relationship: Relationship) -> list[Recipient]:
    """The session's student and provider (not the guardian: the invite is the student's)."""
    return [person(relationship.student), person(relationship.provider)]
