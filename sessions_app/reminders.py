"""The reminders before a session (docs/notifications.md): the center's (24 hours by default)
and one an hour before, to the student and the provider; the provider's nudges to log a
session that ended, then again 12 hours before the grace window closes; and, where the center
requires confirmation, the student's reminder of a session still to confirm.

A periodic job (`sessions_app.tasks.send_session_reminders`, every 5 minutes) finds the
scheduled sessions due a reminder and tells each once: the reminder's key carries the start it
is for (`notices.reminder_occasion`), so a job run twice or two beat processes send it once, a
moved session gets a new reminder, and the sending task asks again whether it is still due
(`notices.reminder_stale`): never for a session cancelled, moved or logged since.
"""

from datetime import datetime, timedelta
from typing import Final

from django.db import transaction
from django.utils import timezone

from matchpal.models import Organization
from notifications.models import Dispatch
from relationships.models import RelationshipStatus
from sessions_app import notices
from sessions_app.models import Session, SessionStatus

LAST_REMINDER_HOURS: Final = 1
# The second nudge to log a session comes this long before the grace window closes.
BEFORE_DEADLINE: Final = timedelta(hours=12)
# A session still to confirm is recalled to the student this long after its start, once it was
# logged a day before at least, while the center's dispute window is open.
CONFIRM_AFTER: Final = timedelta(hours=48)
CONFIRM_LOGGED_BEFORE: Final = timedelta(hours=24)


def due_offset(*, starts_at: datetime, now: datetime, center_hours: int) -> int | None:
    """Which reminder a session is due now: the tightest whose time has come (a session booked
    five hours ahead gets the center's reminder at once, then the one-hour reminder), or None
    when it has started or none has come yet."""
    left = starts_at - now
    if left <= timedelta(0):
        return None
    if left <= timedelta(hours=LAST_REMINDER_HOURS):
        return LAST_REMINDER_HOURS
    if left <= timedelta(hours=center_hours):
        return center_hours
    return None


def send_session_reminders(*, now: datetime | None = None) -> int:
    """Tell every session due a reminder that has not had it, and every provider whose session
    ended unlogged. Returns how many were told."""
    now = now or timezone.now()
    told = 0
    organizations = Organization.objects.only(
        "id", "session_reminder_hours", "logging_grace_hours"
    ).order_by("id")
    for organization in organizations:
        told += _remind_before(organization, now)
        told += _nudge_unlogged(organization, now)
    return told


def _remind_before(organization: Organization, now: datetime) -> int:
    """The reminders before this center's sessions."""
    hours = organization.session_reminder_hours
    sessions = Session.objects.filter(
        organization=organization,
        status=SessionStatus.SCHEDULED,
        starts_at__gt=now,
        starts_at__lte=now + timedelta(hours=hours),
    ).values_list("pk", "public_id", "starts_at")
    due = {
        pk: (f"session:{public_id}", notices.reminder_occasion(offset, starts_at))
        for pk, public_id, starts_at in sessions
        if (offset := due_offset(starts_at=starts_at, now=now, center_hours=hours))
    }
    return sum(
        _remind(pk, occasion=occasion)
        for pk, occasion in _not_yet(organization, "session_reminder", due)
    )


def unlogged_occasion(*, starts_at: datetime, ends_at: datetime, now: datetime, grace: int) -> str:
    """Which nudge to log a session has come: once it ended ("ended"), and again 12 hours before
    the grace window closes ("deadline"); "" before it ends or once the window has closed (only
    an admin can log it then)."""
    closes = starts_at + timedelta(hours=grace)
    if now >= closes or now < ends_at:
        return ""
    return "deadline" if now >= closes - BEFORE_DEADLINE else "ended"


def _nudge_unlogged(organization: Organization, now: datetime) -> int:
    """The provider of each session of this center that ended and is still not logged."""
    grace = organization.logging_grace_hours
    sessions = Session.objects.filter(
        organization=organization,
        status=SessionStatus.SCHEDULED,
        relationship__status=RelationshipStatus.PAIRED,
        starts_at__gt=now - timedelta(hours=grace),
        starts_at__lte=now,
    ).values_list("pk", "public_id", "starts_at", "duration_minutes")
    due = {
        pk: (f"session:{public_id}", occasion)
        for pk, public_id, starts_at, minutes in sessions
        if (
            occasion := unlogged_occasion(
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=minutes),
                now=now,
                grace=grace,
            )
        )
    }
    return sum(
        _nudge(pk, occasion=occasion)
        for pk, occasion in _not_yet(organization, "session_unlogged", due)
    )


def _not_yet(
    organization: Organization, kind: str, due: dict[int, tuple[str, str]]
) -> list[tuple[int, str]]:
    """Of the sends due, those not made on an earlier run, by session: most were, and one query
    leaves them out (the claim in `notify` still decides, should another run be telling the
    same one right now)."""
    if not due:
        return []
    done = set(
        Dispatch.objects.filter(
            organization=organization,
            kind=kind,
            object_key__in=[about for about, _ in due.values()],
        ).values_list("object_key", "occasion")
    )
    return [(pk, key[1]) for pk, key in sorted(due.items()) if key not in done]


def _locked(pk: int) -> Session | None:
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related(
            "relationship__student",
            "relationship__provider",
            "relationship__service_type",
            "relationship__organization",
        )
        .filter(pk=pk, status=SessionStatus.SCHEDULED)
        .first()
    )


def _nudge(pk: int, *, occasion: str) -> bool:
    with transaction.atomic():
        session = _locked(pk)
        if session is None:
            return False
        return notices.unlogged(session, occasion=occasion)


def _remind(pk: int, *, occasion: str) -> bool:
    """On the locked session: still scheduled, at the start the reminder is for."""
    with transaction.atomic():
        session = _locked(pk)
        if session is None:
            return False
        offset = int(occasion.partition("h@")[0])
        if notices.reminder_occasion(offset, session.starts_at) != occasion:
            return False
        return notices.remind(session, hours=offset)


def send_confirmation_reminders(*, now: datetime | None = None) -> int:
    """The hourly job: in each center that requires the student's confirmation, the completed
    sessions started between the dispute window's start and 48 hours ago, logged a day ago or
    more, neither confirmed nor disputed, and not yet recalled, are recalled to the student
    once. One indexed range per center (`session_org_status_starts`). Returns how many."""
    now = now or timezone.now()
    told = 0
    organizations = (
        Organization.objects.filter(require_student_confirmation=True)
        .only("id", "dispute_window_days")
        .order_by("id")
    )
    for organization in organizations:
        sessions = Session.objects.filter(
            organization=organization,
            status=SessionStatus.COMPLETED,
            starts_at__gt=now - timedelta(days=organization.dispute_window_days),
            starts_at__lte=now - CONFIRM_AFTER,
            logged_at__lte=now - CONFIRM_LOGGED_BEFORE,
            student_confirmed_at__isnull=True,
            disputed_at__isnull=True,
        ).values_list("pk", "public_id")
        due = {pk: (f"session:{public_id}", "") for pk, public_id in sessions}
        told += sum(_recall(pk) for pk, _ in _not_yet(organization, "confirmation_pending", due))
    return told


def _recall(pk: int) -> bool:
    """On the locked session: still completed, neither confirmed nor disputed."""
    with transaction.atomic():
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related(
                "relationship__student",
                "relationship__provider",
                "relationship__service_type",
                "relationship__organization",
            )
            .filter(
                pk=pk,
                status=SessionStatus.COMPLETED,
                student_confirmed_at__isnull=True,
                disputed_at__isnull=True,
            )
            .first()
        )
        if session is None:
            return False
        return notices.confirmation_pending(session)
