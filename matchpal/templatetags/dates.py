"""`{{ value|date:"M j, Y H:i" }}` without Django's per-call formatter: a built-in library of the
template engine (`TEMPLATES[…]["OPTIONS"]["builtins"]`), so it replaces Django's `date` filter in
every template.

Django's filter looks the format up among the locale's named formats, builds a `DateFormat` (which
works out the value's time zone), splits the format with a regular expression and translates
the month or weekday name, on every call: issue 11 measured it at 7–11 % of a list's or a
history's Python work, one date per row. This one splits each format once (cached) and takes
the names from a table made once per language from Django's own translated names, then writes
exactly what Django's writes (tests/matchpal/test_date_filter.py compares the two). Any format
or value it does not handle (a named format such as "DATE_FORMAT", an escaped character, a
letter outside `_CODES`, a time code on a date, anything not a date) goes to Django's filter.
"""

from collections.abc import Callable
from datetime import date as Date
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from django import template
from django.template import defaultfilters
from django.utils.dateformat import re_formatchars
from django.utils.dates import MONTHS, MONTHS_3, WEEKDAYS, WEEKDAYS_ABBR
from django.utils.formats import FORMAT_SETTINGS
from django.utils.translation import get_language

register = template.Library()


class Names(NamedTuple):
    """The month and weekday names of one language, as Django's `DateFormat` writes them."""

    months_3: dict[int, str]
    months: dict[int, str]
    weekdays_abbr: dict[int, str]
    weekdays: dict[int, str]


@lru_cache
def _names(language: str | None) -> Names:
    """Made while `language` is active (the caller's), so the lazy names translate to it."""
    return Names(
        {m: str(name).title() for m, name in MONTHS_3.items()},
        {m: str(name) for m, name in MONTHS.items()},
        {d: str(name) for d, name in WEEKDAYS_ABBR.items()},
        {d: str(name) for d, name in WEEKDAYS.items()},
    )


Code = Callable[[Any, Names], str]

# Django's `DateFormat` method of each letter, written directly.
_CODES: dict[str, Code] = {
    "d": lambda v, n: f"{v.day:02d}",
    "j": lambda v, n: str(v.day),
    "D": lambda v, n: n.weekdays_abbr[v.weekday()],
    "l": lambda v, n: n.weekdays[v.weekday()],
    "m": lambda v, n: f"{v.month:02d}",
    "n": lambda v, n: str(v.month),
    "M": lambda v, n: n.months_3[v.month],
    "F": lambda v, n: n.months[v.month],
    "Y": lambda v, n: f"{v.year:04d}",
    "H": lambda v, n: f"{v.hour:02d}",
    "G": lambda v, n: str(v.hour),
    "i": lambda v, n: f"{v.minute:02d}",
    "s": lambda v, n: f"{v.second:02d}",
}
# A `date` has none of these: Django refuses them (TypeError), so its filter gets those calls.
_TIME_CODES = frozenset("HGis")


class Format(NamedTuple):
    pieces: tuple[str | Code, ...]
    has_time: bool


@lru_cache(maxsize=256)
def _compiled(format_string: str) -> Format | None:
    """The format's literal text and codes in order, split as `DateFormat.format` splits it;
    None for one this module leaves to Django."""
    if not format_string or format_string in FORMAT_SETTINGS or "\\" in format_string:
        return None
    pieces: list[str | Code] = []
    has_time = False
    for i, piece in enumerate(re_formatchars.split(format_string)):
        if i % 2:
            code = _CODES.get(piece)
            if code is None:
                return None
            pieces.append(code)
            has_time |= piece in _TIME_CODES
        elif piece:
            pieces.append(piece)
    return Format(tuple(pieces), has_time)


@register.filter(expects_localtime=True, is_safe=False)
def date(value: Any, arg: str | None = None) -> str:
    """Django's `date` filter, the same text."""
    compiled = _compiled(arg) if isinstance(arg, str) else None
    if compiled is None or not (
        isinstance(value, datetime) or (type(value) is Date and not compiled.has_time)
    ):
        return defaultfilters.date(value, arg)
    names = _names(get_language())
    return "".join(
        piece if isinstance(piece, str) else piece(value, names) for piece in compiled.pieces
    )
