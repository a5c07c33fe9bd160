"""Every template's `date` filter is the project's (matchpal/templatetags/dates.py): the same
text as Django's filter for every format the templates use and the others it writes itself, in
any language, and Django's own answer for everything it leaves to it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import defaultfilters, engines
from django.utils import translation

from matchpal.templatetags.dates import date as project_date

FORMATS = [
    "M j, Y",
    "M j",
    "M j, Y H:i",
    "M j, H:i",
    "D M j, Y H:i",
    "M j H:i:s",
    "F j, Y",
    "Y-m-d",
    "l M j, Y H:i",
    "d/m/Y G:i:s n",
    # Left to Django: named formats, escapes, letters this module does not write, none at all.
    "DATE_FORMAT",
    "SHORT_DATETIME_FORMAT",
    r"\Y\e\a\r: Y",
    "jS F Y, P T e",
    "",
    None,
]
NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 1, 1, 0, 7, 9, tzinfo=UTC)
# A value every 97 hours and 13 minutes over a year and a half: every month, weekday and hour.
MOMENTS = [START + timedelta(hours=97 * k, minutes=13 * k) for k in range(140)]
VALUES = [
    *MOMENTS,
    *(m.astimezone(NEW_YORK) for m in MOMENTS[:30]),
    *(m.replace(tzinfo=None) for m in MOMENTS[:30]),
    *(m.date() for m in MOMENTS[:30]),
    datetime(5, 3, 4, 5, 6, 7),
    None,
    "",
    "2026-01-01",
    42,
]


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_the_project_filter_writes_what_djangos_writes(language: str) -> None:
    differing = []
    with translation.override(language):
        for fmt in FORMATS:
            for value in VALUES:
                try:
                    expected: object = defaultfilters.date(value, fmt)
                except TypeError as error:  # a time code on a date: Django refuses it
                    expected = type(error)
                try:
                    ours: object = project_date(value, fmt)
                except TypeError as error:
                    ours = type(error)
                if ours != expected:
                    differing.append((fmt, value, ours, expected))

    assert differing == []


def test_templates_use_the_project_filter() -> None:
    template = engines["django"].from_string('{{ when|date:"D M j, Y H:i" }}')

    assert template.template.nodelist[0].filter_expression.filters[0][0] is project_date
    with translation.override("en"):
        shown = template.render({"when": datetime(2026, 3, 4, 9, 5, tzinfo=UTC)})
    assert shown == "Wed Mar 4, 2026 09:05"
