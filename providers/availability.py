"""A provider's open hours as moments in time: the weekly windows and the exceptions (kept as
wall-clock times in the organization's zone) turned into aware intervals for given days.

Pure functions over rows already read (`providers.selectors.availability_of`): the free slots
(`sessions_app.slots`) and the provider's week page call them with a fixed number of queries
whatever the number of providers. docs/scheduling.md, "Availability".
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from providers.models import AvailabilityException, AvailabilityWindow, ExceptionKind


@dataclass(frozen=True)
class Opening:
    """A stretch of time a provider is open, with where they meet then."""

    provider_id: int
    start: datetime
    end: datetime
    mode: str
    location: str


def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`at` o'clock on `day` in `tz`, as an aware moment in UTC.

    A wall time that a daylight-saving change skips (02:30 on the spring-forward night) is
    the moment the clocks showed 03:30: the same distance past the change. A wall time the
    autumn change repeats is its first occurrence (`fold=0`)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]


def _day_end(day: date, tz: ZoneInfo) -> datetime:
    return local_moment(day + timedelta(days=1), time(0), tz)


def _subtract(
    intervals: list[tuple[datetime, datetime]], cut: tuple[datetime, datetime]
) -> list[tuple[datetime, datetime]]:
    kept: list[tuple[datetime, datetime]] = []
    for start, end in intervals:
        if cut[1] <= start or end <= cut[0]:
            kept.append((start, end))
            continue
        if start < cut[0]:
            kept.append((start, cut[0]))
        if cut[1] < end:
            kept.append((cut[1], end))
    return kept


def openings(
    *,
    windows: Iterable[AvailabilityWindow],
    exceptions: Iterable[AvailabilityException],
    first_day: date,
    day_count: int,
    tz: ZoneInfo,
) -> dict[int, list[Opening]]:
    """Each provider's openings over `day_count` days from `first_day` (local dates), in
    order: the weekly windows of each weekday, plus one-off extra hours, less time off. A time
    off cuts whatever it covers, extra hours included; overlapping windows stay separate
    openings (each has its own place)."""
    by_weekday: dict[int, list[AvailabilityWindow]] = defaultdict(list)
    for window in windows:
        by_weekday[window.weekday].append(window)
    extras: dict[date, list[AvailabilityException]] = defaultdict(list)
    time_off: dict[tuple[int, date], list[tuple[datetime, datetime]]] = defaultdict(list)
    for exception in exceptions:
        if exception.kind == ExceptionKind.EXTRA:
            extras[exception.date].append(exception)
        elif exception.start is None or exception.end is None:
            start = local_moment(exception.date, time(0), tz)
            time_off[exception.provider_id, exception.date].append(
                (start, _day_end(exception.date, tz))
            )
        else:
            time_off[exception.provider_id, exception.date].append(
                (
                    local_moment(exception.date, exception.start, tz),
                    local_moment(exception.date, exception.end, tz),
                )
            )
    found: dict[int, list[Opening]] = defaultdict(list)
    for day in days(first_day, day_count):
        rows: list[AvailabilityWindow | AvailabilityException] = [
            *by_weekday.get(day.weekday(), ()),
            *extras.get(day, ()),
        ]
        for row in rows:
            assert row.start is not None
            assert row.end is not None
            pieces = [(local_moment(day, row.start, tz), local_moment(day, row.end, tz))]
            for cut in time_off.get((row.provider_id, day), ()):
                pieces = _subtract(pieces, cut)
            found[row.provider_id].extend(
                Opening(row.provider_id, start, end, row.mode, row.location)
                for start, end in pieces
                if end > start
            )
    for provider_openings in found.values():
        provider_openings.sort(key=lambda opening: (opening.start, opening.end))
    return dict(found)


def free_pieces(
    opening: Opening, busy: Iterable[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of `opening` no busy interval covers."""
    pieces = [(opening.start, opening.end)]
    for cut in busy:
        pieces = _subtract(pieces, cut)
    return pieces


def slot_starts(
    start: datetime, end: datetime, *, length: int, step: int, tz: ZoneInfo
) -> Iterator[datetime]:
    """The starts, on the local clock's `step` (every 30 minutes: :00 and :30), of the
    sessions of `length` minutes that fit between `start` and `end`."""
    local = start.astimezone(tz)
    past_midnight = local.hour * 60 + local.minute + (1 if local.second or local.microsecond else 0)
    first = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        minutes=-(-past_midnight // step) * step
    )
    moment = first.astimezone(UTC)
    duration = timedelta(minutes=length)
    while moment + duration <= end:
        if moment >= start:
            yield moment
        moment += timedelta(minutes=step)
