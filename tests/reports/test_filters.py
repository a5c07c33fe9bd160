"""The reports' date ranges: the presets, the automatic grouping, and "today" being the center's."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from reports.forms import automatic_period, preset_range
from tests.support import Tenant, client_for


@pytest.mark.parametrize(
    ("name", "today", "expected"),
    [
        ("last_30_days", date(2026, 3, 1), (date(2026, 1, 31), date(2026, 3, 1))),
        ("this_month", date(2024, 2, 10), (date(2024, 2, 1), date(2024, 2, 29))),
        ("last_month", date(2026, 1, 15), (date(2025, 12, 1), date(2025, 12, 31))),
        ("this_year", date(2026, 7, 4), (date(2026, 1, 1), date(2026, 12, 31))),
        ("last_12_months", date(2026, 1, 20), (date(2025, 2, 1), date(2026, 1, 31))),
    ],
)
def test_each_preset_covers_whole_days(name: str, today: date, expected: tuple[date, date]) -> None:
    assert preset_range(name, today) == expected


@pytest.mark.parametrize(
    ("days", "period"), [(1, "day"), (31, "day"), (32, "week"), (182, "week"), (183, "month")]
)
def test_the_automatic_grouping_follows_the_length(days: int, period: str) -> None:
    start = date(2026, 1, 1)
    assert automatic_period(start, date.fromordinal(start.toordinal() + days - 1)) == period


@pytest.mark.django_db
def test_today_is_the_centers_day(tenant_a: Tenant, time_machine) -> None:  # type: ignore[no-untyped-def]
    # 02:00 on March 1 in UTC is still February 28 in New York, the center's zone.
    time_machine.move_to(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    url = reverse("reports:sessions", args=[tenant_a.organization.slug])

    response = client_for(tenant_a.admin).get(url, {"range": "this_month"})

    scope = response.context["scope"]
    assert (scope.start, scope.end, scope.period) == (date(2026, 2, 1), date(2026, 2, 28), "day")
    assert scope.starts == datetime(2026, 2, 1, 5, 0, tzinfo=UTC)
