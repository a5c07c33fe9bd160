"""The CSV exports: a report's CSV holds the same figures as its page, for the same range and
filters; the raw sessions export has one line per session of the scope; both stay inside the
member's organization and role."""

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reports.exports import cell_value
from reports.framework import Table
from tests.reports.history import JUNE, History, build
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def history(clock: object, tenant_a: Tenant, tenant_b: Tenant) -> History:
    build(tenant_b)
    return build(tenant_a)


def download(client: Client, name: str, tenant: Tenant, **query: str) -> list[list[str]]:
    url = reverse(f"reports:{name}", args=[tenant.organization.slug])
    response = client.get(url, {**JUNE, **query})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def sections(lines: list[list[str]]) -> dict[str, list[list[str]]]:
    """The CSV's tables by title: the lines after each title up to the blank line."""
    found: dict[str, list[list[str]]] = {}
    blocks: list[list[list[str]]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        else:
            blocks.append([])
    for block in blocks[1:]:  # the first block is the scope
        if block:
            found[block[0][0]] = block[1:]
    return found


def as_csv(value: Any) -> str:
    return "" if value is None else str(value)


def page_lines(table: Table) -> list[list[str]]:
    """What the page shows of a table, as the CSV writes it (all rows: no table here has more
    than the page shows)."""
    lines = [[as_csv(cell_value(c, c.value(row))) for c in table.columns] for row in table.shown]
    if table.totals is not None:
        lines.append(
            [
                ("Total" if i == 0 else "")
                if c.kind == "text"
                else as_csv(cell_value(c, c.value(table.totals)))
                for i, c in enumerate(table.columns)
            ]
        )
    return lines


@pytest.mark.parametrize("persona", ["admin", "provider_user", "student_user"])
def test_the_csv_holds_the_pages_figures(history: History, tenant_a: Tenant, persona: str) -> None:
    client = client_for(getattr(tenant_a, persona))
    page = client.get(
        reverse("reports:sessions", args=[tenant_a.organization.slug]), {**JUNE, "period": "week"}
    )

    lines = download(client, "sessions_csv", tenant_a, period="week")

    assert lines[:5] == [
        ["Report", "Sessions"],
        ["Organization", tenant_a.organization.name],
        ["From", "2025-06-01"],
        ["Until", "2025-06-30"],
        ["Grouped by", "week"],
    ]
    tables = sections(lines)
    shown = page.context["tables"]
    assert list(tables) == [table.title for table in shown]
    for table in shown:
        assert not table.more
        assert tables[table.title][1:] == page_lines(table), table.name


def test_the_csv_states_units_and_exact_figures(history: History, tenant_a: Tenant) -> None:
    tables = sections(download(client_for(tenant_a.admin), "sessions_csv", tenant_a))

    students = tables["Hours consumed per student"]
    assert students[0] == [
        "Student",
        "Sessions",
        "Completed",
        "Hours consumed (minutes)",
        "Sessions consumed (sessions)",
        "Hours delivered (minutes)",
        "No-shows by the student",
    ]
    assert students[1:] == [
        [tenant_a.student.name, "6", "2", "195", "0", "105", "1"],
        [history.other_student_name, "2", "1", "0", "1", "50", "0"],
        ["Total", "8", "3", "195", "1", "155", "1"],
    ]
    assert tables["No-shows per student"][1:] == [[tenant_a.student.name, "5", "1", "20.0"]]
    providers = tables["Hours delivered per provider"]
    assert providers[1][:5] == [tenant_a.provider.name, "6", "2", "105", "53"]


def test_filters_apply_to_the_csv(history: History, tenant_a: Tenant) -> None:
    lines = download(
        client_for(tenant_a.admin),
        "sessions_csv",
        tenant_a,
        student=str(tenant_a.student.public_id),
    )

    assert ["Student", tenant_a.student.name] in lines
    totals = sections(lines)["Sessions per day"][-1]
    assert totals[:2] == ["Total", "6"]


def test_an_invalid_filter_shows_the_page_with_its_error(tenant_a: Tenant) -> None:
    url = reverse("reports:sessions_csv", args=[tenant_a.organization.slug])
    response = client_for(tenant_a.admin).get(
        url, {"range": "custom", "date_from": "2025-07-01", "date_to": "2025-06-01"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response.context["form"].errors["date_from"] == ["The start date is after the end date."]


def test_the_session_rows_export_has_one_line_per_session(
    history: History, tenant_a: Tenant
) -> None:
    lines = download(client_for(tenant_a.admin), "session_rows_csv", tenant_a)

    assert lines[0][:9] == [
        "Session",
        "Date",
        "Start",
        "Duration (minutes)",
        "Student",
        "Provider",
        "Service",
        "Kind",
        "Status",
    ]
    rows = [line[1:] for line in lines[1:]]
    me, zoe = tenant_a.student.name, history.other_student_name
    who = tenant_a.provider.name, history.other_provider_name
    assert [row[:3] + row[7:8] + row[9:12] for row in rows] == [
        ["2025-06-02", "10:00", "60", "completed", "minutes", "60", "0"],
        ["2025-06-03", "10:00", "45", "completed", "minutes", "45", "0"],
        ["2025-06-04", "15:00", "60", "cancelled", "minutes", "0", "0"],
        ["2025-06-05", "16:00", "50", "completed", "sessions", "1", "0"],
        ["2025-06-06", "16:00", "50", "no_show", "sessions", "0", "0"],
        ["2025-06-09", "10:00", "30", "no_show", "minutes", "30", "0"],
        ["2025-06-11", "14:00", "60", "cancelled", "minutes", "60", "0"],
        ["2025-06-20", "10:00", "60", "scheduled", "minutes", "0", "0"],
    ]
    assert [row[3] for row in rows] == [me, me, me, zoe, zoe, me, me, me]
    assert {row[4] for row in rows} == set(who)
    assert rows[5][8] == "student"  # the no-show's party


def test_a_provider_exports_only_their_own_sessions(history: History, tenant_a: Tenant) -> None:
    lines = download(client_for(tenant_a.provider_user), "session_rows_csv", tenant_a)

    assert len(lines) == 1 + 6
    assert {line[5] for line in lines[1:]} == {tenant_a.provider.name}


def test_a_student_has_no_session_rows_export(tenant_a: Tenant) -> None:
    url = reverse("reports:session_rows_csv", args=[tenant_a.organization.slug])

    assert client_for(tenant_a.student_user).get(url).status_code == 403


def test_another_centers_people_cannot_be_chosen(
    history: History, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    url = reverse("reports:sessions_csv", args=[tenant_a.organization.slug])
    response = client_for(tenant_a.admin).get(
        url, {**JUNE, "student": str(tenant_b.student.public_id)}
    )

    assert response["Content-Type"].startswith("text/html")
    assert response.context["form"].errors["student"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]


def test_a_formula_is_written_as_text(history: History, tenant_a: Tenant) -> None:
    tenant_a.student.name = "=HYPERLINK(1)"
    tenant_a.student.save(update_fields=["name"])

    lines = download(client_for(tenant_a.admin), "session_rows_csv", tenant_a)

    assert lines[1][4] == "'=HYPERLINK(1)"
