"""Pinned query counts of the Payroll and Statement reports' pages and exports (DESIGN §7), the
pattern of tests/reports/test_report_query_counts.py: each is requested with 3 rows of what it
adds up, then with 30, and runs exactly the pinned number of queries both times. The counts
include the request's own queries (tests/reports/test_report_query_counts.py)."""

import pytest

from matchpal.models import Role
from tests.query_pins import Page, org_path
from tests.reports.report_pins import assert_report_pinned, shows_csv
from tests.reports.test_report_query_counts import grow_report
from tests.support import Tenant, set_policy
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
# filter's choices; the payroll's one more first, the count of the range's sessions up to one
# past the direct downloads' cap (docs/reports.md, "Large downloads"; a statement has none).
PINNED = {
    # A page reads the version of the center's data first (reports/report_cache.py), and so
    # does the export of a report not of the moment (reports/csv_cache.py): one statement
    # more than it computes with; in these tests' transaction, which has written, the content
    # and the file are computed every time (tests/reports/test_report_cache.py and
    # test_csv_cache.py pin a hit).
    "reports:payroll[admin]": 7,
    "reports:payroll[provider]": 6,
    "reports:payroll[pending]": 8,
    "reports:payroll_csv[admin]": 7,
    "reports:statement[admin]": 8,
    "reports:statement[student]": 8,
    "reports:statement_csv[student]": 7,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_report_runs_the_pinned_queries_at_3_and_at_30_rows(
    name: str, tenant_a: Tenant, django_assert_num_queries, time_machine
) -> None:
    assert_report_pinned(
        name, PAGES[name], PINNED[name], tenant_a, django_assert_num_queries, time_machine
    )
