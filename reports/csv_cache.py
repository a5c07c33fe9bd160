"""A report's CSV download, written once per version of the center's data and kept in the cache.

A provider's or a student's download at the large center spends 35–85 ms running the report's
queries and writing its lines, the same on every download until something the report reads
changes (docs/performance.md, "The provider's and the student's CSV downloads from the cache").
The text of the file is therefore kept in the cache under a key of everything it depends on,
the discipline of the report pages' content (`reports.report_cache`):

- the organization (id and creation time) and the database's name: two tenants never share an
  entry, nor two databases whose ids coincide;
- the version of the organization's data (`matchpal.data_version`): a counter the database adds
  to at the commit of every write to a table the reports read, whatever wrote it;
- the report and the member (membership and role): a provider's reports are their own
  sessions, a student's their own, so two members never share an entry;
- the scope as the form normalized it: first and last days, period, service type, provider and
  student. A student's statement names the student their login belongs to, looked up when the
  report is made (`StatementReport`): that lookup reads rows under the version, so the
  membership stands for it in the key and a hit does not run it;
- the direct downloads' cap (`MATCHPAL_CSV_DIRECT_MAX_ROWS`): a hit skips the count of the
  rows, which the data under the version and the cap decide. Past the cap only that verdict is
  kept (`OVER_CAP`), never a file: the offer of the background export is rendered each time
  (it carries the request's CSRF token);
- the center's date, the time zone and the language.

What each CSV depends on besides its data: its days, the filters, the member; none of the
Sessions, Payroll and Statement reports reads the moment (their figures are sums of stored
rows; a statement's grants show their stored status). The reports that do (`Report.moment`:
Usage, Financial) are not kept: their downloads are computed and streamed as before.

A view reads the version (one small statement) and, on a hit, nothing else. A transaction that
has written something itself, SQLite and a view while Redis cannot be reached compute the file
every time, streamed as before (`exports.report_csv`). On a miss the file is written whole
(it is under the cap: bounded) and stored under the version read before its figures, so an
entry never holds figures older than its key.
"""

from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.utils import timezone, translation

from matchpal.cache import unreachable
from matchpal.data_version import version
from reports import exports
from reports.framework import Report, Scope

# A file of the day is read until the center's next write or midnight: this only bounds how
# long unused ones stay.
TIMEOUT = 3600
# What is kept for a download past the cap: no report's file is empty (each begins with the
# lines of its scope).
OVER_CAP = ""


def _pk(value: object) -> object:
    return "-" if value is None else getattr(value, "pk", value)


def key(report: type[Report], scope: Scope, n: int) -> str:
    organization, membership = scope.organization, scope.membership
    return ":".join(
        str(part)
        for part in (
            f"report-csv-{report.name}:1",
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
            exports.direct_max_rows(),
            timezone.localdate(timezone=organization.tz).isoformat(),
            timezone.get_current_timezone_name(),
            translation.get_language(),
        )
    )


@dataclass(frozen=True)
class Kept:
    """A download's place in the cache: `entry`, its key (None: not kept, computed and
    streamed), and `text`, what was found there (None: a miss; `OVER_CAP`: past the cap)."""

    entry: str | None
    text: str | None = None

    @property
    def file(self) -> str | None:
        return self.text or None

    @property
    def over_cap(self) -> bool:
        return self.text == OVER_CAP


NOT_KEPT = Kept(entry=None)


def lookup(report: type[Report], scope: Scope) -> Kept:
    """The download of `report` over `scope` as kept in the cache (reads the version, then
    the cache; nothing for a report of the moment)."""
    if report.moment:
        return NOT_KEPT
    n = version(scope.organization)
    if n is None:
        return NOT_KEPT
    entry = key(report, scope, n)
    text = cache.get(entry)
    if text is None and unreachable(cache):
        return NOT_KEPT
    return Kept(entry=entry, text=text)


def keep(kept: Kept, text: str) -> None:
    """Store the file written on a miss (or `OVER_CAP`) under the key read before its figures."""
    if kept.entry is not None and kept.text is None:
        cache.set(kept.entry, text, TIMEOUT)
