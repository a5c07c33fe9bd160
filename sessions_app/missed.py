"""Missed sessions (docs/scheduling.md, "Missed sessions"): a scheduled session nobody logged
within the center's grace window (`logging_grace_hours` after its start) becomes "missed", by
the periodic job `sessions_app.tasks.mark_missed_sessions`. From then on only an admin can log,
cancel or mark it (the window of `selectors.change_refusal` has passed; `services
.complete_locked` refuses others).

Safe to run twice and to overlap: each batch takes its rows `FOR UPDATE SKIP LOCKED` and
changes only those still scheduled, so a second run skips what the first holds (and a provider
logging one at that moment keeps it), and finds nothing once the first has committed.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from matchpal.models import Organization
from sessions_app.models import Session, SessionChange, SessionChangeKind, SessionStatus

BATCH = 500
REASON = "Not logged within {hours} hours of its start"


def _batch(organization: Organization, now: datetime) -> int:
    cutoff = now - timedelta(hours=organization.logging_grace_hours)
    with transaction.atomic():
        ids = list(
            Session.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                organization=organization,
                status=SessionStatus.SCHEDULED,
                starts_at__lt=cutoff,
            )
            .order_by("starts_at", "id")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return 0
        Session.objects.filter(pk__in=ids, status=SessionStatus.SCHEDULED).update(
            status=SessionStatus.MISSED
        )
        reason = REASON.format(hours=organization.logging_grace_hours)
        change = [
            {
                "field": "status",
                "label": "Status",
                "from": SessionStatus.SCHEDULED.label,
                "to": SessionStatus.MISSED.label,
            }
        ]
        SessionChange.objects.bulk_create(
            SessionChange(
                organization_id=organization.pk,
                session_id=pk,
                kind=SessionChangeKind.MISSED,
                actor=None,
                reason=reason,
                changes=change,
            )
            for pk in ids
        )
    return len(ids)


def mark_missed(*, now: datetime | None = None) -> int:
    """Mark every center's overdue scheduled sessions missed; returns how many."""
    now = now or timezone.now()
    marked = 0
    for organization in Organization.objects.order_by("pk"):
        while count := _batch(organization, now):
            marked += count
            if count < BATCH:
                break
    return marked
