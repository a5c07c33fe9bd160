"""Free slots: the providers' openings (`providers.availability`) less their live sessions, on
the center's booking rules (notice, horizon, length and step). docs/scheduling.md, "Booking".

Reads only, a fixed number of queries whatever the number of providers or sessions: the
relationships, the windows, the exceptions and the busy sessions, one query each.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, overload

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from matchpal import data_version
from matchpal.models import Organization, ServiceType
from providers import selectors as providers
from providers.availability import Opening, free_pieces, local_moment, openings, slot_starts
from providers.models import ExceptionKind, Provider
from relationships.models import Relationship, RelationshipStatus
from sessions_app.models import LIVE, LIVE_STATUSES, Session
from students.models import Student

# The longest a session can last (matchpal.services.MAX_SESSION_BOUND): a live session that
# started this long before a range may still reach into it.
_LONGEST = timedelta(days=1)


@dataclass(frozen=True)
class Offer:
    """One provider free at a slot, with where they meet then: `opening`, the first of their
    hours covering it, and `choices`, every one (distinct mode and place) when their hours
    overlap there (an online window over an in-person one)."""

    relationship: Relationship
    opening: Opening
    choices: list[Opening] = field(default_factory=list)

    @property
    def provider(self) -> Provider:
        return self.relationship.provider

    @property
    def modes(self) -> list[str]:
        return list(dict.fromkeys(opening.mode for opening in self.choices or [self.opening]))

    def opening_for(self, mode: str) -> Opening | None:
        """The first of the provider's hours at the slot with that mode (any for "")."""
        if not mode:
            return self.opening
        return next((o for o in self.choices or [self.opening] if o.mode == mode), None)


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
                    offer = next((o for o in slot.offers if o.relationship is relationship), None)
                    if offer is None:
                        slot.offers.append(Offer(relationship, opening, [opening]))
                    elif all(
                        (c.mode, c.location) != (opening.mode, opening.location)
                        for c in offer.choices
                    ):
                        offer.choices.append(opening)
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
    session's length free in it.

    On PostgreSQL, a week without a daylight-saving change is counted in whole minutes of the
    local clock (`_center_week_minutes`: one statement, integer arithmetic); a week with a
    change, and SQLite, take the moments one by one (`_center_week_moments`). Both give the
    same counts (tests/scheduling/test_center_week.py). The minutes' counts are kept in the cache
    under the versions of the center's data and hours (`_center_week_versioned`), and under a
    fingerprint of the rows they come from (`_center_week_cached`)."""
    tz = organization.tz
    start = local_moment(first_day, time(0), tz)
    end = local_moment(first_day + timedelta(days=7), time(0), tz)
    if connection.vendor == "postgresql" and end - start == timedelta(days=7):
        return _center_week_versioned(
            organization=organization,
            first_day=first_day,
            first_hour=first_hour,
            last_hour=last_hour,
        )
    return _center_week_moments(
        organization=organization, first_day=first_day, first_hour=first_hour, last_hour=last_hour
    )


def _week_days(
    organization: Organization, first_day: date, first_hour: int, last_hour: int
) -> list[CenterDay]:
    tz = organization.tz
    return [
        CenterDay(
            first_day + timedelta(days=n),
            [
                CenterHour(local_moment(first_day + timedelta(days=n), time(hour), tz))
                for hour in range(first_hour, last_hour)
            ],
        )
        for n in range(7)
    ]


_MINUTES_OF_DAY = 24 * 60
# Counts are stored under a fingerprint of their rows: any timeout is correct; this one only
# bounds how long the counts of rows since changed stay in the cache.
_CENTER_WEEK_TIMEOUT = 24 * 3600


def _center_week_stamp_sql(*, organization: Organization, first_day: date) -> tuple[str, list[Any]]:
    """One row, one text column: a fingerprint of every row `_center_week_minutes` reads (the
    providers' hours, `providers.selectors.week_availability_stamp_sql`, and the week's live
    sessions: their number and the sum of a hash of provider, start and length). A booking, a
    cancellation, a reschedule, a session completed, hours or time off added, edited or removed,
    a provider made inactive: each changes it. It is a function of the rows alone, not of when
    they were written, so a transaction committing late cannot leave it unchanged."""
    hours_sql, params = providers.week_availability_stamp_sql(
        organization=organization, first_day=first_day
    )
    start = local_moment(first_day, time(0), organization.tz)
    # Only the table name is formatted in; every value is a parameter.
    sql = f"""
        SELECT md5(concat_ws('|', ({hours_sql}), s.n, s.h)) FROM
          (SELECT count(*) n, coalesce(sum(hash_record_extended(
                ROW(provider_id, starts_at, duration_minutes), 0)), 0) h
           FROM {Session._meta.db_table}
           WHERE organization_id = %s AND status = ANY(%s) AND provider_id IS NOT NULL
             AND starts_at >= %s AND starts_at < %s) s"""  # noqa: S608
    params += [organization.pk, list(LIVE_STATUSES), start - _LONGEST, start + timedelta(days=7)]
    return sql, params


def _center_week_key(
    organization: Organization, first_day: date, first_hour: int, last_hour: int, stamp: str
) -> str:
    """Everything the counts depend on: the organization (two never share an entry), the week
    and hours shown, its booking length, step and zone, and the rows' fingerprint."""
    return ":".join(
        str(part)
        for part in (
            "center-week:1",
            organization.pk,
            first_day.isoformat(),
            first_hour,
            last_hour,
            organization.booking_slot_minutes,
            organization.booking_slot_step_minutes,
            organization.time_zone,
            stamp,
        )
    )


# The center's data version (`matchpal.data_version`: sessions, providers, the organization…),
# its hours' (`providers.models.AvailabilityVersion`), and whether this transaction has written
# rows (not counted in either until it commits). One row; the organization twice.
_VERSIONS = (
    f"SELECT ({data_version.SUM}), ({providers.HOURS_VERSION_SQL}), "
    "pg_current_xact_id_if_assigned() IS NOT NULL"
)


def _center_week_versioned(
    *, organization: Organization, first_day: date, first_hour: int, last_hour: int
) -> list[CenterDay]:
    """The minutes' counts from the cache while neither the center's data nor its hours have
    changed since they were kept: one small statement of a constant cost, two sums of a few rows
    by key (`_VERSIONS`), where the fingerprint reads every live session of the week and every
    weekly window (16 ms at 1,000 providers and 4,000 sessions in the week, docs/performance.md).
    When a version moved (any write of the center: most do not change the week), the
    fingerprint decides (`_center_week_cached`), and the counts are kept under the new versions
    too. Read before the counts, a version is never newer than they are: counts are never kept
    under versions their rows have since passed (the versions only grow). A transaction that
    has written rows (counted at its commit) goes to the fingerprint."""
    with connection.cursor() as cursor:
        cursor.execute(_VERSIONS, [organization.pk, organization.pk])
        data, hours, wrote = cursor.fetchone()
    if wrote:
        return _center_week_cached(
            organization=organization,
            first_day=first_day,
            first_hour=first_hour,
            last_hour=last_hour,
        )
    key = ":".join(
        str(part)
        for part in (
            "center-week-versions:1",
            # Versions are small numbers: the database and the organization's creation keep
            # two databases' (a copy, a test run) on one Redis apart.
            connection.settings_dict["NAME"],
            organization.created_at.timestamp(),
            data,
            hours,
            _center_week_key(organization, first_day, first_hour, last_hour, ""),
        )
    )
    counts = cache.get(key)
    if counts is not None:
        return _with_counts(organization, first_day, first_hour, last_hour, counts)
    days_ = _center_week_cached(
        organization=organization, first_day=first_day, first_hour=first_hour, last_hour=last_hour
    )
    cache.set(
        key,
        [[(hour.open, hour.free) for hour in day.hours] for day in days_],
        _CENTER_WEEK_TIMEOUT,
    )
    return days_


def _with_counts(
    organization: Organization,
    first_day: date,
    first_hour: int,
    last_hour: int,
    counts: list[list[tuple[int, int]]],
) -> list[CenterDay]:
    days_ = _week_days(organization, first_day, first_hour, last_hour)
    for center_day, day_counts in zip(days_, counts, strict=True):
        for center_hour, (open_, free) in zip(center_day.hours, day_counts, strict=True):
            center_hour.open, center_hour.free = open_, free
    return days_


def _center_week_cached(
    *, organization: Organization, first_day: date, first_hour: int, last_hour: int
) -> list[CenterDay]:
    """The minutes' counts, from the cache when the rows they come from are unchanged: one small
        statement (the fingerprint) instead of the week's rows and the arithmetic over them. On a
        miss, the counts are stored under the fingerprint read by the same statement as their rows
        (one snapshot), never under an earlier one. While Redis cannot be reached the cache reads as
    empty and keeps nothing (matchpal/cache.py): every view counts from the rows."""
    stamp_sql, params = _center_week_stamp_sql(organization=organization, first_day=first_day)
    with connection.cursor() as cursor:
        cursor.execute(stamp_sql, params)
        (stamp,) = cursor.fetchone()
    counts = cache.get(_center_week_key(organization, first_day, first_hour, last_hour, stamp))
    if counts is not None:
        return _with_counts(organization, first_day, first_hour, last_hour, counts)
    days_, stamp = _center_week_minutes(
        organization=organization,
        first_day=first_day,
        first_hour=first_hour,
        last_hour=last_hour,
        with_stamp=True,
    )
    counts = [[(hour.open, hour.free) for hour in day.hours] for day in days_]
    cache.set(
        _center_week_key(organization, first_day, first_hour, last_hour, stamp),
        counts,
        _CENTER_WEEK_TIMEOUT,
    )
    return days_


@overload
def _center_week_minutes(
    *,
    organization: Organization,
    first_day: date,
    first_hour: int,
    last_hour: int,
    with_stamp: Literal[False] = False,
) -> list[CenterDay]: ...
@overload
def _center_week_minutes(
    *,
    organization: Organization,
    first_day: date,
    first_hour: int,
    last_hour: int,
    with_stamp: Literal[True],
) -> tuple[list[CenterDay], str]: ...
def _center_week_minutes(
    *,
    organization: Organization,
    first_day: date,
    first_hour: int,
    last_hour: int,
    with_stamp: bool = False,
) -> list[CenterDay] | tuple[list[CenterDay], str]:
    """The center's week in minutes since Monday 00:00 on the local clock, exact when the week
    has no daylight-saving change. One statement reads the providers' hours
    (`providers.selectors.week_availability_sql`) and the week's live sessions, converted to
    local minutes by PostgreSQL; then, per provider, integers: its openings less its time off
    (open hours), less its sessions (free pieces), the slot starts on the step of the local
    clock in each piece (free hours). At 1,000 providers, some 3,300 windows and 6,600
    sessions: a tenth of the time the moments took (docs/performance.md)."""
    hours_sql, params = providers.week_availability_sql(
        organization=organization, first_day=first_day
    )
    # No change in the week: the local clock is UTC plus one offset, so a session's local
    # minute is its distance from the local Monday 00:00 (no time zone arithmetic per row).
    start = local_moment(first_day, time(0), organization.tz)
    # Only the table name is formatted in; every value is a parameter.
    session_sql = f"""
        SELECT 'b', s.provider_id, 0,
               floor((date_part('epoch', s.starts_at) - %s) / 60)::int,
               ceil((date_part('epoch', s.starts_at) - %s) / 60 + s.duration_minutes)::int
        FROM {Session._meta.db_table} s
        WHERE s.organization_id = %s AND s.status = ANY(%s) AND s.provider_id IS NOT NULL
          AND s.starts_at >= %s AND s.starts_at < %s"""  # noqa: S608
    epoch = start.timestamp()
    params += [
        epoch,
        epoch,
        organization.pk,
        list(LIVE_STATUSES),
        start - _LONGEST,
        start + timedelta(days=7),
    ]
    sql = f"{hours_sql} UNION ALL {session_sql}"
    if with_stamp:
        # The fingerprint of these very rows, read in the same snapshot, as a row of kind "#…".
        stamp_sql, stamp_params = _center_week_stamp_sql(
            organization=organization, first_day=first_day
        )
        sql += f" UNION ALL SELECT '#' || ({stamp_sql}), 0, 0, 0, 0"
        params += stamp_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    stamp = ""

    openings_: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # (day, start, end)
    time_off: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for kind, provider_id, day, begin, finish in rows:
        if kind == "b":
            busy[provider_id].append((begin, finish))
        elif kind.startswith("#"):
            stamp = kind[1:]
        elif kind == ExceptionKind.TIME_OFF:
            time_off[provider_id, day].append((begin, finish))
        elif begin < finish and 0 <= day < 7:
            openings_[provider_id].append((day, begin, finish))

    length, step = organization.booking_slot_minutes, organization.booking_slot_step_minutes
    aligned = 60 % step == 0  # the step divides the hour: 5, 10, 15, 20, 30 or 60 minutes
    open_count: dict[int, int] = defaultdict(int)  # hour of the week (day * 24 + hour) → count
    free_count: dict[int, int] = defaultdict(int)
    for provider_id, provider_openings in openings_.items():
        open_hours: set[int] = set()
        free_hours: set[int] = set()
        taken = busy.get(provider_id, [])
        for day, begin, finish in provider_openings:
            base = day * _MINUTES_OF_DAY
            pieces = [(base + begin, base + finish)]
            for cut_start, cut_end in time_off.get((provider_id, day), ()):
                pieces = _cut(pieces, (base + cut_start, base + cut_end))
            for piece_start, piece_end in pieces:
                open_hours.update(range(piece_start // 60, (piece_end - 1) // 60 + 1))
                free = [(piece_start, piece_end)]
                for cut in taken:
                    if cut[0] < piece_end and piece_start < cut[1]:
                        free = _cut(free, cut)
                for free_start, free_end in free:
                    # The first start on the local clock's step, counted from midnight.
                    moment = base + -(-(free_start - base) // step) * step
                    if moment + length > free_end:
                        continue
                    last = moment + (free_end - length - moment) // step * step
                    if aligned:
                        # Every hour from the first start to the last holds a start.
                        free_hours.update(range(moment // 60, last // 60 + 1))
                        continue
                    while moment <= last:
                        free_hours.add(moment // 60)
                        moment += step
        for hour in open_hours:
            open_count[hour] += 1
        for hour in free_hours:
            free_count[hour] += 1

    days_ = _week_days(organization, first_day, first_hour, last_hour)
    for n, center_day in enumerate(days_):
        for k, center_hour in enumerate(center_day.hours):
            hour = n * 24 + first_hour + k
            center_hour.open, center_hour.free = open_count.get(hour, 0), free_count.get(hour, 0)
    return (days_, stamp) if with_stamp else days_


def _cut(pieces: list[tuple[int, int]], cut: tuple[int, int]) -> list[tuple[int, int]]:
    """`pieces` less `cut`, in minutes (`providers.availability._subtract` for integers)."""
    kept: list[tuple[int, int]] = []
    for start, end in pieces:
        if cut[1] <= start or end <= cut[0]:
            kept.append((start, end))
            continue
        if start < cut[0]:
            kept.append((start, cut[0]))
        if cut[1] < end:
            kept.append((cut[1], end))
    return kept


def _center_week_moments(
    *, organization: Organization, first_day: date, first_hour: int, last_hour: int
) -> list[CenterDay]:
    """The center's week from aware moments: three queries, then arithmetic over every
    provider's openings (correct across a daylight-saving change)."""
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
    days_ = _week_days(organization, first_day, first_hour, last_hour)
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
