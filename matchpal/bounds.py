"""The one range of dates the project accepts: 1 Jan 2000 to 31 Dec of ten years ahead.

A year 1 saved as a BC timestamp, or 9999-12-31 plus a week, breaks the pages that compute
weeks and expiry dates for good, so every date a person types is bounded: by the form fields
of `matchpal.fields` (a field error) and again by the services (`check_date`, a DomainError).
"""

from datetime import date, datetime, timedelta

from django.utils import timezone

from matchpal.errors import DomainError

FIRST_YEAR = 2000
YEARS_AHEAD = 10


def first_day() -> date:
    return date(FIRST_YEAR, 1, 1)


def last_day() -> date:
    return date(timezone.localdate().year + YEARS_AHEAD, 12, 31)


def out_of_range() -> str:
    return f"Enter a date between 1 Jan {FIRST_YEAR} and 31 Dec {last_day().year}."


def in_range(value: date | datetime) -> bool:
    """A date, or a moment whose date (in its own time zone) is in the range. A moment gets a
    day's slack either side: the end of 31 Dec in one zone is 1 Jan in another."""
    if isinstance(value, datetime):
        slack = timedelta(days=1)
        return first_day() - slack <= value.date() <= last_day() + slack
    return first_day() <= value <= last_day()


def check_date(
    value: date | datetime | None,
    *,
    field: str | None = None,
    error: type[DomainError] = DomainError,
) -> None:
    """Refuse a date outside the range with the same sentence as the form fields; `error` is the
    service's own DomainError subclass."""
    if value is not None and not in_range(value):
        raise error(out_of_range(), field=field)
