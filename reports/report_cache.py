"""A report's content, rendered once per version of the center's data and kept in the cache.

A report page at the large center spends 30–250 ms computing and writing its figures, the same
on every view until something the report reads changes (docs/performance.md, "The report pages
from the cache"). Its content (the summary and the tables under the form,
`Report.content_template`) is therefore kept in the cache, rendered, under a key holding
everything it depends on:

- the organization (its id and creation time, with the database's name: two tenants never
  share an entry, nor two databases whose ids coincide);
- the version of the organization's data (`reports.dashboard_version`, the admin home's: a
  counter the database adds to at the commit of every write to a table the reports read,
  whatever wrote it);
- the report and the member (their membership and role: a provider's report is their own
  sessions, a student's statement their own ledger, so two members never share an entry);
- the scope, normalized by the form: the first and last days, the period, the service type,
  provider and student chosen (two query strings that mean the same scope share an entry, two
  scopes never do);
- the center's date (the default ranges and the statement's "prepared" line), or the minute for
  a report that depends on the moment (`Report.moment`: the Usage report's "free to book now",
  what is owed on a day not over yet);
- the time zone, language and script prefix the content is written in.

As on the admin home (`reports.home_cache`): a view reads the version (one small statement)
and, on a hit, no figure at all; a transaction that has written something itself, SQLite and a
view while Redis cannot be reached compute the content every time; on a miss the content is
stored under the version read before its figures, so an entry never holds figures older than
its key. The form, the range line and the export links stay outside: they are the request's.
"""

from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString

from matchpal.cache import unreachable
from matchpal.data_version import version
from reports.framework import Report

# A content of the day is read until the center's next write or midnight: this only bounds how
# long unused ones stay. One of the minute (`Report.moment`) is only read within its minute.
TIMEOUT = 3600
MOMENT_TIMEOUT = 120


def _pk(value: object) -> object:
    return "-" if value is None else getattr(value, "pk", value)


def key(report: Report, n: int) -> str:
    scope = report.scope
    organization, membership = scope.organization, scope.membership
    when = (
        timezone.now().strftime("%Y%m%d%H%M")
        if report.moment
        else timezone.localdate(timezone=organization.tz).isoformat()
    )
    return ":".join(
        str(part)
        for part in (
            f"report-{report.name}:1",
            connection.settings_dict["NAME"],
            organization.pk,
            organization.created_at.timestamp(),
            n,
            membership.pk,
            membership.role,
            scope.start.isoformat(),
            scope.end.isoformat(),
            scope.period,
            _pk(scope.service_type),
            _pk(scope.provider),
            _pk(scope.student),
            when,
            timezone.get_current_timezone_name(),
            translation.get_language(),
            get_script_prefix(),
        )
    )


def render(report: Report) -> str:
    """The content, computed now: the tables' queries run as the template writes them."""
    scope = report.scope
    context = {
        "organization": scope.organization,
        "membership": scope.membership,
        "report": type(report),
        "scope": scope,
        "tables": report.tables(),
        **report.context(),
    }
    return render_to_string(report.content_template, context)


def content(report: Report) -> SafeString:
    """The report's content, from the cache when the center's data (and the day, or the
    minute) are those it was rendered for."""
    n = version(report.scope.organization)
    if n is None:
        return SafeString(render(report))
    entry = key(report, n)
    html = cache.get(entry)
    if html is not None:
        return SafeString(html)
    html = render(report)
    if not unreachable(cache):
        cache.set(entry, html, MOMENT_TIMEOUT if report.moment else TIMEOUT)
    return SafeString(html)
