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
- the center's date (the default ranges, the statement's "prepared" line, the Usage report's
  "runs out about");
- the time zone, language and script prefix the content is written in.

A report whose figures depend on the moment (`Report.moment`: Usage and Financial) depends on
it only through the grants usable now (what is free to book now, what is owed on a day not
over yet) and the center's date. Its entry is kept with the moment it stops being true: the
first moment after its computation began at which an active grant of the center becomes valid
or expires, or the center's midnight (`grants.selectors.next_usable_change`, one statement read
on a miss only). A view reads it only before that moment, so a grant becoming valid or expiring
shows exactly when it does, and between writes such a report is computed about once per change
of the usable grants, not once per minute.

As on the admin home (`reports.home_cache`): a view reads the version (one small statement)
and, on a hit, no figure at all; a transaction that has written something itself, SQLite and a
view while Redis cannot be reached compute the content every time; on a miss the content is
stored under the version read before its figures, so an entry never holds figures older than
its key. The form, the range line and the export links stay outside: they are the request's.
"""

from datetime import datetime, time, timedelta

from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString

from grants.selectors import next_usable_change
from matchpal.cache import unreachable
from matchpal.data_version import version
from matchpal.models import Organization
from reports.framework import Report

# A content is read until the center's next write, midnight, or (`Report.moment`) the next
# change of its usable grants: this only bounds how long unused ones stay.
TIMEOUT = 3600


def _pk(value: object) -> object:
    return "-" if value is None else getattr(value, "pk", value)


def key(report: Report, n: int) -> str:
    scope = report.scope
    organization, membership = scope.organization, scope.membership
    return ":".join(
        str(part)
        for part in (
            f"report-{report.name}:2",
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
            timezone.localdate(timezone=organization.tz).isoformat(),
            timezone.get_current_timezone_name(),
            translation.get_language(),
            get_script_prefix(),
        )
    )


def until(organization: Organization, now: datetime) -> datetime:
    """When a content of the moment computed from `now` on stops being true with no write: the
    next change of the usable grants, or the center's next midnight if that comes first."""
    tz = organization.tz
    midnight = datetime.combine(timezone.localdate(now, tz) + timedelta(days=1), time(), tz)
    change = next_usable_change(organization=organization, after=now)
    return midnight if change is None else min(change, midnight)


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
    """The report's content, from the cache when the center's data and date (and, for a report
    of the moment, its usable grants) are those it was rendered for."""
    n = version(report.scope.organization)
    if n is None:
        return SafeString(render(report))
    entry = key(report, n)
    found = cache.get(entry)
    if found is not None:
        if not report.moment:
            return SafeString(found)
        kept_until, html = found
        if timezone.now() < kept_until:
            return SafeString(html)
    if unreachable(cache):  # nothing can be kept: spare the moment's look-up
        return SafeString(render(report))
    if not report.moment:
        html = render(report)
        cache.set(entry, html, TIMEOUT)
        return SafeString(html)
    # Read before the figures: a change of the usable grants while they are computed leaves
    # the entry already past its moment, never read.
    good_until = until(report.scope.organization, timezone.now())
    html = render(report)
    left = (good_until - timezone.now()).total_seconds()
    if left > 0:
        cache.set(entry, (good_until, html), min(TIMEOUT, int(left) + 1))
    return SafeString(html)
