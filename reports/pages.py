"""The reports' pages and exports (docs/reports.md). The role home stays in `reports/views.py`.

Each report gets its own URLs (`reports/pages_urls.py` builds them from the registry), so a
role the report is not for is refused by `tenant_view` before anything is looked up, and a
report's URL has no id to guess. Every answer reads the filters from the query string: a POST
is answered as the GET it would be (there is nothing to change here).
"""

from collections.abc import Callable
from functools import partial
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse

from matchpal.models import Role
from matchpal.tenancy import TenantRequest, tenant_view
from reports import csv_cache, exports, report_cache
from reports.catalog.sessions import SessionsReport
from reports.export_jobs.report_sources import SESSION_ROWS, source_name
from reports.forms import ReportFilterForm
from reports.framework import Report, Scope, reports_for

ReportView = Callable[..., HttpResponseBase]


@tenant_view()
def report_index(request: TenantRequest) -> HttpResponse:
    return render(request, "reports/index.html", {"reports": reports_for(request.membership)})


def _form(request: TenantRequest, report: type[Report]) -> ReportFilterForm:
    return ReportFilterForm(
        request.GET,
        report=report,
        organization=request.organization,
        membership=request.membership,
    )


def _page(request: TenantRequest, report: type[Report], form: ReportFilterForm) -> HttpResponse:
    context: dict[str, object] = {"report": report, "form": form}
    if not form.is_valid():
        context["tables"] = []  # nothing to show for filters that do not hold
    else:
        shown = report(form.scope())
        # The summary and tables: rendered where the page writes them (a callable in the
        # context), from the cache when the center's data has not changed since.
        context |= {"scope": shown.scope, "content": partial(report_cache.content, shown)}
    return render(request, report.template, context)


def report_page(report: type[Report]) -> ReportView:
    @tenant_view(*report.roles)
    def page(request: TenantRequest) -> HttpResponse:
        return _page(request, report, _form(request, report))

    page.__name__ = page.__qualname__ = f"report_{report.name}"
    return page


def _too_large(
    request: TenantRequest,
    *,
    source: str,
    title: str,
    scope: Scope,
    measure: exports.Measure,
    report: type[Report],
) -> HttpResponse:
    """The answer to a direct download past the cap: what it would read, and a form that
    starts the same export, for exactly the same days and filters, in the background."""
    params = exports.scope_params(scope)
    back = reverse(f"reports:{report.name}", args=[scope.organization.slug])
    return render(
        request,
        "reports/csv_too_large.html",
        {
            "title": title,
            "source": source,
            "scope": scope,
            "noun": measure.noun,
            "cap": exports.direct_max_rows(),
            "params": params,
            "back": f"{back}?{urlencode(params)}",
        },
    )


def report_csv(report: type[Report]) -> ReportView:
    @tenant_view(*report.roles)
    def export(request: TenantRequest) -> HttpResponseBase:
        form = _form(request, report)
        if not form.is_valid():
            # The page, with the form's errors: nothing to export from filters that do not hold.
            return _page(request, report, form)
        scope = form.scope()
        # The file as kept for the center's data now (`reports.csv_cache`): on a hit, nothing
        # of the report is read, not even its count (kept past the cap: the verdict alone).
        kept = csv_cache.lookup(report, scope)
        if kept.file is not None:
            return exports.written(kept.file, exports.filename(scope, report.name))
        shown = report(scope)
        measure = exports.report_measure(shown)
        if kept.over_cap or exports.over_cap(measure):
            assert measure is not None
            csv_cache.keep(kept, csv_cache.OVER_CAP)
            return _too_large(
                request,
                source=source_name(report),
                title=f"{report.title} report",
                scope=shown.scope,
                measure=measure,
                report=report,
            )
        if kept.entry is None:
            return exports.report_csv(shown)  # not kept: streamed as it is written
        text = exports.report_text(shown)
        csv_cache.keep(kept, text)
        return exports.written(text, exports.filename(shown.scope, report.name))

    export.__name__ = export.__qualname__ = f"report_{report.name}_csv"
    return export


@tenant_view(Role.ADMIN, Role.PROVIDER)
def session_rows_csv(request: TenantRequest) -> HttpResponseBase:
    """Every session of the range and filters, one line each: all of the center's for an
    admin, a provider's own (the same scope as the Sessions report)."""
    form = _form(request, SessionsReport)
    if not form.is_valid():
        return _page(request, SessionsReport, form)
    scope = form.scope()
    measure = exports.sessions_measure(scope)
    if exports.over_cap(measure):
        return _too_large(
            request,
            source=SESSION_ROWS,
            title="Sessions, one line each",
            scope=scope,
            measure=measure,
            report=SessionsReport,
        )
    return exports.session_rows_csv(scope)
