"""The student's statement page and its CSV export (docs/reports.md, "A student's statement"):
any student of the center for an admin, chosen by the search field; a student's own for a
student, whatever they put in the address; never a provider; printable."""

import csv
import io

import pytest
from django.test import Client

from tests.factories import StudentFactory
from tests.reports.test_statement_figures import History
from tests.support import Tenant

pytestmark = [pytest.mark.django_db]

JUNE = "range=custom&date_from=2025-06-01&date_to=2025-06-10"


def url(tenant: Tenant, query: str = JUNE, csv_export: bool = False) -> str:
    suffix = "csv/" if csv_export else ""
    return f"/o/{tenant.organization.slug}/reports/statement/{suffix}?{query}"


def of(tenant: Tenant, student=None) -> str:  # type: ignore[no-untyped-def]
    return f"{JUNE}&student={(student or tenant.student).public_id}"


@pytest.fixture
def history(tenant_a: Tenant, clock) -> History:  # type: ignore[no-untyped-def]
    return History(tenant_a, clock)


@pytest.mark.sqlite
def test_an_admin_reads_a_students_statement(
    tenant_a: Tenant, history: History, admin_client_a: Client
) -> None:
    response = admin_client_a.get(url(tenant_a, of(tenant_a)))
    assert response.status_code == 200
    statement = response.context["statement"]
    assert len(statement.grants) == 4
    page = response.content.decode()
    assert f"Statement for {tenant_a.student.name}" in page
    # Minutes only: June 1 opens with 10 h, 1 h used, 4 h reserved, 5 h free; it closes with
    # 16 h, 2 h used, none reserved and 12 h free (the expired gift's 2 h are not free).
    (minutes,) = response.context["units"]
    assert (minutes["opening_total"], minutes["opening_free"]) == (600, 300)
    assert (minutes["closing_total"], minutes["closing_used"], minutes["closing_free"]) == (
        960,
        120,
        720,
    )
    assert ("Expired", 120) in minutes["moved"]
    assert page.count('data-testid="movement"') == len(statement.movements) == 11
    assert "css/print.css" in page


def test_an_admin_is_asked_to_choose_a_student(
    tenant_a: Tenant, history: History, admin_client_a: Client
) -> None:
    response = admin_client_a.get(url(tenant_a))
    assert response.status_code == 200
    assert response.context["statement"] is None
    assert 'data-testid="choose-student"' in response.content.decode()


def test_a_student_reads_only_their_own(
    tenant_a: Tenant, history: History, student_client_a: Client
) -> None:
    other = StudentFactory(organization=tenant_a.organization)
    # The student field is not offered: naming another student changes nothing.
    response = student_client_a.get(url(tenant_a, of(tenant_a, other)))
    assert response.status_code == 200
    assert "student" not in response.context["form"].fields
    assert response.context["student"] == tenant_a.student
    assert len(response.context["statement"].grants) == 4


def test_providers_get_no_statement(
    tenant_a: Tenant, history: History, provider_client_a: Client
) -> None:
    assert provider_client_a.get(url(tenant_a, of(tenant_a))).status_code == 403
    assert provider_client_a.get(url(tenant_a, of(tenant_a), csv_export=True)).status_code == 403


def test_another_centers_student_cannot_be_named(
    tenant_a: Tenant, tenant_b: Tenant, history: History, admin_client_b: Client
) -> None:
    assert admin_client_b.get(url(tenant_a, of(tenant_a))).status_code == 404
    response = admin_client_b.get(url(tenant_b, of(tenant_a)))
    assert response.status_code == 200
    assert "student" in response.context["form"].errors
    assert tenant_a.student.name not in response.content.decode()


def test_a_malformed_student_is_a_form_error(
    tenant_a: Tenant, history: History, admin_client_a: Client
) -> None:
    response = admin_client_a.get(url(tenant_a, JUNE + "&student=12%3Bdrop"))
    assert response.status_code == 200
    assert "student" in response.context["form"].errors


@pytest.mark.sqlite
def test_the_csv_has_the_statements_figures(
    tenant_a: Tenant, history: History, admin_client_a: Client
) -> None:
    response = admin_client_a.get(url(tenant_a, of(tenant_a), csv_export=True))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    lines = list(csv.reader(io.StringIO(body)))
    start = lines.index(["Movements"]) + 1
    header, *rows = lines[start : lines.index([], start)]
    assert len(rows) == 11
    movement, used = header.index("Movement"), header.index("Used (in the unit)")
    assert [(row[movement], row[used]) for row in rows[:2]] == [
        ("Purchased", "0"),
        ("Purchased", "0"),
    ]
    balances = lines[lines.index(["Balances"]) + 1 :]
    header, minutes = balances[0], balances[1]
    assert minutes[header.index("Closing: Free (in the unit)")] == "720"


def test_the_hours_pages_link_to_the_statement(
    tenant_a: Tenant, admin_client_a: Client, student_client_a: Client
) -> None:
    slug, student = tenant_a.organization.slug, tenant_a.student
    admin_page = admin_client_a.get(f"/o/{slug}/students/{student.public_id}/hours/")
    assert (
        f'href="/o/{slug}/reports/statement/?student={student.public_id}"'
        in admin_page.content.decode()
    )
    own_page = student_client_a.get(f"/o/{slug}/my/hours/")
    assert f'href="/o/{slug}/reports/statement/"' in own_page.content.decode()


def test_a_students_own_csv_names_them(
    tenant_a: Tenant, history: History, student_client_a: Client
) -> None:
    response = student_client_a.get(url(tenant_a, csv_export=True))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    lines = list(csv.reader(io.StringIO(body)))
    assert ["Student", tenant_a.student.name] in lines
    assert ["Movements"] in lines


def test_the_range_line_has_no_grouping(
    tenant_a: Tenant, history: History, admin_client_a: Client
) -> None:
    page = admin_client_a.get(url(tenant_a, of(tenant_a))).content.decode()
    assert "(America/New_York) · " + tenant_a.student.name in page
    assert ", by day" not in page
