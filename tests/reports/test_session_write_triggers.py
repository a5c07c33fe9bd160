"""The triggers of a session's write as `reports` 0009 left them (docs/performance.md, "The
triggers of a session's log"): the payroll's figures are one expression that PostgreSQL inlines
and that gives what the function before it gave for every kind of session, and one trigger
function keeps both of a session's report roll-ups. The roll-ups themselves are checked against
a recomputation after every kind of change in test_rollups.py and test_payroll_rollup.py."""

import itertools
import re
from importlib import import_module

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db]

ARGUMENTS = (
    "status text, duration integer, charged integer, party text, unit text, kind text, "
    "review integer, revision integer, confirmed boolean, pay numeric, client numeric"
)


def _previous_figures() -> str:
    """0003's `reports_payroll_figures`, as the reverse of 0009 puts it back, under another name
    in this session's own schema."""
    previous = import_module("reports.migrations.0009_session_write_triggers").PREVIOUS
    start = previous.index("CREATE OR REPLACE FUNCTION reports_payroll_figures(")
    end = previous.index("$$;", previous.index("AS $$", start) + 5) + 3
    return previous[start:end].replace(
        "FUNCTION reports_payroll_figures(", "FUNCTION pg_temp.previous_payroll_figures("
    )


def test_the_payroll_figures_are_inlined_where_they_are_called() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (VERBOSE) SELECT reports_payroll_figures(s.status, s.duration_minutes, "
            "s.charged_minutes, s.no_show_party, 'sessions', s.kind, s.review_minutes, 30, "
            "s.student_confirmed_at IS NOT NULL, s.provider_pay_rate, s.client_rate) "
            "FROM sessions_app_session s"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "reports_payroll_figures" not in plan
    assert "COALESCE(review_minutes, 30)" in plan, "the function's own expression, in place"


def test_the_payroll_figures_are_the_previous_functions_for_every_kind_of_session() -> None:
    statuses = ["scheduled", "completed", "cancelled", "no_show"]
    parties = ["", "student", "provider"]
    units = ["minutes", "sessions"]
    kinds = ["session", "revision"]
    cases = list(
        itertools.product(
            statuses, [0, 45], [0, 1, 30], parties, units, kinds, [None, 20], [True, False]
        )
    )
    values = ", ".join(
        f"('{status}', {duration}, {charged}, '{party}', '{unit}', '{kind}', "
        f"{'NULL' if review is None else review}::integer, {str(confirmed).lower()})"
        for status, duration, charged, party, unit, kind, review, confirmed in cases
    )
    with connection.cursor() as cursor:
        cursor.execute(_previous_figures())
        cursor.execute(
            f"""
            SELECT c.*, reports_payroll_figures(status, duration, charged, party, unit, kind,
                       review, 15, confirmed, 37.50, 61.25),
                   pg_temp.previous_payroll_figures(status, duration, charged, party, unit,
                       kind, review, 15, confirmed, 37.50, 61.25)
            FROM (VALUES {values}) c(status, duration, charged, party, unit, kind, review,
                confirmed)
            """
        )
        found = cursor.fetchall()
    assert len(found) == len(cases) == 1152
    differ = [row[:8] for row in found if row[8] != row[9]]
    assert differ == []
    # Not all zero: the cases reach every figure.
    assert all(any(row[8][n] != 0 for row in found) for n in range(len(found[0][8])))


def test_one_trigger_function_keeps_both_of_a_sessions_report_rollups() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE t.tgrelid = 'sessions_app_session'::regclass AND p.proname LIKE 'reports_%%'
                AND NOT t.tgisinternal
            ORDER BY t.tgname
            """
        )
        found = cursor.fetchall()
    assert found == [
        ("reports_dashboard_version", "reports_dashboard_touch_organization_id"),
        ("reports_session_written_insert_delete", "reports_session_written"),
        ("reports_session_written_update", "reports_session_written"),
    ]
    # The update trigger watches every column either roll-up reads.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgname = 'reports_session_written_update'"
        )
        ((definition,),) = cursor.fetchall()
    watched = set(re.findall(r"old\.(\w+)\)?(?:::\w+)? IS DISTINCT FROM", definition))
    assert watched == {
        "organization_id",
        "relationship_id",
        "starts_at",
        "status",
        "duration_minutes",
        "charged_minutes",
        "no_show_party",
        "kind",
        "review_minutes",
        "student_confirmed_at",
        "provider_pay_rate",
        "client_rate",
    }
