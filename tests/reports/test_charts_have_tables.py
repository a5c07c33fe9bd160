"""Every chart sits beside the table holding its numbers (docs/reports.md, "Charts"): on each
report page and the admin home's trends, each `<svg>` is inside a section that also holds a
`<table>`, and each bar's label and figure (its tooltip, "Week of Jun 2, 2025: 2 h 35 min")
are cells of that table, so the page reads the same without the picture (and without
JavaScript: the charts are server-rendered SVG)."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from tests.reports.history import JUNE
from tests.reports.history import build as build_sessions
from tests.reports.ledger_history import build_history as build_ledger
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db]

MAY = {"range": "custom", "date_from": "2025-05-01", "date_to": "2025-05-31"}
SECTION = re.compile(r"<section\b[^>]*>.*?</section>", re.S)
CARD = re.compile(r'<div class="card-body" data-testid="[^"]*">.*?</table>', re.S)
BAR = re.compile(r"<rect\b[^>]*><title>(.*?)</title></rect>", re.S)
TAG = re.compile(r"<[^>]+>")
HEAT_CELL = re.compile(r"^(\w{3}) (\d\d:\d\d)–")


def text_of(html: str) -> str:
    """The table's text, one space between cells."""
    table = html[html.index("<table") :]
    return " ".join(unescape(TAG.sub(" ", table)).split())


def charted(html: str, pattern: re.Pattern[str]) -> list[str]:
    return [block for block in pattern.findall(html) if "<svg" in block]


def check(blocks: list[str]) -> int:
    """Each block's table holds every bar's label and figure; returns how many bars."""
    bars = 0
    for block in blocks:
        assert "<table" in block, block[:300]
        cells = text_of(block)
        for title in BAR.findall(block):
            label, _, figure = unescape(title).rpartition(": ")
            hour = HEAT_CELL.match(label)
            if hour:  # the heat map: a weekday's row, an hour's column (empty hours left out)
                if not figure.startswith("0 "):
                    assert f"{hour[1]} " in cells, (label, cells[:300])
                    assert f" {hour[2]} " in cells, (label, cells[:300])
                    bars += 1
                continue
            assert label.split(" (")[0] in cells, (label, cells[:300])
            # "2 h 35 min" as the cell says it; a count's word ("3 sessions") is the column's.
            words = figure.removesuffix(" sessions").removesuffix(" session")
            assert words in cells, (figure, cells[:300])
            bars += 1
    return bars


def page(client: Client, tenant: Tenant, name: str, query: dict[str, str]) -> str:
    response = client.get(reverse(f"reports:{name}", args=[tenant.organization.slug]), query)
    assert response.status_code == 200
    return response.content.decode()


def test_every_reports_chart_has_its_numbers_in_the_table_beside_it(
    clock: object, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    build_sessions(tenant_a)  # June
    build_ledger(tenant_b)  # May, in the other center
    found = {}
    for tenant, name, query in (
        (tenant_a, "sessions", {**JUNE, "period": "week"}),
        (tenant_a, "sessions", {**JUNE, "period": "day"}),
        (tenant_a, "payroll", {**JUNE, "period": "week"}),
        (tenant_b, "usage", {**MAY, "period": "week"}),
        (tenant_b, "financial", MAY),
        (tenant_b, "statement", {**MAY, "student": str(tenant_b.student.public_id)}),
    ):
        html = page(client_for(tenant.admin), tenant, name, query)
        blocks = charted(html, SECTION)
        found[name] = (len(blocks), check(blocks))
    # Each report that draws charts drew some, with bars; the statement is tables only.
    assert all(charts and bars for name, (charts, bars) in found.items() if name != "statement")
    assert found["statement"] == (0, 0)


def test_the_admin_homes_trends_have_their_numbers_beside_them(
    clock: object, tenant_a: Tenant
) -> None:
    build_sessions(tenant_a)
    response = client_for(tenant_a.admin).get(
        reverse("org_home", args=[tenant_a.organization.slug])
    )
    assert response.status_code == 200
    blocks = charted(response.content.decode(), CARD)
    assert len(blocks) == 2  # per week, per month
    assert check(blocks) > 0
