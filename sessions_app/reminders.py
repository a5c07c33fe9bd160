"""The reminders before a session (docs/notifications.md): the center's (24 hours by default)
and one an hour before, to the student and the provider.

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
from sessions_app import notices
from sessions_app.models import Session, SessionStatus

LAST_REMINDER_HOURS: Final = 1


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
    """Tell every session due a reminder that has not had it. Returns how many were told."""
    now = now or timezone.now()
    told = 0
    for organization in Organization.objects.only("id", "session_reminder_hours").order_by("id"):
        hours = organization.session_reminder_hours
        sessions = list(
            Session.objects.filter(
                organization=organization,
                status=SessionStatus.SCHEDULED,
                starts_at__gt=now,
                starts_at__lte=now + timedelta(hours=hours),
            ).values_list("pk", "public_id", "starts_at")
        )
        if not sessions:
            continue
        due = {
            pk: (f"session:{public_id}", notices.reminder_occasion(offset, starts_at))
            for pk, public_id, starts_at in sessions
            if (offset := due_offset(starts_at=starts_at, now=now, center_hours=hours))
        }
        # Most were told on an earlier run: one query leaves them out (the claim in `notify`
        # still decides, should another run be telling the same one right now).
        done = set(
            Dispatch.objects.filter(
                organization=organization,
                kind="session_reminder",
                object_key__in=[about for about, _ in due.values()],
            ).values_list("object_key", "occasion")
        )
        for pk, key in sorted(due.items()):
            if key not in done:
                told += _remind(pk, occasion=key[1])
    return told


def _remind(pk: int, *, occasion: str) -> bool:
    """On the locked session: still scheduled, at the start the reminder is for."""
    with transaction.atomic():
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related(
                "relationship__student",
                "relationship__provider",
                "relationship__service_type",
                "relationship__organization",
            )
            .filter(pk=pk)
            .first()
        )
        if session is None or session.status != SessionStatus.SCHEDULED:
            return False
        offset = int(occasion.partition("h@")[0])
        if notices.reminder_occasion(offset, session.starts_at) != occasion:
            return False
        return notices.remind(session, hours=offset)
