"""A relationship's sessions and what they charge: each completed session consumes its minutes
(or one session) from the relationship's holds, buying more when they run out or lapse; the
session rows are kept with their creation time, to be numbered in the order they were written
(`Plan.finish`)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from grants.models import EntryKind, GrantStatus, Unit
from relationships.models import RelationshipStatus
from sessions_app.models import NoShowParty, SessionStatus

from .catalog import CANCEL_REASONS, DISPUTE_REASONS, MODES, NO_SHOW_EXPLANATIONS, NOTES, SERVICES
from .grants import buy, release
from .timeline import session_status

if TYPE_CHECKING:
    from .ledger import LedgerAllocation
    from .plan import Plan
    from .relationships import Pair
    from .timeline import Timeline

# A completed session's answer from the student: (confirmed, disputed, dispute reason,
# resolved, resolved by, resolution), in the order of the session's columns.
type Review = tuple[datetime | None, datetime | None, str, datetime | None, int | None, str]
NO_REVIEW: Review = (None, None, "", None, None, "")


def sessions_and_ledger(
    plan: Plan,
    pair: Pair,
    fate: str,
    timeline: Timeline,
    admin: int,
    student_user: int | None,
    rng: random.Random,
) -> None:
    """The proposal's purchase and hold, every session with what it consumed, and the end: an
    ended relationship releases what it still holds; a live one whose hours lapsed buys more."""
    current = buy(plan, pair, timeline.created, admin, rng)
    if fate == RelationshipStatus.DECLINED:
        release(plan, current, timeline.ended or plan.now, admin, "Declined")
        return
    kind = SERVICES[pair.service][1]
    usual = rng.choice((45, 60, 60, 90)) if pair.unit == Unit.MINUTES else 60
    mode = rng.choice(MODES)
    last_event = timeline.created
    for starts_at in timeline.sessions:
        duration = usual if rng.random() < 0.8 else rng.choice((30, 45, 60, 75))
        index = len(plan.sessions)
        status = session_status(starts_at, plan.now, fate, index, rng)
        logged_at = None
        charged = 0
        if status == SessionStatus.COMPLETED:
            logged_at = starts_at + timedelta(minutes=duration + rng.randrange(10, 360))
            logged_at = min(logged_at, plan.now)
            wanted = 1 if pair.unit == Unit.SESSIONS else duration
            current = _charge(
                plan, pair, current, index, starts_at, logged_at, wanted, last_event, admin, rng
            )
            charged = wanted
            last_event = logged_at
        _session(
            plan,
            pair,
            index,
            starts_at,
            duration,
            kind,
            mode,
            status,
            charged,
            logged_at,
            admin,
            student_user,
            rng,
        )
    if fate in (RelationshipStatus.COMPLETED, RelationshipStatus.CANCELLED):
        assert timeline.ended is not None
        release(plan, current, max(timeline.ended, last_event), admin, "Relationship ended")
    elif fate == RelationshipStatus.PAIRED and current.grant.past_expiry(plan.now):
        # Its hours lapsed: the student bought more, so the pairing still holds some.
        plan.ledger.expire_if_due(current.grant, plan.now)
        buy(plan, pair, max(plan.now - timedelta(days=1), last_event), admin, rng)


def _charge(
    plan: Plan,
    pair: Pair,
    current: LedgerAllocation,
    index: int,
    starts_at: datetime,
    logged_at: datetime,
    wanted: int,
    last_event: datetime,
    admin: int,
    rng: random.Random,
) -> LedgerAllocation:
    """Consume `wanted` from the relationship's holds for session `index`, across purchases
    when the current one is used up or has expired by the session's day; returns the
    allocation charged last."""
    charged = 0
    while charged < wanted:
        grant = current.grant
        if grant.past_expiry(starts_at):
            plan.ledger.expire_if_due(grant, starts_at)
        if current.grant.status != GrantStatus.ACTIVE or current.held == 0:
            bought = max(starts_at - timedelta(days=1), last_event)
            if grant.status == GrantStatus.EXPIRED and grant.last_at is not None:
                bought = max(bought, grant.last_at + timedelta(minutes=1))
            current = buy(plan, pair, bought, admin, rng)
        take = min(wanted - charged, current.held)
        plan.ledger.post(
            current.grant,
            EntryKind.CONSUME,
            logged_at,
            actor=pair.provider_user,
            used=take,
            held=-take,
            allocation=current,
            session=index,
        )
        charged += take
    return current


def _session(
    plan: Plan,
    pair: Pair,
    index: int,
    starts_at: datetime,
    duration: int,
    kind: str,
    mode: str,
    status: str,
    charged: int,
    logged_at: datetime | None,
    admin: int,
    student_user: int | None,
    rng: random.Random,
) -> None:
    """The session's row, with what its status implies: a completed one has notes, a rating
    and perhaps a confirmation or dispute; a cancelled one a reason; a no-show its party; a
    missed one nothing (nobody logged it)."""
    notes = cancellation = party = explanation = ""
    rating = logged_by = None
    review = NO_REVIEW
    created = min(starts_at - timedelta(days=7), plan.now - timedelta(days=1))
    if status == SessionStatus.COMPLETED:
        assert logged_at is not None
        created, logged_by = logged_at, pair.provider_user
        notes = NOTES[index % len(NOTES)]
        rating = rng.choice((None, None, 3, 4, 5, 5))
        review = _review(plan, index, starts_at, logged_at, admin, student_user, rng)
    elif status == SessionStatus.CANCELLED:
        cancellation = CANCEL_REASONS[index % len(CANCEL_REASONS)]
    elif status == SessionStatus.NO_SHOW:
        party = NoShowParty.STUDENT if rng.random() < 0.75 else NoShowParty.PROVIDER
        explanation = NO_SHOW_EXPLANATIONS[index % len(NO_SHOW_EXPLANATIONS)]
        logged_by = pair.provider_user
        logged_at = created = min(starts_at + timedelta(hours=2), plan.now)
    plan.sessions.append(
        (
            created,
            index,
            (
                plan.uuid(rng),
                pair.organization_id,
                pair.pk,
                starts_at,
                duration,
                kind,
                mode,
                status,
                notes,
                rating,
                cancellation,
                party,
                explanation,
                charged,
                logged_by,
                logged_at,
                *review,
                pair.pay_rate,
                pair.client_rate,
                created,
                pair.provider,
                # Generated like history from before the booking rule: a pair's usual hour may
                # meet another pair's of the same provider (docs/scheduling.md).
                False,
            ),
        )
    )


def _review(
    plan: Plan,
    index: int,
    starts_at: datetime,
    logged_at: datetime,
    admin: int,
    student_user: int | None,
    rng: random.Random,
) -> Review:
    """How the student answered a completed session: a recent one may be disputed and open;
    an old one, rarely, was disputed and kept; a third or so were confirmed; the rest were
    left as logged."""
    confirmed: datetime | None = None
    disputed: datetime | None = None
    resolved: datetime | None = None
    resolved_by: int | None = None
    dispute_reason = resolution = ""
    recent = starts_at > plan.now - timedelta(days=14)
    chance = rng.random()
    if recent and student_user is not None and chance < 0.05:
        disputed = min(logged_at + timedelta(hours=20), plan.now)
        dispute_reason = DISPUTE_REASONS[index % len(DISPUTE_REASONS)]
    elif not recent and student_user is not None and chance < 0.004:
        disputed = logged_at + timedelta(days=1)
        dispute_reason = DISPUTE_REASONS[index % len(DISPUTE_REASONS)]
        resolved, resolved_by, resolution = disputed + timedelta(days=2), admin, "kept"
    elif chance < 0.35 and logged_at + timedelta(days=1) < plan.now:
        confirmed = logged_at + timedelta(days=1)
    return (confirmed, disputed, dispute_reason, resolved, resolved_by, resolution)
