"""The Sessions report's figures, exactly, on the known history of tests/reports/history.py;
its filters and its role rules."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reports.framework import Table
from tests.reports.history import JUNE, History, build
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def history(clock: object, tenant_a: Tenant, tenant_b: Tenant) -> History:
    build(tenant_b)  # the other center's identical history is never counted
    return build(tenant_a)


def report(client: Client, tenant: Tenant, **query: str) -> Any:
    url = reverse("reports:sessions", args=[tenant.organization.slug])
    response = client.get(url, {**JUNE, **query})
    assert response.status_code == 200
    return response


def tables(response: Any) -> dict[str, Table]:
    return {table.name: table for table in response.context["tables"]}


def picked(table: Table, *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[key] for key in keys) for row in table.shown]


INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."

ALL = {
    "sessions": 8,
    "scheduled": 1,
    "completed": 3,
    "cancelled": 2,
    "late_charged": 1,
    "no_shows": 2,
    "student_no_shows": 1,
    "ended": 7,
    "delivered_minutes": 155,
    "consumed_minutes": 195,
    "consumed_sessions": 1,
}


def test_the_summary_counts_each_outcome_and_each_unit_apart(
    history: History, tenant_a: Tenant
) -> None:
    response = report(client_for(tenant_a.admin), tenant_a)

    assert response.context["figures"] == ALL
    outcomes = tables(response)["outcomes"]
    assert picked(outcomes, "outcome", "sessions") == [
        ("Completed", 3),
        ("Cancelled", 2),
        ("of which charged (late cancellations)", 1),
        ("No-show", 2),
        ("of which by the student", 1),
        ("Scheduled (not yet held)", 1),
    ]
    page = response.content.decode()
    assert "2 h 35 min" in page  # delivered
    assert "3 h 15 min" in page  # consumed, in minutes
    assert "1 session of session packages" in page


def test_sessions_per_week_fill_every_week_of_the_range(history: History, tenant_a: Tenant) -> None:
    response = report(client_for(tenant_a.admin), tenant_a, period="week")

    periods = tables(response)["periods"]
    keys = ("period", "sessions", "completed", "cancelled", "no_shows", "delivered_minutes")
    assert picked(periods, *keys, "consumed_minutes", "consumed_sessions") == [
        ("Week of May 26, 2025", 0, 0, 0, 0, 0, 0, 0),
        ("Week of Jun 2, 2025", 5, 3, 1, 1, 155, 105, 1),
        ("Week of Jun 9, 2025", 2, 0, 1, 1, 0, 90, 0),
        ("Week of Jun 16, 2025", 1, 0, 0, 0, 0, 0, 0),
        ("Week of Jun 23, 2025", 0, 0, 0, 0, 0, 0, 0),
        ("Week of Jun 30, 2025", 0, 0, 0, 0, 0, 0, 0),
    ]
    assert periods.totals == ALL
    bars = periods.chart.bars
    assert [bar.title for bar in bars][1] == "Week of Jun 2, 2025: 2 h 35 min"
    assert bars[1].height > 0
    assert bars[2].height == 0


def test_days_and_months(history: History, tenant_a: Tenant) -> None:
    admin = client_for(tenant_a.admin)

    days = tables(report(admin, tenant_a))["periods"]  # 30 days: by day on its own
    assert len(days.shown) == 30
    assert days.shown[2]["period"] == "Tue Jun 3, 2025"
    assert days.shown[2]["delivered_minutes"] == 45

    months = tables(
        report(admin, tenant_a, date_from="2025-05-01", date_to="2025-06-30", period="month")
    )["periods"]
    assert picked(months, "period", "completed", "delivered_minutes") == [
        ("May 2025", 1, 60),
        ("June 2025", 3, 155),
    ]


def test_hours_per_provider_and_per_student(history: History, tenant_a: Tenant) -> None:
    found = tables(report(client_for(tenant_a.admin), tenant_a))
    me, other = tenant_a.provider.name, history.other_provider_name

    assert picked(
        found["providers"], "provider", "sessions", "completed", "delivered_minutes", "ended"
    ) == [(me, 6, 2, 105, 5), (other, 2, 1, 50, 2)]
    assert picked(
        found["students"],
        "student",
        "completed",
        "consumed_minutes",
        "consumed_sessions",
        "student_no_shows",
    ) == [(tenant_a.student.name, 2, 195, 0, 1), (history.other_student_name, 1, 0, 1, 0)]
    assert picked(found["no_shows"], "student", "ended", "student_no_shows") == [
        (tenant_a.student.name, 5, 1)
    ]
    assert picked(found["relationships"], "student", "sessions", "delivered_minutes") == [
        (tenant_a.student.name, 6, 105),
        (history.other_student_name, 2, 50),
    ]
    page = report(client_for(tenant_a.admin), tenant_a).content.decode()
    # The average duration of the provider's 2 completed sessions, 105 / 2, halves up.
    assert '<td class="text-end text-nowrap">53 min</td>' in page
    assert "20.0 %" in page  # the student's no-show rate: 1 of 5 that ended


def test_popular_times_count_completed_sessions_by_local_weekday_and_hour(
    history: History, tenant_a: Tenant
) -> None:
    heat = tables(report(client_for(tenant_a.admin), tenant_a))["popular_times"]

    by_day = {row["weekday"]: row for row in heat.shown}
    assert [column.label for column in heat.columns] == ["Day", "10:00", "16:00", "All hours"]
    assert (by_day["Mon"]["h10"], by_day["Tue"]["h10"], by_day["Thu"]["h16"]) == (1, 1, 1)
    assert sum(row["completed"] for row in heat.shown) == 3
    counts = {cell.title: cell.count for cell in heat.chart.cells if cell.count}
    assert counts == {
        "Mon 10:00–10:59: 1 sessions": 1,
        "Tue 10:00–10:59: 1 sessions": 1,
        "Thu 16:00–16:59: 1 sessions": 1,
    }


def test_filters_narrow_every_figure(history: History, tenant_a: Tenant) -> None:
    admin = client_for(tenant_a.admin)

    by_provider = report(admin, tenant_a, provider=str(tenant_a.provider.public_id))
    assert by_provider.context["figures"]["sessions"] == 6
    assert by_provider.context["figures"]["consumed_sessions"] == 0

    by_student = report(admin, tenant_a, student_search=history.other_student_name)
    assert by_student.context["figures"]["completed"] == 1
    assert by_student.context["figures"]["consumed_sessions"] == 1

    advising = tenant_a.organization.service_types.get(name="Advising")
    none = report(admin, tenant_a, service_type=str(advising.public_id))
    assert none.context["figures"]["sessions"] == 0

    first_week = report(admin, tenant_a, date_to="2025-06-07")
    assert first_week.context["figures"]["sessions"] == 5


def test_a_provider_sees_only_their_own_sessions(history: History, tenant_a: Tenant) -> None:
    response = report(client_for(tenant_a.provider_user), tenant_a)

    figures = response.context["figures"]
    assert (figures["sessions"], figures["delivered_minutes"], figures["consumed_sessions"]) == (
        6,
        105,
        0,
    )
    found = tables(response)
    assert "providers" not in found  # only themselves
    assert [row["student"] for row in found["students"].shown] == [tenant_a.student.name]
    assert "provider" not in response.context["form"].fields
    assert history.other_student_name not in response.content.decode()


def test_a_student_sees_only_their_own_history(history: History, tenant_a: Tenant) -> None:
    response = report(client_for(tenant_a.student_user), tenant_a)

    assert response.context["figures"]["consumed_minutes"] == 195
    assert response.context["figures"]["sessions"] == 6
    assert set(tables(response)) == {"periods", "outcomes", "relationships", "popular_times"}
    assert {"provider", "student"}.isdisjoint(response.context["form"].fields)
    assert history.other_provider_name not in response.content.decode()


def test_a_provider_cannot_pick_another_providers_student(
    history: History, tenant_a: Tenant
) -> None:
    response = report(
        client_for(tenant_a.provider_user), tenant_a, student_search=history.other_student_name
    )

    assert response.context["tables"] == []
    assert response.context["form"].errors["student"] == [
        f"No student matches “{history.other_student_name}”."
    ]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            {"date_from": "2025-07-01", "date_to": "2025-06-01"},
            "date_from",
            "The start date is after the end date.",
        ),
        (
            {"date_from": "2023-01-01", "date_to": "2025-06-01", "period": "day"},
            "period",
            "Group by week or month for a range longer than 366 days, or choose a shorter range.",
        ),
        ({"student": "not-a-uuid"}, "student", INVALID_CHOICE),
        (
            {"range": "forever"},
            "range",
            "Select a valid choice. forever is not one of the available choices.",
        ),
    ],
)
def test_a_filter_that_does_not_hold_is_a_form_error(
    tenant_a: Tenant, query: dict[str, str], field: str, message: str
) -> None:
    url = reverse("reports:sessions", args=[tenant_a.organization.slug])
    response = client_for(tenant_a.admin).get(url, {"range": "custom", **query})

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert response.context["tables"] == []
