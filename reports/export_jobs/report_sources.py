"""Every report of the reports framework (reports/framework.py) as an export source named
`report-<name>`: the same lines as its streamed CSV (`reports.exports.report_lines`: the scope,
then each table with its header and totals), written by a job as CSV or Excel. The filters are
the report page's query string, read by the report's own form."""

from collections.abc import Iterator
from typing import cast

from matchpal.models import Membership, Organization
from reports.export_jobs.registry import ExportData, ExportParamsError, Row, export_source
from reports.exports import report_lines
from reports.forms import ReportFilterForm
from reports.framework import REPORTS, Report


def source_name(report: type[Report]) -> str:
    return f"report-{report.name}"


def _source(report: type[Report]):  # type: ignore[no-untyped-def]
    def build(
        organization: Organization, membership: Membership, params: dict[str, str]
    ) -> ExportData:
        form = ReportFilterForm(
            params, report=report, organization=organization, membership=membership
        )
        if not form.is_valid():
            errors = [error for field in form.errors.values() for error in field]
            raise ExportParamsError(str(errors[0]) if errors else "Check the report's filters.")
        shown = report(form.scope())
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
