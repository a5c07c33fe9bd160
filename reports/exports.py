"""CSV exports: a report's tables (the same figures as its page), and the raw sessions of a scope.

Both stream: the response is a generator writing one line at a time, and the unbounded tables
are read from a server-side cursor `CHUNK_ROWS` rows at a time (`Table.stream`), so the memory
an export takes does not grow with its rows (DESIGN §7). Values are plain and exact: minutes
and sessions as integers, rates as percentages with one decimal, averages in whole minutes, the
same rounding as the page (`cell_value`). A text that a spreadsheet would run as a formula
(starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet
from django.db.models.functions import TruncDate, TruncTime
from django.http import HttpResponse, StreamingHttpResponse

from reports.catalog.statement import StatementReport
from reports.catalog.usage import LedgerReport
from reports.framework import CHUNK_ROWS, Column, Kind, Report, Scope, Table
from reports.ledger_scope import ledger_entries
from sessions_app.models import Session

FORMULA_STARTS = frozenset("=+-@\t\r")
UNITS = {
    Kind.MINUTES: " (minutes)",
    Kind.SESSIONS: " (sessions)",
    Kind.PERCENT: " (%)",
    Kind.AVERAGE: " (minutes)",
}


# Lines are sent in pieces of about this many bytes: one piece per line would cost the server
# (and a WSGI server's write per piece) more than writing the lines themselves.
PIECE_BYTES = 64 * 1024


def safe_text(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def cell_value(column: Column, value: Any) -> Any:
    """A figure as the page shows it, before its formatting: the one rounding of both."""
    if value is None:
        return None
    if column.kind == Kind.PERCENT:
        return round(float(value), 1)
    if column.kind == Kind.AVERAGE:
        return int(value + 0.5)  # whole minutes, halves up
    return value


def csv_cell(column: Column, value: Any) -> object:
    value = cell_value(column, value)
    if value is None:
        return ""
    if column.kind == Kind.TEXT:
        return safe_text(value)
    return value


def header(column: Column) -> str:
    return column.label + UNITS.get(column.kind, "")


def table_lines(table: Table) -> Iterator[list[object]]:
    yield [table.title]
    yield [header(column) for column in table.columns]
    for row in table.stream():
        yield [csv_cell(column, column.value(row)) for column in table.columns]
    if table.totals is not None:
        yield total_line(table)
    yield []


def total_line(table: Table) -> list[object]:
    line: list[object] = []
    for i, column in enumerate(table.columns):
        if column.kind == Kind.TEXT:
            line.append("Total" if i == 0 else "")
        else:
            assert table.totals is not None
            line.append(csv_cell(column, column.value(table.totals)))
    return line


def scope_lines(title: str, scope: Scope) -> Iterator[list[object]]:
    yield ["Report", title]
    yield ["Organization", safe_text(scope.organization.name)]
    yield ["From", scope.start.isoformat()]
    yield ["Until", scope.end.isoformat()]
    yield ["Grouped by", scope.period]
    for name, chosen in (
        ("Service", scope.service_type),
        ("Provider", scope.provider),
        ("Student", scope.student),
    ):
        if chosen is not None:
            yield [name, safe_text(chosen.name)]
    yield []


def pieces(lines: Iterable[list[object]]) -> Iterator[str]:
    """The CSV text of `lines`, in pieces of about `PIECE_BYTES` (memory: one piece)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for line in lines:
        writer.writerow(line)
        if buffer.tell() >= PIECE_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def streamed(lines: Iterable[list[object]], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(pieces(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def written(text: str, filename: str) -> HttpResponse:
    """A file already written whole (a download kept in the cache, `reports.csv_cache`): the
    same bytes and headers as `streamed`."""
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def filename(scope: Scope, name: str) -> str:
    return f"{scope.organization.slug}-{name}-{scope.start:%Y%m%d}-{scope.end:%Y%m%d}.csv"


def report_lines(report: Report) -> Iterator[list[object]]:
    """Every table of `report`, one after the other, each with its title, header and totals
    (also what an export job writes, reports/export_jobs/report_sources.py)."""
    yield from scope_lines(report.title, report.scope)
    for table in report.tables():
        yield from table_lines(table)


def report_csv(report: Report) -> StreamingHttpResponse:
    return streamed(report_lines(report), filename(report.scope, report.name))


def report_text(report: Report) -> str:
    """The text `report_csv` streams, whole (a download under the cap, to keep)."""
    return "".join(pieces(report_lines(report)))


# --- The raw sessions export: one line per session -----------------------------------------------

SESSION_COLUMNS = (
    "Session",
    "Date",
    "Start",
    "Duration (minutes)",
    "Student",
    "Provider",
    "Service",
    "Kind",
    "Status",
    "No-show party",
    "Unit",
    "Charged (in the unit)",
    "Not covered (in the unit)",
    "Mode",
)


def session_rows(scope: Scope) -> QuerySet[Session, tuple[Any, ...]]:
    """The raw export's rows, oldest first, in the order of SESSION_COLUMNS (the benchmark's COPY
    runs this same query). The local day and time come from the database (the same zone
    conversion as the reports' periods), so no date is converted or formatted per row."""
    tz = scope.tz
    return (
        scope.sessions()
        .order_by("starts_at", "pk")
        .values_list(
            "public_id",
            TruncDate("starts_at", tzinfo=tz),
            TruncTime("starts_at", tzinfo=tz),
            "duration_minutes",
            F("relationship__student__name"),
            F("relationship__provider__name"),
            F("relationship__service_type__name"),
            "kind",
            "status",
            "no_show_party",
            F("relationship__unit"),
            "charged_minutes",
            "charge_shortfall",
            "mode",
        )
    )


def session_cells(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[Any]]:
    """The lines of `session_rows`, in the order of SESSION_COLUMNS: what the direct download
    and the background export (reports/export_jobs/report_sources.py) both write."""
    for row in rows:
        public_id, day, start, duration, student, provider, service, *rest = row
        kind, status, party, unit, charged, shortfall, mode = rest
        yield [
            str(public_id),
            day,
            str(start)[:5],
            duration,
            safe_text(student),
            safe_text(provider),
            safe_text(service),
            kind,
            status,
            party,
            unit,
            charged,
            shortfall,
            safe_text(mode),
        ]


def session_rows_csv(scope: Scope) -> StreamingHttpResponse:
    """The scope's sessions, oldest first, one line each (dates and times in the center's)."""
    rows = session_rows(scope)

    def lines() -> Iterator[list[object]]:
        yield list(SESSION_COLUMNS)
        yield from session_cells(rows.iterator(chunk_size=CHUNK_ROWS))

    return streamed(lines(), filename(scope, "sessions-rows"))


# --- Direct downloads, up to a size -------------------------------------------------------------
#
# A direct download is a request: it must answer like a page. Past
# `MATCHPAL_CSV_DIRECT_MAX_ROWS` rows read, the view answers a page that starts the same export
# in the background instead (docs/reports.md, "Large downloads"). The rows are counted up to one
# past the cap, `SELECT count(*) FROM (… LIMIT cap + 1)`: through the index of the range, a few
# milliseconds however large the center (the ledger entries of the whole center: their index
# alone, without joining each entry to its grant).


@dataclass(frozen=True)
class Measure:
    """What a download reads that grows with the center: its rows, and what to call them."""

    rows: QuerySet[Any, Any]
    noun: str


def direct_max_rows() -> int:
    return settings.MATCHPAL_CSV_DIRECT_MAX_ROWS


def over_cap(measure: Measure | None) -> bool:
    """More rows than a direct download holds (one query; none without a measure)."""
    if measure is None:
        return False
    cap = direct_max_rows()
    return measure.rows.order_by()[: cap + 1].count() > cap


def sessions_measure(scope: Scope) -> Measure:
    return Measure(scope.sessions(), "sessions")


def report_measure(report: Report) -> Measure | None:
    """The rows a report's figures are aggregated from: the ledger entries of the range for
    the reports over the ledger, the scope's sessions for the others. A student's statement
    has none: it is one student's, its movements bounded (`statement.MOVEMENTS_MAX`)."""
    if isinstance(report, StatementReport):
        return None
    if isinstance(report, LedgerReport):
        scope = report.scope
        entries = ledger_entries(
            organization=scope.organization, filters=report.ledger, grants_checked=False
        )
        rows = entries.filter(created_at__gte=scope.starts, created_at__lt=scope.ends)
        return Measure(rows, "changes to the hours (ledger entries)")
    return sessions_measure(report.scope)


def scope_params(scope: Scope) -> dict[str, str]:
    """The report form's query for exactly `scope`: its days (not a preset, which would move
    by the time a background export runs), its grouping and its filters."""
    params = {
        "range": "custom",
        "date_from": scope.start.isoformat(),
        "date_to": scope.end.isoformat(),
        "period": scope.period,
    }
    for name, chosen in (
        ("service_type", scope.service_type),
        ("provider", scope.provider),
        ("student", scope.student),
    ):
        if chosen is not None:
            params[name] = str(chosen.public_id)
    return params
