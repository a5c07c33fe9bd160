"""Free slots: the providers' openings (`providers.availability`) less their live sessions, on
the center's booking rules (notice, horizon, length and step). docs/scheduling.md, "Booking".

Reads only, a fixed number of queries whatever the number of providers or sessions: the
relationships, the windows, the exceptions and the busy sessions, one query each.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from matchpal.models import Organization, ServiceType
from providers import selectors as providers
from providers.availability import Opening, free_pieces, local_moment, openings, slot_starts
from providers.models import Provider
from relationships.models import Relationship, RelationshipStatus
from sessions_app.models import LIVE, Session
from students.models import Student

# The longest a session can last (matchpal.services.MAX_SESSION_BOUND): a live session that
# started this long before a range may still reach into it.
_LONGEST = timedelta(days=1)


@dataclass(frozen=True)
class Offer:
    """One provider free at a slot, with where they meet then."""

    relationship: Relationship
    opening: Opening

    @property
    def provider(self) -> Provider:
        return self.relationship.provider


@dataclass
class Slot:
    start: datetime
    end: datetime
    offers: list[Offer] = field(default_factory=list)


def bookable_relationships(
    *, organization: Organization, student: Student, service_type: ServiceType
) -> list[Relationship]:
    """The student's paired relationships for the service type, with active providers: whom
    they may book."""
    return list(
        Relationship.objects.filter(
            organization=organization,
            student=student,
            service_type=service_type,
            status=RelationshipStatus.PAIRED,
            provider__status="active",
        )
        .select_related("provider", "student", "service_type")
        .order_by("provider__name", "id")
    )


def busy_times(
    *, organization: Organization, start: datetime, end: datetime, provider_ids: list[int]
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each provider's live sessions (requested or scheduled) reaching into [start, end), read
    through the partial index `session_provider_live`."""
    rows = Session.objects.filter(
        LIVE,
        organization=organization,
        calendar_provider_id__in=provider_ids,
        starts_at__gte=start - _LONGEST,
        starts_at__lt=end,
    ).values_list("calendar_provider_id", "starts_at", "duration_minutes")
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for provider_id, starts_at, minutes in rows:
        ends_at = starts_at + timedelta(minutes=minutes)
        if ends_at > start:
            busy[provider_id].append((starts_at, ends_at))
    return busy


def _student_busy(
    *, organization: Organization, student: Student, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The student's own live sessions, with any provider: a student is not offered two
    sessions at once."""
    rows = Session.objects.filter(
        LIVE,
        organization=organization,
        relationship__student=student,
        starts_at__gte=start - _LONGEST,
        starts_at__lt=end,
    ).values_list("starts_at", "duration_minutes")
    return [(s, s + timedelta(minutes=m)) for s, m in rows if s + timedelta(minutes=m) > start]


def bookable_window(
    organization: Organization, *, admin: bool, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The earliest and latest starts one may book: the notice and the horizon for a student;
    an admin books anything still to come within the horizon."""
    now = now or timezone.now()
    earliest = now if admin else now + timedelta(hours=organization.booking_notice_hours)
    return earliest, now + timedelta(days=organization.booking_horizon_days)


def week_start(organization: Organization, day: date | None = None) -> date:
    """The Monday of `day`'s week (today's, in the center's zone, by default)."""
    day = day or timezone.localdate(timezone=organization.tz)
    return day - timedelta(days=day.weekday())


def free_slots(
    *,
    organization: Organization,
    relationships: list[Relationship],
    first_day: date,
    day_count: int = 7,
    admin: bool = False,
    now: datetime | None = None,
    latest: datetime | None = None,
) -> list[Slot]:
    """The slots of `day_count` days from `first_day` (local dates) at which at least one of
    the relationships' providers is free for a booked session's length, in order; each with
    the providers free then. The student's own live sessions are taken out too."""
    if not relationships:
        return []
    tz = organization.tz
    earliest, horizon = bookable_window(organization, admin=admin, now=now)
    latest = latest or horizon
    range_start = max(local_moment(first_day, time(0), tz), earliest)
    # The horizon bounds when a session starts; the days read bound when it ends.
    range_end = local_moment(first_day + timedelta(days=day_count), time(0), tz)
    if range_end <= range_start or latest < range_start:
        return []
    by_provider = {r.provider_id: r for r in relationships}
    ids = list(by_provider)
    windows, exceptions = providers.availability_of(
        organization=organization,
        provider_ids=ids,
        first_day=first_day,
        last_day=first_day + timedelta(days=day_count - 1),
    )
    opens = openings(
        windows=windows, exceptions=exceptions, first_day=first_day, day_count=day_count, tz=tz
    )
    busy = busy_times(organization=organization, start=range_start, end=range_end, provider_ids=ids)
    student_busy = _student_busy(
        organization=organization,
        student=relationships[0].student,
        start=range_start,
        end=range_end,
    )
    length, step = organization.booking_slot_minutes, organization.booking_slot_step_minutes
    slots: dict[datetime, Slot] = {}
    for provider_id, provider_openings in opens.items():
        relationship = by_provider[provider_id]
        taken = busy.get(provider_id, []) + student_busy
        for opening in provider_openings:
            for start, end in free_pieces(opening, taken):
                for moment in slot_starts(
                    max(start, range_start), min(end, range_end), length=length, step=step, tz=tz
                ):
                    if moment > latest:
                        break
                    slot = slots.get(moment)
                    if slot is None:
                        slot = slots[moment] = Slot(moment, moment + timedelta(minutes=length))
                    if all(o.relationship is not relationship for o in slot.offers):
                        slot.offers.append(Offer(relationship, opening))
    return [slots[moment] for moment in sorted(slots)]


def offers_at(
    *,
    organization: Organization,
    relationships: list[Relationship],
    starts_at: datetime,
    admin: bool = False,
    now: datetime | None = None,
) -> list[Offer]:
    """The providers free at `starts_at` (one slot), each with where they meet then."""
    day = timezone.localtime(starts_at, organization.tz).date()
    for slot in free_slots(
        organization=organization,
        relationships=relationships,
        first_day=day,
        day_count=1,
        admin=admin,
        now=now,
    ):
        if slot.start == starts_at:
            return slot.offers
    return []


@dataclass
class CenterHour:
    """One hour of the center's week: how many providers are open, and free, in it."""

    start: datetime
    open: int = 0
    free: int = 0


@dataclass
class CenterDay:
    day: date
    hours: list[CenterHour]


def center_week(
    *, organization: Organization, first_day: date, first_hour: int = 7, last_hour: int = 22
) -> list[CenterDay]:
    """The center's week for its admins: for each day and hour (local, `first_hour` to
    `last_hour`), how many providers are open at some point of it and how many have a booked
    session's length free in it. Three queries, then arithmetic over every provider's
    openings."""
    tz = organization.tz
    start = local_moment(first_day, time(0), tz)
    end = local_moment(first_day + timedelta(days=7), time(0), tz)
    active = Provider.objects.filter(organization=organization, status="active").values_list(
        "pk", flat=True
    )
    windows, exceptions = providers.availability_of(
        organization=organization,
        provider_ids=active,
        first_day=first_day,
        last_day=first_day + timedelta(days=6),
    )
    opens = openings(
        windows=windows, exceptions=exceptions, first_day=first_day, day_count=7, tz=tz
    )
    busy = _all_busy(organization=organization, start=start, end=end)
    length, step = organization.booking_slot_minutes, organization.booking_slot_step_minutes
    days_ = [
        CenterDay(
            first_day + timedelta(days=n),
            [
                CenterHour(local_moment(first_day + timedelta(days=n), time(hour), tz))
                for hour in range(first_hour, last_hour)
            ],
        )
        for n in range(7)
    ]
    index = {(d.day, h.start.astimezone(tz).hour): h for d in days_ for h in d.hours}
    for provider_id, provider_openings in opens.items():
        open_hours: set[tuple[date, int]] = set()
        free_hours: set[tuple[date, int]] = set()
        for opening in provider_openings:
            moment = opening.start
            while moment < opening.end:
                local = moment.astimezone(tz)
                open_hours.add((local.date(), local.hour))
                moment = (
                    local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
                ).astimezone(UTC)
            for piece_start, piece_end in free_pieces(opening, busy.get(provider_id, [])):
                for slot in slot_starts(piece_start, piece_end, length=length, step=step, tz=tz):
                    local = slot.astimezone(tz)
                    free_hours.add((local.date(), local.hour))
        for key in open_hours:
            if (hour := index.get(key)) is not None:
                hour.open += 1
        for key in free_hours:
            if (hour := index.get(key)) is not None:
                hour.free += 1
    return days_


def _all_busy(
    *, organization: Organization, start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    rows = Session.objects.filter(
        LIVE, organization=organization, starts_at__gte=start - _LONGEST, starts_at__lt=end
    ).values_list("calendar_provider_id", "starts_at", "duration_minutes")
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for provider_id, starts_at, minutes in rows:
        busy[provider_id].append((starts_at, starts_at + timedelta(minutes=minutes)))
    return busy
