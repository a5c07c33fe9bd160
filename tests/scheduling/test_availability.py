"""Availability as moments: weekly windows and exceptions, kept as wall-clock times in the
center's zone, across the daylight-saving changes of two zones (docs/scheduling.md)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from providers.availability import local_moment, openings, slot_starts
from providers.models import AvailabilityException, AvailabilityWindow, ExceptionKind, Weekday

NEW_YORK = ZoneInfo("America/New_York")  # clocks forward Sun Mar 9 2025, back Sun Nov 2
LONDON = ZoneInfo("Europe/London")  # clocks forward Sun Mar 30 2025, back Sun Oct 26


def window(weekday: int, start: str, end: str, provider_id: int = 1) -> AvailabilityWindow:
    return AvailabilityWindow(
        provider_id=provider_id,
        weekday=weekday,
        start=time.fromisoformat(start),
        end=time.fromisoformat(end),
        mode="in_person",
        location="Room 2",
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "before", "after", "utc_before", "utc_after"),
    [
        # Saturday before and Monday after the spring change: 15:00 local both days.
        (NEW_YORK, date(2025, 3, 8), date(2025, 3, 10), utc(2025, 3, 8, 20), utc(2025, 3, 10, 19)),
        (LONDON, date(2025, 3, 29), date(2025, 3, 31), utc(2025, 3, 29, 15), utc(2025, 3, 31, 14)),
        # And across the autumn change, the other way.
        (
            NEW_YORK,
            date(2025, 11, 1),
            date(2025, 11, 3),
            utc(2025, 11, 1, 19),
            utc(2025, 11, 3, 20),
        ),
        (
            LONDON,
            date(2025, 10, 25),
            date(2025, 10, 27),
            utc(2025, 10, 25, 14),
            utc(2025, 10, 27, 15),
        ),
    ],
)
def test_weekly_hours_keep_their_wall_clock_time_across_a_change(
    tz: ZoneInfo, before: date, after: date, utc_before: datetime, utc_after: datetime
) -> None:
    windows = [
        window(before.weekday(), "15:00", "17:00"),
        window(after.weekday(), "15:00", "17:00"),
    ]
    found = openings(windows=windows, exceptions=[], first_day=before, day_count=3, tz=tz)[1]
    assert [o.start for o in found] == [utc_before, utc_after]
    assert all(o.end - o.start == timedelta(hours=2) for o in found)


@pytest.mark.parametrize(
    ("tz", "day", "expected"),
    [
        # 02:30 does not exist on the spring-forward night: it is the moment clocks showed 03:30.
        (NEW_YORK, date(2025, 3, 9), utc(2025, 3, 9, 7, 30)),
        (LONDON, date(2025, 3, 30), utc(2025, 3, 30, 1, 30)),
    ],
)
def test_a_skipped_wall_time_is_the_moment_past_the_change(
    tz: ZoneInfo, day: date, expected: datetime
) -> None:
    assert local_moment(day, time(2, 30), tz) == expected


@pytest.mark.parametrize(
    ("tz", "day", "expected_hours"),
    [
        # Open 00:00–06:00 on the night the clocks go forward: five real hours, not six.
        (NEW_YORK, date(2025, 3, 9), 5),
        (LONDON, date(2025, 3, 30), 5),
        # ...and seven on the night they go back.
        (NEW_YORK, date(2025, 11, 2), 7),
        (LONDON, date(2025, 10, 26), 7),
    ],
)
def test_a_window_over_the_change_lasts_the_real_time(
    tz: ZoneInfo, day: date, expected_hours: int
) -> None:
    found = openings(
        windows=[window(day.weekday(), "00:00", "06:00")],
        exceptions=[],
        first_day=day,
        day_count=1,
        tz=tz,
    )[1]
    assert [(o.end - o.start).total_seconds() / 3600 for o in found] == [expected_hours]


def test_slot_starts_stay_on_the_local_clock_across_the_change() -> None:
    # New York, Sunday Mar 9 2025: open 01:00–05:00 local; hourly slots of 60 minutes.
    day = date(2025, 3, 9)
    start, end = local_moment(day, time(1), NEW_YORK), local_moment(day, time(5), NEW_YORK)
    starts = [
        s.astimezone(NEW_YORK).strftime("%H:%M")
        for s in slot_starts(start, end, length=60, step=60, tz=NEW_YORK)
    ]
    # 02:00 does not exist that night: 01:00, then 03:00 and 04:00 (three real hours).
    assert starts == ["01:00", "03:00", "04:00"]


def test_time_off_cuts_the_week_and_extra_hours_add_to_it() -> None:
    monday = date(2025, 6, 9)
    windows = [window(Weekday.MONDAY, "09:00", "17:00"), window(Weekday.TUESDAY, "09:00", "12:00")]
    exceptions = [
        AvailabilityException(
            provider_id=1, kind=ExceptionKind.TIME_OFF, date=monday, start=time(12), end=time(13)
        ),
        AvailabilityException(provider_id=1, kind=ExceptionKind.TIME_OFF, date=date(2025, 6, 10)),
        AvailabilityException(
            provider_id=1,
            kind=ExceptionKind.EXTRA,
            date=date(2025, 6, 14),
            start=time(10),
            end=time(11),
            mode="online",
            location="https://meet.example/x",
        ),
    ]
    found = openings(
        windows=windows, exceptions=exceptions, first_day=monday, day_count=7, tz=NEW_YORK
    )[1]
    shown = [
        (
            o.start.astimezone(NEW_YORK).strftime("%a %H:%M"),
            o.end.astimezone(NEW_YORK).strftime("%H:%M"),
            o.mode,
        )
        for o in found
    ]
    assert shown == [
        ("Mon 09:00", "12:00", "in_person"),
        ("Mon 13:00", "17:00", "in_person"),
        ("Sat 10:00", "11:00", "online"),
    ]
