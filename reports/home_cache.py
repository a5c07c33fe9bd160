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
(`make run`: no triggers) compute the figures on every view, as does a view whose cache cannot
be reached. On a miss the content is stored under the version read before its figures, so an
entry never holds figures older than its key."""

import logging
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString

from matchpal.models import Membership, Organization
from reports import dashboard_version, selectors

logger = logging.getLogger(__name__)

TEMPLATE = "reports/dashboard/admin.html"

# An entry is only read within its minute: this only bounds how long old ones stay.
TIMEOUT = 120


def version(organization: Organization) -> int | None:
    """The organization's version, or None when this view must compute the figures (SQLite, or
    a transaction that has written rows not counted yet)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(dashboard_version.READ, [organization.pk])
        n, wrote = cursor.fetchone()
    return None if wrote else int(n)


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


def render(organization: Organization, membership: Membership) -> str:
    """The content, computed now."""
    context: dict[str, Any] = selectors.admin_dashboard(
        organization=organization, membership=membership
    )
    return render_to_string(TEMPLATE, {"organization": organization, **context})


def admin_home(organization: Organization, membership: Membership) -> SafeString:
    """The admin home's content, from the cache when the center's data and the minute are
    those it was rendered for."""
    n = version(organization)
    if n is None:
        return SafeString(render(organization, membership))
    entry = key(organization, n)
    try:
        html = cache.get(entry)
    except Exception:
        logger.warning("Cache unreachable: the admin home was computed.")
        return SafeString(render(organization, membership))
    if html is not None:
        return SafeString(html)
    html = render(organization, membership)
    try:
        cache.set(entry, str(html), TIMEOUT)
    except Exception:
        logger.warning("Cache unreachable: the admin home was not kept.")
    return SafeString(html)
