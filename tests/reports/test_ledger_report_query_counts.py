"""Pinned query counts of the Usage and Financial reports and their exports (DESIGN §7), the
pattern of tests/reports/test_report_query_counts.py: requested with 3 students' worth of
ledger, then 30 (more than a table shows), the same number of queries both times. The counts
include the request's own query (the user with its membership of the tenant, one statement; the
session is cached)."""

import pytest

from grants import services as ledger
from grants.models import GrantSource, Package
from matchpal.models import Role
from tests.factories import StudentFactory
from tests.query_pins import Page, org_path
from tests.reports.report_pins import assert_report_pinned, shows_csv
from tests.support import Tenant, make_package
from tests.test_query_counts import grow_sessions


def grow_ledger(tenant: Tenant, n: int) -> None:
    """n pairings with a session each (grants without a package), and n students who bought a
    package in the shop and had part of it refunded."""
    grow_sessions(tenant, n)
    org = tenant.organization
    package = Package.objects.filter(organization=org).first() or make_package(org)
    for i in range(org.students.filter(name__startswith="Buyer").count(), n):
        grant = ledger.grant_from_package(
            actor=None,
            student=StudentFactory(organization=org, name=f"Buyer {i:02}"),
            package=package,
            source=GrantSource.WOOCOMMERCE,
            reference=f"Order #{i}",
        )
        ledger.grant_refund(actor=None, grant=grant, quantity=60, reason="Partial refund")


def shows_usage(n: int, response) -> None:  # type: ignore[no-untyped-def]
    owed = next(t for t in response.context["tables"] if t.name == "outstanding")
    assert owed.more == (2 * n > 25)
    assert response.context["flows"]["minutes"]["purchased"] >= n * 600


def shows_financial(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["sales"]["shop_packages"] == n
    assert response.context["refunded"]["refunds"] == n


PAGES = {
    "reports:usage": Page(Role.ADMIN, org_path("reports/usage/"), grow_ledger, shows_usage),
    "reports:usage[filtered]": Page(
        Role.ADMIN,
        org_path(lambda t: f"reports/usage/?period=week&student={t.student.public_id}"),
        grow_ledger,
        lambda n, response: None,
    ),
    "reports:usage_csv": Page(Role.ADMIN, org_path("reports/usage/csv/"), grow_ledger, shows_csv),
    "reports:financial": Page(
        Role.ADMIN, org_path("reports/financial/"), grow_ledger, shows_financial
    ),
    "reports:financial_csv": Page(
        Role.ADMIN, org_path("reports/financial/csv/"), grow_ledger, shows_csv
    ),
}

# Usage: the outstanding totals, the flows of both units per period (the summary and the totals
# are added up from them), three for the service types, one for utilization (the grants with
# their refunds kept beside them, `GrantEnding`: on SQLite a second query sums the refund
# entries; its total adds up its rows), the outstanding per student, one for velocity (both
# units); the form's service types. A chosen student adds its lookup. (Utilization read two
# queries before the ledger's roll-ups: 12, 13 and 11.) Financial: three totals, sales,
# refunds, outstanding value, the service types. The CSV runs the same queries but the form's
# choices, after one more: the count of the range's ledger entries, up to one past the direct
# downloads' cap (docs/reports.md, "Large downloads").
PINNED = {
    # A page (not its export) reads the version of the center's data first
    # (reports/report_cache.py): one statement more than it computes with; in these tests'
    # transaction, which has written, the content is computed every time
    # (tests/reports/test_report_cache.py pins a hit).
    "reports:usage": 11,
    "reports:usage[filtered]": 12,
    "reports:usage_csv": 10,
    "reports:financial": 9,
    "reports:financial_csv": 8,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_report_runs_the_pinned_queries_at_3_and_at_30_students(
    name: str, tenant_a: Tenant, django_assert_num_queries, time_machine
) -> None:
    assert_report_pinned(
        name, PAGES[name], PINNED[name], tenant_a, django_assert_num_queries, time_machine
    )
