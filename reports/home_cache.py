"""The admin home's content, rendered once per version of the center's data and minute.

Most of the admin home's cost is the same on every view: fifteen statements built and run,
their figures written into the page (docs/performance.md, "The admin home within 15x"). Its
content is therefore kept in the cache, rendered, under a key holding everything it depends on:

- the organization (its id and creation time: two tenants never share an entry, nor two databases
  whose ids coincide, with the database's name);
- the version of the organization's data (`reports.dashboard_version`: a counter the database
  adds to at the commit of every write to a table the page reads, whatever wrote it);
- the minute: the figures that depend on the moment (sessions past their start, grants expiring
  in 14 days, this week and month, the warning signs' windows, pending invitations) are those of
  the minute they were computed in, as a view in that minute computes them;
- the time zone, language and script prefix the page is written in.

A view reads the version (one small statement) and, on a hit, no figure at all. A transaction
that has written something itself (its writes are not counted until it commits) and SQLite
(`make run`: no triggers) compute the figures on every view, as does every view while Redis
cannot be reached (the cache then reads as empty: matchpal/cache.py). On a miss the content is
stored under the version read before its figures, so an entry never holds figures older than
its key."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Min, Subquery
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString

from grants.models import Grant, GrantStatus
from grants.selectors import low_balance_students
from matchpal.cache import unreachable
from matchpal.data_version import version
from matchpal.models import Invitation, Membership, Organization
from reports import selectors

TEMPLATE = "reports/dashboard/admin.html"

# An entry is only read within its minute: this only bounds how long old ones stay.
TIMEOUT = 120
# The parts kept apart (the low-balance list, the head counts) last until the center's next
# write or the next moment they depend on: this only bounds how long unused ones stay.
KEPT_TIMEOUT = 3600


def key(organization: Organization, n: int) -> str:
    return ":".join(
        str(part)
        for part in (
            "admin-home:1",
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


def _next_validity_change(organization: Organization) -> datetime | None:
    """The next moment an active grant of the organization becomes valid or expires: until
    then, the same grants are usable (`grants.models.usable_condition`). Two index reads
    (`grant_active_valid_from`, `grant_active_expires`)."""
    now = timezone.now()
    active = Grant.objects.filter(organization=organization, status=GrantStatus.ACTIVE)
    starts = active.filter(valid_from__gt=now).order_by("valid_from").values("valid_from")[:1]
    ends = active.filter(expires_at__gt=now).order_by("expires_at").values("expires_at")[:1]
    moments = (
        Organization.objects.filter(pk=organization.pk)
        .order_by()
        .values_list(Subquery(starts), Subquery(ends))
        .get()
    )
    found = [moment for moment in moments if moment is not None]
    return min(found) if found else None


def _next_invitation_expiry(organization: Organization) -> datetime | None:
    """The next moment a pending invitation of the organization expires: until then, the
    pending invitations the head counts count are the same."""
    until: datetime | None = (
        Invitation.objects.filter(
            organization=organization,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by()
        .aggregate(until=Min("expires_at"))["until"]
    )
    return until


def _kept[T](
    kind: str,
    organization: Organization,
    n: int,
    until: Callable[[Organization], datetime | None],
    compute: Callable[[], T],
) -> T:
    """A part of the page that depends on the moment only through `until` (the next moment its
    answer can change with no write), kept under the version and that moment rather than the
    minute. Kept only when no such moment fell while it was computed (the moment read before
    and after agree)."""
    moment = until(organization)
    entry = ":".join(
        str(part)
        for part in (
            f"admin-home-{kind}:1",
            connection.settings_dict["NAME"],
            organization.pk,
            organization.created_at.timestamp(),
            n,
            moment.isoformat() if moment else "-",
        )
    )
    found: T | None = cache.get(entry)
    if found is not None:
        return found
    value = compute()
    if until(organization) == moment:
        cache.set(entry, value, KEPT_TIMEOUT)
    return value


def render(organization: Organization, membership: Membership, n: int | None = None) -> str:
    """The content, computed now (with the low-balance list kept apart under version `n`)."""
    context: dict[str, Any] = selectors.admin_dashboard(
        organization=organization,
        membership=membership,
        low_balance=None
        if n is None
        else lambda: _kept(
            "low-balance",
            organization,
            n,
            _next_validity_change,
            lambda: low_balance_students(organization=organization),
        ),
        counts=None
        if n is None
        else lambda: _kept(
            "counts",
            organization,
            n,
            _next_invitation_expiry,
            lambda: selectors.center_counts(organization=organization),
        ),
    )
    return render_to_string(TEMPLATE, {"organization": organization, **context})


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
    if unreachable(cache):  # nothing can be kept: spare the kept parts' look-ups of their moment
        return SafeString(render(organization, membership))
    html = render(organization, membership, n)
    cache.set(entry, str(html), TIMEOUT)
    return SafeString(html)
