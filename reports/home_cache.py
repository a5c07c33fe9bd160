"""The admin home's content, kept in the cache part by part, each part under what it depends on.

The page (`templates/reports/dashboard/admin.html`) is put together from parts, each a partial
of that template rendered from its own figures: the head counts, the center's hours, the
sessions this week and month with the trends, the recent transactions, the expiring grants,
"Needs attention", the warning signs, the low-balance list and the newest students. Every
part is kept in the cache, rendered, under a key holding everything it depends on:

- the organization (its id and creation time: two tenants never share an entry, nor two databases
  whose ids coincide, with the database's name);
- the version of the organization's data (`matchpal.data_version`: a counter the database adds
  to at the commit of every write to a table the page reads, whatever wrote it);
- for a part whose answer depends on the moment, the next moment that answer can change with
  no write (`Part.until`, from one statement read with the clock: `moments`): the next
  time a grant with something free to book becomes valid or expires (the hours, the
  low-balance list), a grant with unused hours enters the 14 days of the expiring list or
  leaves it, a pending invitation expires (the head counts), a scheduled session reaches its
  start (the count of sessions to log, a part of its own), a row enters or leaves a warning
  sign's window; for the week and month, the days they start on;
- the time zone, language and script prefix the part is written in.

So a part's entry is read only while its figures are those a computation would give at that
moment. The whole page is also kept for the minute (`key`) under the version: a view reads the
version (one small statement) and, on a hit, nothing else. The minute's first view reads the
moments (one statement), the parts in one cache round trip, and computes only the parts not
found: after a write, every part; otherwise those whose moment has passed (at a busy center,
the count of sessions to log when a session has started: one compiled statement). A part is
stored only when the moments and the version read again after computing it are the same (no
moment fell, no write was counted meanwhile), so an entry never holds figures of another
moment than its key's (docs/reports.md, "The content kept in the cache").

A transaction that has written something itself (its writes are not counted until it commits)
and SQLite (`make run`: no triggers) compute every part on every view, as does every view while
Redis cannot be reached (the cache then reads as empty: matchpal/cache.py)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import BigIntegerField, F, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from grants import selectors as ledger
from grants.models import Grant, GrantStatus
from grants.selectors import low_balance_students
from matchpal.cache import unreachable
from matchpal.compiled import Compiled
from matchpal.data_version import SUM, version
from matchpal.models import Invitation, Membership, Organization
from relationships.models import RelationshipStatus
from reports import dashboard, selectors
from sessions_app.models import PairingActivity, Session, SessionStatus, ShortSession

TEMPLATE = "reports/dashboard/admin.html"

# The page is only read within its minute: this only bounds how long old ones stay.
TIMEOUT = 120
# A part lasts until the center's next write or its next moment: this only bounds how long
# unused ones stay.
KEPT_TIMEOUT = 3600

# The smallest step of a moment (PostgreSQL's and Python's): a row that stays in a window while
# `now <= t` leaves it at `t + TICK`.
TICK = timedelta(microseconds=1)


def key(organization: Organization, n: int) -> str:
    return ":".join(
        str(part)
        for part in (
            "admin-home:2",
            connection.settings_dict["NAME"],
            organization.pk,
            organization.created_at.timestamp(),
            n,
            timezone.now().strftime("%Y%m%d%H%M"),
            timezone.get_current_timezone_name(),
            translation.get_language(),
            get_script_prefix(),
        )
    )


# The moments -------------------------------------------------------------------------------


def _first(rows: QuerySet[Any], column: str) -> Subquery:
    """The earliest `column` of `rows`: the first row of an index read in order."""
    return Subquery(rows.order_by(column).values(column)[:1])


def _moments_query(
    organization: int,
    now: datetime,
    horizon: datetime,
    short_since: datetime,
    gap_since: datetime,
    cancellations_since: datetime,
) -> QuerySet[Any]:
    """The earliest row past each window's edge, one index read each. `horizon` is the end of
    the expiring list's window; the others are the warning signs' (`dashboard.Thresholds`)."""
    grants = Grant.objects.filter(organization_id=organization, status=GrantStatus.ACTIVE)
    # A grant with nothing free to book adds nothing to any figure by becoming usable or not
    # (Free to book sums `available`); one with nothing unused is not in the expiring list.
    # At the large center most grants that expire are used up: their expiry is no moment.
    free = grants.exclude(total=F("used") + F("held"))
    unused = grants.filter(total__gt=F("used"))
    sessions = Session.objects.filter(organization_id=organization)
    cancelled = sessions.filter(status=SessionStatus.CANCELLED)
    short = ShortSession.objects.filter(organization_id=organization)
    paired = PairingActivity.objects.filter(
        organization_id=organization, status=RelationshipStatus.PAIRED
    )
    pending = Invitation.objects.filter(
        organization_id=organization, accepted_at__isnull=True, revoked_at__isnull=True
    )
    return (
        Organization.objects.filter(pk=organization)
        .order_by()
        .values(
            # grants.models.usable_condition: valid from `valid_from`, until `expires_at`.
            valid_from=_first(free.filter(valid_from__gt=now), "valid_from"),
            expires=_first(free.filter(expires_at__gt=now), "expires_at"),
            # grants.selectors.expiring_grants: enters the list `EXPIRING_DAYS` before its
            # expiry, leaves it at its expiry.
            expiring_enters=_first(unused.filter(expires_at__gt=horizon), "expires_at"),
            expiring_leaves=_first(unused.filter(expires_at__gt=now), "expires_at"),
            # sessions_app.selectors.due_to_log: from its start on.
            starts=_first(
                sessions.filter(
                    status=SessionStatus.SCHEDULED,
                    starts_at__gt=now,
                    relationship__status=RelationshipStatus.PAIRED,
                ),
                "starts_at",
            ),
            invitation=_first(pending.filter(expires_at__gt=now), "expires_at"),
            # The warning signs (reports.dashboard): a row enters a window at its start (short
            # sessions, cancellations) and leaves it the window's length after.
            short_next=_first(short.filter(starts_at__gt=now), "starts_at"),
            short_oldest=_first(short.filter(starts_at__gte=short_since), "starts_at"),
            gap_oldest=_first(
                paired.filter(completed__gt=0, last_session_at__gte=gap_since), "last_session_at"
            ),
            idle_oldest=_first(paired.filter(completed=0, paired_at__gte=gap_since), "paired_at"),
            cancelled_next=_first(cancelled.filter(starts_at__gt=now), "starts_at"),
            cancelled_oldest=_first(
                cancelled.filter(starts_at__gte=cancellations_since), "starts_at"
            ),
            # The version of the center's data (`matchpal.data_version`), read with them: the
            # check after computing parts is one statement.
            # Only the organization is a parameter.
            version=RawSQL(SUM, [organization], output_field=BigIntegerField()),  # noqa: S611
        )
    )


_moments = Compiled(
    _moments_query,
    organization=int,
    now=datetime,
    horizon=datetime,
    short_since=datetime,
    gap_since=datetime,
    cancellations_since=datetime,
)


@dataclass(frozen=True)
class Moments:
    """When each part's answer can next change with no write. Each is the earliest moment
    strictly after `now` at which a row enters or leaves what the part counts, so two views
    that find the same one see the same answer (no such moment lies between them)."""

    usable: datetime | None  # a grant becomes valid or expires
    expiring: datetime | None  # a grant enters the expiring list or leaves it
    to_log: datetime | None  # a scheduled session reaches its start
    invitations: datetime | None  # a pending invitation expires
    warnings: datetime | None  # a row enters or leaves a warning sign's window
    periods: tuple[date, date]  # this week's and this month's first days, on the center's clock
    version: int  # the version of the center's data they were read at


def _earliest(*moments: datetime | None) -> datetime | None:
    found = [moment for moment in moments if moment is not None]
    return min(found) if found else None


def _after(moment: datetime | None, length: timedelta) -> datetime | None:
    """When a row at `moment`, in a window while `now <= moment + length`, leaves it."""
    return None if moment is None else moment + length + TICK


def moments(organization: Organization) -> Moments:
    """The moments of every part, read now (one statement)."""
    now = timezone.now()
    limits = dashboard.Thresholds.of(organization, now)
    expiring = timedelta(days=ledger.EXPIRING_DAYS)
    (row,) = _moments.rows(
        organization=organization.pk,
        now=now,
        horizon=now + expiring,
        short_since=limits.short_since,
        gap_since=limits.gap_since,
        cancellations_since=limits.cancellations_since,
    )
    # A row at `t` stays in a window starting at `since` while `now - since` is at most the
    # window's length (`starts_at >= now - length`): it leaves at `t + length + TICK`.
    short, gap, cancellations = (
        now - since for since in (limits.short_since, limits.gap_since, limits.cancellations_since)
    )
    return Moments(
        usable=_earliest(row["valid_from"], row["expires"]),
        # Leaving: at `expires_at`; entering: `EXPIRING_DAYS` before.
        expiring=_earliest(
            row["expiring_leaves"],
            None if row["expiring_enters"] is None else row["expiring_enters"] - expiring,
        ),
        to_log=row["starts"],
        invitations=row["invitation"],
        warnings=_earliest(
            row["short_next"],
            _after(row["short_oldest"], short),
            _after(row["gap_oldest"], gap),
            _after(row["idle_oldest"], gap),
            row["cancelled_next"],
            _after(row["cancelled_oldest"], cancellations),
        ),
        periods=dashboard.current_periods(organization, now),
        version=int(row["version"]),
    )


# The parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A part of the page: `figures` computes its context, rendered by the template's partials
    `partials`; `until` picks, among the moments, what its answer depends on (None: the
    center's data alone)."""

    name: str
    partials: tuple[str, ...]
    figures: Callable[[Organization, Membership], dict[str, Any]]
    until: Callable[[Moments], object] | None = None


def _expiring(organization: Organization, membership: Membership) -> dict[str, Any]:
    count, rows = ledger.expiring_grants(organization=organization)
    return {"expiring_count": count, "expiring": rows, "expiring_days": ledger.EXPIRING_DAYS}


def _warnings(organization: Organization, membership: Membership) -> dict[str, Any]:
    limits = dashboard.Thresholds.of(organization)
    return {"warnings": dashboard.warning_counts(organization, limits), "limits": limits}


# In the order their figures are read (the page's query count: tests/test_query_counts.py).
PARTS = (
    Part(
        "recent",
        ("recent",),
        lambda org, member: {"recent_entries": ledger.recent_entries(organization=org)},
    ),
    Part("expiring", ("expiring",), _expiring, lambda m: m.expiring),
    Part(
        "counts",
        ("counts",),
        lambda org, member: selectors.center_counts(organization=org),
        lambda m: m.invitations,
    ),
    Part(
        "low_balance",
        ("low_balance",),
        lambda org, member: {"low_balance": low_balance_students(organization=org)},
        lambda m: m.usable,
    ),
    Part(
        "students",
        ("students",),
        lambda org, member: {"recent_students": selectors.newest_students(organization=org)},
    ),
    Part(
        "attention",
        ("proposals", "disputed", "order_errors", "attention_lists"),
        lambda org, member: {
            "attention": selectors.needs_attention(organization=org, membership=member)
        },
    ),
    Part(
        "to_log",
        ("to_log",),
        lambda org, member: {
            "to_log_count": selectors.admin_to_log_count(organization=org, now=timezone.now())
        },
        lambda m: m.to_log,
    ),
    Part(
        "hours",
        ("hours",),
        lambda org, member: {"center_hours": dashboard.center_hours(org)},
        lambda m: m.usable,
    ),
    Part(
        "sessions",
        ("sessions",),
        lambda org, member: dashboard.session_figures(org),
        lambda m: m.periods,
    ),
    Part("warnings", ("warnings",), _warnings, lambda m: m.warnings),
)


def _rendered(part: Part, organization: Organization, membership: Membership) -> dict[str, str]:
    context = {"organization": organization, **part.figures(organization, membership)}
    return {name: render_to_string(f"{TEMPLATE}#{name}", context) for name in part.partials}


def _part_key(part: Part, organization: Organization, n: int, found: Moments) -> str:
    moment = "-" if part.until is None else _written(part.until(found))
    return ":".join(
        str(piece)
        for piece in (
            f"admin-home-{part.name}:2",
            connection.settings_dict["NAME"],
            organization.pk,
            organization.created_at.timestamp(),
            n,
            moment,
            timezone.get_current_timezone_name(),
            translation.get_language(),
            get_script_prefix(),
        )
    )


def _written(moment: object) -> str:
    """A moment (or the week's and month's first days) as a key writes it: no spaces."""
    if moment is None:
        return "-"
    if isinstance(moment, datetime | date):
        return moment.isoformat()
    if isinstance(moment, tuple):
        return "/".join(_written(piece) for piece in moment)
    raise TypeError(moment)


def _page(parts: dict[str, str]) -> str:
    return render_to_string(TEMPLATE, {"parts": {k: mark_safe(v) for k, v in parts.items()}})  # noqa: S308


def render(organization: Organization, membership: Membership, n: int | None = None) -> str:
    """The content computed now: every part (with no version `n`), or the parts not kept
    under version `n` and their moments, the others read from the cache."""
    parts: dict[str, str] = {}
    if n is None:
        for part in PARTS:
            parts |= _rendered(part, organization, membership)
        return _page(parts)
    before = moments(organization)
    keys = {part.name: _part_key(part, organization, n, before) for part in PARTS}
    kept: dict[str, dict[str, str]] = cache.get_many(list(keys.values()))
    computed: dict[str, dict[str, str]] = {}
    for part in PARTS:
        found = kept.get(keys[part.name])
        if found is None:
            found = computed[part.name] = _rendered(part, organization, membership)
        parts |= found
    if computed:
        # Kept only when no moment fell and no write was counted while they were computed.
        after = moments(organization)
        if after.version == n:
            cache.set_many(
                {
                    keys[name]: value
                    for name, value in computed.items()
                    if _part_key(_named(name), organization, n, after) == keys[name]
                },
                KEPT_TIMEOUT,
            )
    return _page(parts)


def _named(name: str) -> Part:
    return next(part for part in PARTS if part.name == name)


def admin_home(organization: Organization, membership: Membership) -> SafeString:
    """The admin home's content, from the cache when the center's data and the minute are
    those it was rendered for."""
    n = version(organization)
    if n is None:
        return SafeString(render(organization, membership))
    entry = key(organization, n)
    html = cache.get(entry)
    if html is not None:
        return SafeString(html)
    if unreachable(cache):  # nothing can be kept: spare the parts' moments and look-ups
        return SafeString(render(organization, membership))
    html = render(organization, membership, n)
    cache.set(entry, str(html), TIMEOUT)
    return SafeString(html)
