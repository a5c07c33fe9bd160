"""One center with a known history, and every page that shows its hours saying the same: the
admin dashboard, the Usage, Sessions and Financial reports, each student's statement and each
student's hours page, read from the pages' own context as a browser request renders them.

The history is tests/reports/ledger_history.py's May 2025 (package and custom grants, a
sessions-unit grant, a shop purchase, an edit, a cancellation, a late cancellation charged, a
refund in full and one in part, an expiry, an adjustment, a transfer to another service type),
plus, in June, a revision session on the advising pairing counted in sessions. The clock is
June 11, 2025."""

from collections import defaultdict
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from relationships.models import Relationship
from students.models import Student
from tests.reports.ledger_history import History, build_history
from tests.support import Tenant, at, client_for, log_as_admin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

EVER = {"range": "custom", "date_from": "2025-05-01", "date_to": "2025-06-11"}
UNITS = ("minutes", "sessions")


@pytest.fixture
def history(tenant_a: Tenant) -> History:
    built = build_history(tenant_a)
    # R2, Sam's advising pairing counted in sessions: a revision on June 2 consumes one.
    advising = Relationship.objects.get(student=tenant_a.student, service_type__name="Advising")
    log_as_admin(tenant_a, advising, at(2, 10), 60, kind="revision", review_minutes=40)
    return built


def get(client: Client, tenant: Tenant, name: str, query: dict[str, str] | None = None) -> Any:
    response = client.get(reverse(name, args=[tenant.organization.slug]), query or {})
    assert response.status_code == 200
    return response.context


def test_every_page_shows_the_same_hours(history: History, tenant_a: Tenant) -> None:
    org, admin = tenant_a.organization, client_for(tenant_a.admin)
    home = get(admin, tenant_a, "org_home")

    # The dashboard per service type and unit is the sum of every student's hours page.
    dashboard = {
        (h.service_type, h.unit): (h.used, h.reserved, h.free) for h in home["center_hours"]
    }
    pages: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    statements: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for student in Student.objects.filter(organization=org):
        hours = admin.get(reverse("grants:student_hours", args=[org.slug, student.public_id]))
        for b in hours.context["balances"]:
            row = pages[b.service_type.name, b.unit]
            row[0], row[1], row[2] = row[0] + b.used, row[1] + b.held, row[2] + b.available
        statement = get(
            admin, tenant_a, "reports:statement", {**EVER, "student": str(student.public_id)}
        )
        for unit in statement["units"]:
            for figure in ("closing_used", "closing_held", "closing_free", "closing_total"):
                statements[unit["unit"]][figure] += unit[figure]
    assert {key: tuple(row) for key, row in pages.items()} == dashboard
    assert dashboard[("Advising", "sessions")][0] == 3  # two sessions and the revision

    # Per unit (each grant of this history covers one service type): the dashboard, the
    # statements' closing balances, the Usage report's outstanding hours today and the
    # Financial report's.
    per_unit = {unit: {"used": 0, "reserved": 0, "free": 0, "purchased": 0} for unit in UNITS}
    for h in home["center_hours"]:
        per_unit[h.unit]["used"] += h.used
        per_unit[h.unit]["reserved"] += h.reserved
        per_unit[h.unit]["free"] += h.free
        per_unit[h.unit]["purchased"] += h.purchased
    usage = get(admin, tenant_a, "reports:usage", EVER)
    financial = get(admin, tenant_a, "reports:financial", EVER)
    for unit in UNITS:
        figures = per_unit[unit]
        assert statements[unit]["closing_used"] == figures["used"], unit
        assert statements[unit]["closing_held"] == figures["reserved"], unit
        assert statements[unit]["closing_free"] == figures["free"], unit
        outstanding = figures["reserved"] + figures["free"]
        assert usage["outstanding"][f"outstanding_{unit}"] == outstanding, unit
        assert financial["owed"][f"outstanding_{unit}"] == outstanding, unit
        # Every credit of the history falls in the range: the Usage report's purchases.
        assert usage["flows"][unit]["purchased"] == figures["purchased"], unit
    assert per_unit["minutes"]["purchased"] == 2250

    # Sessions: the dashboard's months (by start, on the center's clock) and the Sessions
    # report over the same months.
    months = {p.label: p for p in home["monthly"].periods}
    for label, date_from, date_to in (
        ("May 2025", "2025-05-01", "2025-05-31"),
        ("Jun 2025", "2025-06-01", "2025-06-30"),
    ):
        report = get(
            admin,
            tenant_a,
            "reports:sessions",
            {"range": "custom", "date_from": date_from, "date_to": date_to},
        )["figures"]
        month = months[label]
        assert (
            month.sessions,
            month.completed,
            month.cancelled,
            month.no_shows,
            month.delivered_minutes,
        ) == (
            report["sessions"],
            report["completed"],
            report["cancelled"],
            report["no_shows"],
            report["delivered_minutes"],
        ), label
    assert home["month"] is home["monthly"].periods[-1]
    assert months["May 2025"].cancelled == 2  # the cancellation and the late one, charged
