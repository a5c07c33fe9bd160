"""Pinned query counts of the reports' pages and exports (DESIGN §7), the pattern of
tests/test_query_counts.py: each is requested with 3 rows of what it aggregates, then with 30
(more than a table shows), and runs exactly the pinned number of queries both times. The
counts include the request's own query (the user with its membership of the tenant, one
statement; the session is read from the cache)."""

import pytest

from matchpal.models import Role
from sessions_app.models import Session
from tests.query_pins import Page, org_path
from tests.reports.report_pins import assert_report_pinned, shows_csv
from tests.support import Tenant
from tests.test_query_counts import grow_relationship_sessions, grow_sessions


def grow_report(tenant: Tenant, n: int) -> None:
    """n pairings of their own with a session each, and n sessions of the personas' pairing,
    all in the last 30 days."""
    grow_sessions(tenant, n)
    grow_relationship_sessions(tenant, n)


def shows_tables(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["figures"]["sessions"] >= n


def shows_the_first_rows(n: int, response) -> None:  # type: ignore[no-untyped-def]
    """Every provider's figures, in the first 25 rows and the totals."""
    shows_tables(n, response)
    providers = next(t for t in response.context["tables"] if t.name == "providers")
    assert providers.more == (n > 25)
    # The persona and the n - 1 providers of the other pairings (see grow_sessions).
    assert len(providers.shown) == min(n + 1, 25)


def shows_rows(n: int, response) -> None:  # type: ignore[no-untyped-def]
    # The header, then each session (all of them in the last 30 days; one organization here).
    assert len(response.csv_text.splitlines()) == 1 + Session.objects.count()


def shows_index(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert "sessions" in [report.name for report in response.context["reports"]]


PAGES = {
    "reports:index": Page(Role.ADMIN, org_path("reports/"), grow_report, shows_index),
    "reports:sessions[admin]": Page(
        Role.ADMIN, org_path("reports/sessions/"), grow_report, shows_the_first_rows
    ),
    "reports:sessions[provider]": Page(
        Role.PROVIDER, org_path("reports/sessions/"), grow_report, shows_tables
    ),
    "reports:sessions[student]": Page(
        Role.STUDENT, org_path("reports/sessions/"), grow_report, shows_tables
    ),
    "reports:sessions[filtered]": Page(
        Role.ADMIN,
        org_path(lambda t: f"reports/sessions/?period=week&student={t.student.public_id}"),
        grow_report,
        shows_tables,
    ),
    "reports:sessions_csv[admin]": Page(
        Role.ADMIN, org_path("reports/sessions/csv/"), grow_report, shows_csv
    ),
    "reports:sessions_csv[student]": Page(
        Role.STUDENT, org_path("reports/sessions/csv/"), grow_report, shows_csv
    ),
    "reports:session_rows_csv": Page(
        Role.ADMIN, org_path("reports/sessions/rows.csv"), grow_report, shows_rows
    ),
}

# The tables are one query each (the summary adds up the periods' rows), the service type
# filter one; a
# chosen student one (the search field's lookup). The CSV export runs the same queries as the
# page but the filter's choices, after one more: the count of the scope's sessions up to one past
# the direct downloads' cap (docs/reports.md, "Large downloads"); the session rows too. Each
# count includes the request's own query, the user with its membership (the session is read
# from the cache).
PINNED = {
    # A page reads the version of the center's data first (reports/report_cache.py), and so
    # does the export of a report not of the moment (reports/csv_cache.py): one statement
    # more than it computes with; in these tests' transaction, which has written, the content
    # and the file are computed every time (tests/reports/test_report_cache.py and
    # test_csv_cache.py pin a hit).
    "reports:index": 1,
    "reports:sessions[admin]": 9,
    "reports:sessions[provider]": 8,
    "reports:sessions[student]": 6,
    "reports:sessions[filtered]": 10,
    "reports:sessions_csv[admin]": 9,
    "reports:sessions_csv[student]": 6,
    "reports:session_rows_csv": 3,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_report_runs_the_pinned_queries_at_3_and_at_30_rows(
    name: str, tenant_a: Tenant, django_assert_num_queries, time_machine
) -> None:
    assert_report_pinned(
        name, PAGES[name], PINNED[name], tenant_a, django_assert_num_queries, time_machine
    )
