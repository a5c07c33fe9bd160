"""The Usage and Financial report pages and their CSV exports on the known history of
tests/reports/ledger_history.py: the page shows the figures of reports.usage and
reports.financial, the CSV the same, another center's ledger never counts, admins only."""

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.reports.ledger_history import History, build_history
from tests.reports.support import picked, tables
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock"), pytest.mark.sqlite]

MAY = {"range": "custom", "date_from": "2025-05-01", "date_to": "2025-05-31"}


@pytest.fixture
def history(tenant_a: Tenant, tenant_b: Tenant) -> History:
    build_history(tenant_b)  # the other center's identical history is never counted
    return build_history(tenant_a)


def page(client: Client, tenant: Tenant, name: str, **query: str) -> Any:
    url = reverse(f"reports:{name}", args=[tenant.organization.slug])
    response = client.get(url, {**MAY, **query})
    assert response.status_code == 200
    return response


def csv_rows(client: Client, tenant: Tenant, name: str, **query: str) -> list[list[str]]:
    url = reverse(f"reports:{name}_csv", args=[tenant.organization.slug])
    response = client.get(url, {**MAY, **query})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def section(lines: list[list[str]], title: str) -> list[list[str]]:
    """The lines of one table in a CSV export: its header, rows and total."""
    start = lines.index([title]) + 1
    end = lines.index([], start)
    return lines[start:end]


def test_the_usage_page_shows_the_months_flows_and_what_is_owed(
    history: History, tenant_a: Tenant
) -> None:
    response = page(client_for(tenant_a.admin), tenant_a, "usage", period="week")
    flows = response.context["flows"]
    assert flows["minutes"]["purchased"] == 2250
    assert flows["minutes"]["net_consumed"] == 375
    assert flows["sessions"]["net_consumed"] == 2
    assert response.context["outstanding"] == {
        "outstanding_minutes": 1335,
        "outstanding_sessions": 3,
    }
    found = tables(response)
    weeks = found["flows_minutes"]
    # Every week the range touches, empty ones too; the totals are the month's.
    assert [row["period"] for row in weeks.shown] == [
        "Week of Apr 28, 2025",
        "Week of May 5, 2025",
        "Week of May 12, 2025",
        "Week of May 19, 2025",
        "Week of May 26, 2025",
    ]
    assert picked(weeks, "consumed", "restored", "net_consumed")[2] == (150, 90, 60)
    assert weeks.totals is not None
    assert weeks.totals["expired"] == 180
    assert picked(found["utilization"], "ending", "had_minutes", "used_minutes") == [
        ("Expired", 300, 120),
        ("Refunded in full", 120, 0),
        ("Used up", 30, 30),
    ]
    utilization = found["utilization"].totals
    assert utilization is not None
    assert (utilization["grants_minutes"], utilization["had_minutes"]) == (3, 450)
    assert utilization["used_minutes"] == 150
    assert picked(found["outstanding"], "student_name", "outstanding_minutes") == [
        ("Ada Shopper", 780),
        ("Sam Student", 555),
    ]
    assert picked(found["velocity_minutes"], "student_name", "days_left", "runs_out") == [
        ("Sam Student", 49, "Jul 30, 2025"),
        ("Ada Shopper", 77, "Aug 27, 2025"),
    ]
    html = response.content.decode()
    assert 'data-testid="table-service_types"' in html
    assert "<svg" in html


def test_the_usage_csv_has_the_pages_figures(history: History, tenant_a: Tenant) -> None:
    lines = csv_rows(client_for(tenant_a.admin), tenant_a, "usage", period="month")
    minutes = section(lines, "Hours purchased and consumed per month")
    assert minutes[0][:3] == ["Month", "Purchased (minutes)", "Adjusted (minutes)"]
    assert minutes[1][0] == "May 2025"
    assert minutes[1][1:] == minutes[2][1:]  # one month: its row is the total
    assert minutes[2][0] == "Total"
    assert [int(v) for v in minutes[2][1:]] == [2250, 60, 0, 420, 180, 465, 90, 375]
    owed = section(lines, "Outstanding at the close of May 31, 2025")
    assert owed[1:] == [
        ["Ada Shopper", "780", "0"],
        ["Sam Student", "555", "3"],
        ["Total", "1335", "3"],
    ]


def test_the_financial_page_and_csv(history: History, tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    response = page(client, tenant_a, "financial")
    assert response.context["sales"]["revenue"] == 1550
    assert response.context["owed"]["value"] == Decimal("1121.25")
    found = tables(response)
    assert picked(found["sales"], "package", "packages", "revenue") == [
        ("Five sessions", 1, 200),
        ("Ten hours", 3, 1350),
    ]
    assert picked(found["refunds"], "package", "refunded_minutes", "value") == [
        ("Ten hours", 300, 225),
        ("Without a package", 120, None),
    ]
    html = response.content.decode()
    assert "1,550.00" in html
    lines = csv_rows(client, tenant_a, "financial")
    sales = section(lines, "Packages sold and revenue by package")
    assert sales[-1] == ["Total", "2", "2", "4", "900.00", "650.00", "1550.00"]
    owed = section(lines, "Value of the hours outstanding at the close of May 31, 2025")
    assert owed[1:] == [
        ["Five sessions", "0", "3", "120.00"],
        ["Ten hours", "1235", "0", "926.25"],
        ["Without a package", "100", "0", "75.00"],
        ["Total", "1335", "3", "1121.25"],
    ]


def test_a_student_filter_narrows_both_reports(history: History, tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    ada = str(history.g4.student.public_id)
    usage = page(client, tenant_a, "usage", student=ada)
    assert usage.context["flows"]["minutes"]["purchased"] == 1320
    assert usage.context["outstanding"]["outstanding_minutes"] == 780
    financial = page(client, tenant_a, "financial", student=ada)
    assert financial.context["sales"]["revenue"] == 900


@pytest.mark.parametrize("name", ["usage", "financial", "usage_csv", "financial_csv"])
def test_providers_and_students_are_refused(tenant_a: Tenant, name: str) -> None:
    url = reverse(f"reports:{name}", args=[tenant_a.organization.slug])
    for user in (tenant_a.provider_user, tenant_a.student_user):
        assert client_for(user).get(url).status_code == 403


def test_another_centers_student_is_not_a_choice(
    history: History, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    foreign = str(tenant_b.student.public_id)
    url = reverse("reports:usage", args=[tenant_a.organization.slug])
    response = client_for(tenant_a.admin).get(url, {**MAY, "student": foreign})
    assert response.status_code == 200
    assert response.context["tables"] == []
    assert response.context["form"].errors["student"]
