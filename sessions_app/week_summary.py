"""The admin's week at a large center: a summary instead of every session (docs/scheduling.md,
"The admin's week at a large center").

A center with a thousand providers has thousands of sessions a week: drawn one by one they made
the admin's calendar a 140 KiB page nobody reads. Above `SUMMARY_ABOVE` sessions (not
cancelled) in the week, and no provider chosen, the admin's week shows for each day how many
sessions there are by status and by part of the day, and the five providers with the most,
each a link to that provider's week in full.

The counts are one statement on PostgreSQL (the week's sessions through the sessions'
organization-and-start index, grouped by the center's local day; the providers ranked per day
with a window function, only the five first joined to their names), and the same counts in
Python elsewhere (SQLite, `make run`). They are kept in the cache under the center's data version
(`matchpal.data_version`: a counter the database adds to at the commit of every write to
the sessions, relationships, providers, ...), the week and the center's time zone: a warm week
costs that one small read."""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from django.core.cache import cache
from django.db import connection
from django.urls import get_script_prefix
from django.utils import translation

from matchpal.data_version import version
from matchpal.models import Organization
from sessions_app.models import Session, SessionStatus

# Up to this many sessions in the week the admin sees every one of them; above, the summary.
SUMMARY_ABOVE: Final = 250
TOP_PROVIDERS: Final = 5
# The parts of the day, by the local hour of the start: [from, to).
BANDS: Final = (("Before 12:00", 0, 12), ("12:00–17:00", 12, 17), ("From 17:00", 17, 24))
# An entry is only read under its version: this only bounds how long unused ones stay.
TIMEOUT: Final = 3600

_STATUS_ORDER = [s.value for s in SessionStatus if s != SessionStatus.CANCELLED]
_STATUS_LABELS = {s.value: str(s.label) for s in SessionStatus}


@dataclass(frozen=True)
class TopProvider:
    public_id: str
    name: str
    sessions: int


@dataclass(frozen=True)
class DaySummary:
    day: date
    total: int
    # (status value, count), in the statuses' order, those with sessions only.
    statuses: tuple[tuple[str, int], ...]
    # One count per `BANDS`.
    bands: tuple[int, ...]
    top: tuple[TopProvider, ...]

    @property
    def iso(self) -> str:
        return self.day.isoformat()

    @property
    def status_labels(self) -> list[tuple[str, str, int]]:
        return [(status, _STATUS_LABELS[status], n) for status, n in self.statuses]

    @property
    def band_labels(self) -> list[tuple[str, int]]:
        return [(band[0], n) for band, n in zip(BANDS, self.bands, strict=True)]


@dataclass(frozen=True)
class WeekSummary:
    total: int
    days: tuple[DaySummary, ...]

    @property
    def summarised(self) -> bool:
        """Too many sessions to show each one (the module's docstring)."""
        return self.total > SUMMARY_ABOVE


def _band(hour: int) -> int:
    return next(i for i, (_, start, end) in enumerate(BANDS) if start <= hour < end)


# --- Counting ------------------------------------------------------------------------------------

# %(tz)s is the center's zone name: `AT TIME ZONE` gives the local wall time of each start, the
# same local day and hour as `timezone.localtime` (daylight-saving changes included).
_SQL = f"""
WITH week AS (
    SELECT s.starts_at AT TIME ZONE %(tz)s AS local_at, s.status, s.provider_id
    FROM sessions_app_session s
    WHERE s.organization_id = %(org)s
      AND s.starts_at >= %(start)s AND s.starts_at < %(end)s
      AND s.status <> '{SessionStatus.CANCELLED.value}'
), ranked AS (
    SELECT local_at::date AS day, provider_id, count(*) AS n,
           row_number() OVER (
               PARTITION BY local_at::date ORDER BY count(*) DESC, provider_id
           ) AS place
    FROM week GROUP BY 1, 2
)
SELECT local_at::date, status,
       CASE WHEN extract(hour FROM local_at) < {BANDS[1][1]} THEN 0
            WHEN extract(hour FROM local_at) < {BANDS[2][1]} THEN 1 ELSE 2 END,
       NULL, NULL, count(*)
FROM week GROUP BY 1, 2, 3
UNION ALL
SELECT r.day, NULL, NULL, p.public_id::text, p.name, r.n
FROM ranked r JOIN providers_provider p ON p.id = r.provider_id AND p.organization_id = %(org)s
WHERE r.place <= {TOP_PROVIDERS}
"""  # noqa: S608 (constants only; the values are parameters)


# (local day, status, band index, provider public id, provider name, count): a count row has
# the status and band, a provider row the provider.
type Row = tuple[date, str | None, int | None, str | None, str | None, int]


def _rows_sql(organization: Organization, start: datetime, end: datetime) -> list[Row]:
    with connection.cursor() as cursor:
        cursor.execute(
            _SQL,
            {"tz": organization.time_zone, "org": organization.pk, "start": start, "end": end},
        )
        return [tuple(row) for row in cursor.fetchall()]


def rows_python(organization: Organization, start: datetime, end: datetime) -> list[Row]:
    """The rows `_SQL` returns, counted in Python from every session of the week (SQLite, where
    `make run`'s small demo center has few)."""
    tz = organization.tz
    counts: Counter[tuple[date, str, int]] = Counter()
    per_provider: defaultdict[date, Counter[tuple[int, str, str]]] = defaultdict(Counter)
    sessions = (
        Session.objects.filter(organization=organization, starts_at__gte=start, starts_at__lt=end)
        .exclude(status=SessionStatus.CANCELLED)
        .values_list(
            "starts_at", "status", "calendar_provider_id", "calendar_provider__public_id",
            "calendar_provider__name",
        )
    )  # fmt: skip
    for starts_at, status, provider_id, public_id, name in sessions:
        local = starts_at.astimezone(tz)
        counts[(local.date(), status, _band(local.hour))] += 1
        per_provider[local.date()][(provider_id, str(public_id), name)] += 1
    rows: list[Row] = [(d, s, b, None, None, n) for (d, s, b), n in counts.items()]
    for day, providers in per_provider.items():
        ranked = sorted(providers.items(), key=lambda item: (-item[1], item[0][0]))
        rows += [(day, None, None, p, name, n) for (_, p, name), n in ranked[:TOP_PROVIDERS]]
    return rows


def _summary(rows: list[Row], days: list[date]) -> WeekSummary:
    statuses: defaultdict[date, Counter[str]] = defaultdict(Counter)
    bands: defaultdict[date, list[int]] = defaultdict(lambda: [0] * len(BANDS))
    top: defaultdict[date, list[TopProvider]] = defaultdict(list)
    for day, status, band, public_id, name, n in rows:
        if status is not None and band is not None:
            statuses[day][status] += n
            bands[day][band] += n
        elif public_id is not None:
            top[day].append(TopProvider(public_id=public_id, name=str(name), sessions=n))
    summaries = tuple(
        DaySummary(
            day=day,
            total=sum(statuses[day].values()),
            statuses=tuple((s, statuses[day][s]) for s in _STATUS_ORDER if statuses[day][s]),
            bands=tuple(bands[day]),
            top=tuple(sorted(top[day], key=lambda t: (-t.sessions, t.name))),
        )
        for day in days
    )
    return WeekSummary(total=sum(d.total for d in summaries), days=summaries)


def compute(
    organization: Organization, start: datetime, end: datetime, days: list[date]
) -> WeekSummary:
    """The summary of the sessions from `start` to `end` (a local week whose dates are `days`),
    counted now."""
    if connection.vendor == "postgresql":
        rows = _rows_sql(organization, start, end)
    else:
        rows = rows_python(organization, start, end)
    return _summary(rows, days)


def key(organization: Organization, n: int, start: datetime, today: date) -> str:
    return ":".join(
        str(part)
        for part in (
            "admin-week:1",
            connection.settings_dict["NAME"],
            organization.pk,
            organization.created_at.timestamp(),
            n,
            start.isoformat(),
            organization.time_zone,
            today.isoformat(),  # the page marks today's column
            translation.get_language(),
            get_script_prefix(),
        )
    )


def week_summary(
    organization: Organization,
    start: datetime,
    end: datetime,
    days: list[date],
    *,
    today: date,
    render: Callable[[WeekSummary], str],
) -> tuple[WeekSummary, str]:
    """The week's summary and, when the week is summarised, its part of the page (`render`d
    once: drawing seven days of counts and links costs more than reading them), from the cache
    when the center's data is what they were made from. Made on every view on SQLite, in a
    transaction that has written (its writes are not in the version yet) and while Redis cannot
    be reached (the cache then reads as empty)."""
    n = version(organization)
    if n is None:
        summary = compute(organization, start, end, days)
        return summary, render(summary) if summary.summarised else ""
    entry = key(organization, n, start, today)
    found: tuple[WeekSummary, str] | None = cache.get(entry)
    # An entry made under another threshold (before a deploy that changed it) is made again.
    if found is not None and found[0].summarised == bool(found[1]):
        return found
    summary = compute(organization, start, end, days)
    kept = (summary, render(summary) if summary.summarised else "")
    cache.set(entry, kept, TIMEOUT)
    return kept
