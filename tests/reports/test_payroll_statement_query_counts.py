"""Pinned query counts of the Payroll and Statement reports' pages and exports (DESIGN §7), the
pattern of tests/reports/test_report_query_counts.py: each is requested with 3 rows of what it
adds up, then with 30, and runs exactly the pinned number of queries both times. The counts
include the request's own queries (tests/reports/test_report_query_counts.py)."""

from datetime import UTC, datetime

import pytest

from matchpal.models import Role
from tests.isolation import persona_user
from tests.query_pins import SIZES, Page, org_path
from tests.reports.test_report_query_counts import grow_report
from tests.support import Tenant, client_for, set_policy
from tests.test_query_counts import grow_student_home


def grow_pending(tenant: Tenant, n: int) -> None:
    """`grow_report`, in a center that requires the students' confirmation: every session
    waits for it."""
    set_policy(tenant.organization, require_student_confirmation=True)
    grow_report(tenant, n)


def shows_payroll(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["figures"]["sessions"] >= n


def shows_pending(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["figures"]["pending_sessions"] >= n
    pending = next(t for t in response.context["tables"] if t.name == "pending")
    assert len(pending.shown) == min(response.context["figures"]["pending_sessions"], 25)
    assert pending.more == (response.context["figures"]["pending_sessions"] > 25)


def shows_statement(n: int, response) -> None:  # type: ignore[no-untyped-def]
    statement = response.context["statement"]
    assert len(statement.grants) == n
    # Each grant: its credit, a hold and a session's consumption.
    assert len(statement.movements) == 3 * n


def shows_csv(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.csv_text.startswith("Report,")


def statement_of_the_student(t: Tenant) -> str:
    return f"reports/statement/?student={t.student.public_id}"


PAGES = {
    "reports:payroll[admin]": Page(
        Role.ADMIN, org_path("reports/payroll/?period=week"), grow_report, shows_payroll
    ),
    "reports:payroll[provider]": Page(
        Role.PROVIDER, org_path("reports/payroll/"), grow_report, shows_payroll
    ),
    "reports:payroll[pending]": Page(
        Role.ADMIN, org_path("reports/payroll/"), grow_pending, shows_pending
    ),
    "reports:payroll_csv[admin]": Page(
        Role.ADMIN, org_path("reports/payroll/csv/"), grow_report, shows_csv
    ),
    "reports:statement[admin]": Page(
        Role.ADMIN, org_path(statement_of_the_student), grow_student_home, shows_statement
    ),
    "reports:statement[student]": Page(
        Role.STUDENT, org_path("reports/statement/"), grow_student_home, shows_statement
    ),
    "reports:statement_csv[student]": Page(
        Role.STUDENT, org_path("reports/statement/csv/"), grow_student_home, shows_csv
    ),
}

# Payroll: the totals, one query per table (per provider, per period, per provider and period
# for an admin, the pending sessions where confirmation is required), and the service type
# filter's choices. Statement: the per-unit totals, the grants and their service types, the
# movements, the service types; the admin's chosen student one more (the search field's
# lookup), the student's own record one. The CSV export runs the page's queries but the
# filter's choices.
PINNED = {
    "reports:payroll[admin]": 7,
    "reports:payroll[provider]": 6,
    "reports:payroll[pending]": 8,
    "reports:payroll_csv[admin]": 6,
    "reports:statement[admin]": 8,
    "reports:statement[student]": 8,
    "reports:statement_csv[student]": 7,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_report_runs_the_pinned_queries_at_3_and_at_30_rows(
    name: str, tenant_a: Tenant, django_assert_num_queries, time_machine
) -> None:
    time_machine.move_to(datetime(2026, 11, 18, 17, 0, tzinfo=UTC))
    page = PAGES[name]
    client = client_for(persona_user(tenant_a, page.persona))
    for size in SIZES:
        page.grow(tenant_a, size)
        path = page.path(tenant_a)
        # An export's queries run as it streams: read it whole inside the count.
        with django_assert_num_queries(PINNED[name], info=f"{name} with {size} rows"):
            response = client.get(path)
            if response.streaming:
                response.csv_text = b"".join(response.streaming_content).decode()
        assert response.status_code == 200
        page.shows(size, response)
