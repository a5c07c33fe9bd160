"""What the reports' query-count pins share (tests/reports/test_report_query_counts.py,
test_ledger_report_query_counts.py, test_payroll_statement_query_counts.py): the pattern of
tests/query_pins.py, at the reports' fixed moment, reading an export whole inside the count."""

from datetime import UTC, datetime

from tests.isolation import persona_user
from tests.query_pins import SIZES, Page
from tests.support import Tenant, client_for

# The moment every report pin runs at: the sessions and ledger rows grown fall in its periods.
PINNED_AT = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)


def shows_csv(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.csv_text.startswith("Report,")


def assert_report_pinned(
    name: str, page: Page, pinned: int, tenant: Tenant, assert_num_queries, time_machine
) -> None:  # type: ignore[no-untyped-def]
    """Grow the report's data to each size in turn; each GET runs exactly `pinned` queries. An
    export's queries run as it streams: it is read whole inside the count, into `csv_text`."""
    time_machine.move_to(PINNED_AT)
    client = client_for(persona_user(tenant, page.persona))
    for size in SIZES:
        page.grow(tenant, size)
        path = page.path(tenant)
        with assert_num_queries(pinned, info=f"{name} with {size} rows"):
            response = client.get(path)
            if response.streaming:
                response.csv_text = b"".join(response.streaming_content).decode()
        assert response.status_code == 200
        page.shows(size, response)
