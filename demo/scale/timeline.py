"""When things happen: how many relationships a center has and how each ends, how its
sessions are shared out, when each relationship was proposed, paired and ended, when its
sessions start, and what became of each session.

Pure functions of the center, `now` and the center's random stream; the order of their draws
is part of what a seed builds."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import ceil
from zoneinfo import ZoneInfo

from relationships.models import RelationshipStatus
from sessions_app.models import SessionStatus

from .catalog import FATES, WITH_SESSIONS
from .centers import HORIZON_DAYS, SESSIONS_PER_RELATIONSHIP, Center


@dataclass(frozen=True)
class Timeline:
    created: datetime
    paired: datetime | None
    ended: datetime | None
    sessions: list[datetime]


def fates(center: Center, rng: random.Random) -> list[str]:
    """Each relationship's status: at least one of each, the rest by weight."""
    count = max(ceil(center.sessions / SESSIONS_PER_RELATIONSHIP / 0.85), center.students, 5)
    statuses = [str(status) for status, _ in FATES]
    weights = [weight for _, weight in FATES]
    return list(statuses) + rng.choices(statuses, weights=weights, k=count - len(statuses))


def session_counts(total: int, fates: list[str], rng: random.Random) -> list[int]:
    """Share `total` sessions among the relationships that have sessions, unevenly."""
    weights = [rng.uniform(0.3, 1.7) if fate in WITH_SESSIONS else 0.0 for fate in fates]
    whole = sum(weights)
    counts = [int(total * w / whole) for w in weights]
    holders = [n for n, w in enumerate(weights) if w]
    for n in range(total - sum(counts)):
        counts[holders[n % len(holders)]] += 1
    return counts


def timeline(fate: str, sessions: int, now: datetime, tz: ZoneInfo, rng: random.Random) -> Timeline:
    """When the relationship was proposed, paired and ended, and its sessions' starts: weekly
    or so at the pair's usual hour, in the center's time zone."""
    if fate == RelationshipStatus.PROPOSED:
        return Timeline(now - timedelta(days=rng.uniform(0.2, 6)), None, None, [])
    if fate == RelationshipStatus.DECLINED:
        created = now - timedelta(days=rng.uniform(8, HORIZON_DAYS))
        return Timeline(created, None, created + timedelta(days=rng.uniform(1, 6)), [])
    starts, last = _session_starts(fate, sessions, now, tz, rng)
    created = (starts[0] if starts else last) - timedelta(days=rng.uniform(5, 12))
    paired = created + timedelta(days=rng.uniform(0.5, 3))
    ended = None
    if fate != RelationshipStatus.PAIRED:
        ended = min((starts[-1] if starts else paired) + timedelta(days=2), now)
    return Timeline(created, paired, ended, starts)


def _session_starts(
    fate: str, sessions: int, now: datetime, tz: ZoneInfo, rng: random.Random
) -> tuple[list[datetime], datetime]:
    """The starts of a relationship's sessions, and when its last past one was: a live pairing
    met days ago and has a couple ahead; an ended one stopped some time in the horizon."""
    ahead = min(sessions // 10, 2) if fate == RelationshipStatus.PAIRED else 0
    past = sessions - ahead
    span = HORIZON_DAYS - 20
    gap = min(rng.choice((3.5, 7.0, 7.0, 7.0, 10.0, 14.0)), span / max(past, 1))
    if fate == RelationshipStatus.PAIRED:
        last = now - timedelta(days=rng.uniform(0.5, min(gap, 6)))
    else:
        last = now - timedelta(days=rng.uniform(3, max(span - past * gap, 4)))
    first = last - timedelta(days=gap * max(past - 1, 0))
    slot = rng.choice(range(15 * 60, 20 * 60, 30))
    starts = [_at(first, k * gap, slot, tz) for k in range(past)]
    starts += [_at(first, (past + k) * gap, slot, tz) for k in range(ahead)]
    if gap < 1:
        # More sessions than days (a tiny center asked for many): every few minutes.
        starts = [first + timedelta(days=k * gap) for k in range(sessions)]
    return starts, last


def _at(first: datetime, days: float, slot: int, tz: ZoneInfo) -> datetime:
    """`days` after `first`'s date, at `slot` minutes past midnight in `tz`."""
    day = first.astimezone(tz).date() + timedelta(days=int(days))
    local = datetime(day.year, day.month, day.day, slot // 60, slot % 60, tzinfo=tz)
    return local.astimezone(UTC)


def session_status(
    starts_at: datetime, now: datetime, fate: str, index: int, rng: random.Random
) -> str:
    """A session in the future is scheduled (or requested); a recent one may not be logged
    yet; the rest were mostly held, a few cancelled, no-shows, or never logged and marked
    missed by the missed-sessions job (`sessions_app.missed`: still scheduled past the grace
    window, whose default, 72 hours, is the "recent" here)."""
    if starts_at > now:
        # A few ahead are still requests their provider has not answered (docs/scheduling.md);
        # decided by the session's place in the plan (`index`), neither a draw, so the rest of
        # the stream stays as it was, nor its date, so a seed builds them whatever the day.
        return SessionStatus.PENDING if index % 5 == 0 else SessionStatus.SCHEDULED
    recent = fate == RelationshipStatus.PAIRED and starts_at > now - timedelta(days=3)
    if recent and rng.random() < 0.4:
        # Met recently, not logged yet.
        return SessionStatus.SCHEDULED
    draw = rng.random()
    if draw < 0.07:
        return SessionStatus.CANCELLED
    if draw < 0.11:
        return SessionStatus.NO_SHOW
    if draw < 0.12:
        return SessionStatus.MISSED
    return SessionStatus.COMPLETED
