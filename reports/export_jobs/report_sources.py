"""Every report of the reports framework (reports/framework.py) as an export source named
`report-<name>`: the same lines as its streamed CSV (`reports.exports.report_lines`: the scope,
then each table with its header and totals), written by a job as CSV or Excel; and the raw
sessions of the Sessions report's scope (`session-rows`), the same lines as its direct CSV
(`reports.exports.session_rows_csv`). The filters are the report page's query string, read by
the report's own form."""

from collections.abc import Iterator
from typing import cast

from matchpal.models import Membership, Organization, Role
from reports.catalog.sessions import SessionsReport
from reports.export_jobs.registry import ExportData, ExportParamsError, Row, export_source
from reports.exports import SESSION_COLUMNS, report_lines, session_cells, session_rows
from reports.forms import ReportFilterForm
from reports.framework import CHUNK_ROWS, REPORTS, Report, Scope

SESSION_ROWS = "session-rows"


def source_name(report: type[Report]) -> str:
    return f"report-{report.name}"


def _scope(
    report: type[Report], organization: Organization, membership: Membership, params: dict[str, str]
) -> Scope:
    """The scope the report's form reads from `params`; a filter it refuses, refused here."""
    form = ReportFilterForm(params, report=report, organization=organization, membership=membership)
    if not form.is_valid():
        errors = [error for field in form.errors.values() for error in field]
        raise ExportParamsError(str(errors[0]) if errors else "Check the report's filters.")
    return form.scope()


def _source(report: type[Report]):  # type: ignore[no-untyped-def]
    def build(
        organization: Organization, membership: Membership, params: dict[str, str]
    ) -> ExportData:
        shown = report(_scope(report, organization, membership, params))
        scope = shown.scope
        return ExportData(
            title=f"{report.title} report, {scope.start:%Y-%m-%d} to {scope.end:%Y-%m-%d}",
            header=[],
            rows=cast(Iterator[Row], report_lines(shown)),
        )

    return build


def register_reports() -> None:
    """Called once the reports are registered (ExportsConfig.ready, after ReportsConfig's)."""
    for report in REPORTS.values():
        export_source(source_name(report), label=f"{report.title} report", roles=report.roles)(
            _source(report)
        )


@export_source(SESSION_ROWS, label="Sessions, one line each", roles={Role.ADMIN, Role.PROVIDER})
def session_lines(
    organization: Organization, membership: Membership, params: dict[str, str]
) -> ExportData:
    """The Sessions report's scope, one line per session (an admin's whole center, a
    provider's own): the direct download's lines, for the ranges too large for it."""
    scope = _scope(SessionsReport, organization, membership, params)
    rows = session_rows(scope)
    return ExportData(
        title=f"Sessions, one line each, {scope.start:%Y-%m-%d} to {scope.end:%Y-%m-%d}",
        header=list(SESSION_COLUMNS),
        rows=cast(Iterator[Row], session_cells(rows.iterator(chunk_size=CHUNK_ROWS))),
        count=rows.order_by().count,
    )
