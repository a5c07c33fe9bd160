"""Every kind of notice: who gets it and when (docs/notifications.md lists the same).

A kind's `roles` are the members it can reach: the preferences page offers a member only the
kinds of their role. `email` is the built-in default a center can change (`CenterEmailDefault`)
and each member can override (`EmailPreference`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from notifications.models import EmailDelivery

ADMIN: Final = "admin"
PROVIDER: Final = "provider"
STUDENT: Final = "student"


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    roles: frozenset[str]
    email: bool = True


_KINDS = [
    Kind("proposal_made", "A pairing is proposed", frozenset({PROVIDER, STUDENT})),
    Kind("proposal_accepted", "A proposal is accepted", frozenset({ADMIN, STUDENT})),
    Kind("proposal_declined", "A proposal is declined", frozenset({ADMIN, STUDENT})),
    Kind("proposal_timed_out", "A proposal goes unanswered", frozenset({ADMIN, PROVIDER, STUDENT})),
    Kind("relationship_cancelled", "A pairing is cancelled", frozenset({PROVIDER, STUDENT})),
    Kind("session_logged", "A session is logged", frozenset({STUDENT})),
    Kind("session_rescheduled", "A session is moved", frozenset({PROVIDER, STUDENT})),
    Kind("session_cancelled", "A session is cancelled", frozenset({PROVIDER, STUDENT})),
    Kind("session_report", "A session's report", frozenset({STUDENT})),
    Kind("session_reminder", "Reminder before a session", frozenset({PROVIDER, STUDENT})),
    Kind("session_unlogged", "A session of mine is not logged yet", frozenset({PROVIDER})),
    Kind("confirmation_pending", "A session of mine is still to confirm", frozenset({STUDENT})),
    Kind("dispute_opened", "A session is disputed", frozenset({ADMIN})),
    Kind("dispute_resolved", "A dispute is resolved", frozenset({STUDENT})),
    Kind("hours_granted", "Hours are added", frozenset({STUDENT})),
    Kind("hours_low", "Hours are running low", frozenset({ADMIN, STUDENT})),
    Kind("grant_expiring", "Hours expire soon", frozenset({STUDENT})),
    Kind("grant_expired", "Hours expired", frozenset({STUDENT})),
    Kind(
        "reservation_running_out",
        "A pairing's reserved hours run out",
        frozenset({ADMIN, PROVIDER}),
    ),
    Kind("hours_short", "A session lacked hours", frozenset({ADMIN})),
    Kind("hours_given_back", "Hours given back after the window", frozenset({ADMIN})),
    Kind("order_error", "A shop order needs attention", frozenset({ADMIN})),
    Kind("idle_digest", "Weekly digest of idle pairings", frozenset({ADMIN})),
    # Opt-in: off unless the admin (or the center's default) turns it on; the digest then comes
    # to the inbox and by email (reports/digests.py).
    Kind(
        "attention_digest",
        "Daily digest of what needs attention",
        frozenset({ADMIN}),
        email=False,
    ),
]

KINDS: Final[dict[str, Kind]] = {kind.key: kind for kind in _KINDS}
CHOICES: Final = [(kind.key, kind.label) for kind in _KINDS]


def register(kind: Kind) -> None:
    """Another app's kind (the booking flow's, say), added at start-up."""
    KINDS[kind.key] = kind
    CHOICES.append((kind.key, kind.label))


def get(key: str) -> Kind:
    return KINDS[key]


def for_role(role: str) -> list[Kind]:
    return [kind for kind in KINDS.values() if role in kind.roles]


# --- Checks at send time ----------------------------------------------------------------------
#
# A reminder is planned a little before it leaves; whatever happened to its object since (a
# session cancelled, moved or already logged) is asked again by the task that sends it. The app
# that owns the object registers the check (`sessions_app` for the session reminders), so this
# module imports no app above it. A check returns why the email is no longer due, or "".

StaleCheck = Callable[["EmailDelivery"], str]
_CHECKS: dict[str, StaleCheck] = {}


def register_check(kind: str, check: StaleCheck) -> None:
    _CHECKS[kind] = check


def stale_reason(delivery: "EmailDelivery") -> str:
    check = _CHECKS.get(delivery.kind)
    return check(delivery) if check else ""
