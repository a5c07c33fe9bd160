"""The hours pages' rows written in Python: the ledger history's
(`grants/partials/history.html`) and the grants' (`grants/student_hours.html`,
`grants/my_hours.html`); and the student home's "Recent activity" (`home_history_row`).

Each row of the history was about sixty template nodes (variable lookups through the entry,
its grant, relationship and session, filters, `if`s): on a page of 25 entries the loop was
most of the hours pages' rendering (issue 11, docs/performance.md "The lists within 15x
/healthz"), and each grant's row read its service types through a new related manager and
queryset. `history_row`, `admin_grant_row` and `student_grant_row` write the same text the
loops wrote, character for character (tests/grants/test_history_rows.py and
test_grant_rows.py render them both ways), with the same filters.
"""

from collections.abc import Iterable

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from grants.models import Grant, GrantEntry
from matchpal.quantities import format_quantity
from matchpal.templatetags.dates import date
from matchpal.templatetags.matchpal_tags import RowLink, escaped, last_day, with_id

register = template.Library()


@register.simple_tag
def history_row(entry: GrantEntry, relationship_link: RowLink, session_link: RowLink) -> SafeString:
    """One `<tr>` of the history, with the whitespace around it that the loop wrote."""
    unit = entry.grant.unit
    what = escaped(entry.get_kind_display())
    relationship = entry.relationship
    if relationship:
        what += (
            f' · <a href="{with_id(relationship_link, relationship.public_id)}">'
            f"{escaped(relationship.provider.name)}</a>"
        )
    session = entry.session
    if session:
        what += (
            f' · <a href="{with_id(session_link, session.public_id)}">session of '
            f"{escaped(date(localtime(session.starts_at), 'M j'))}</a>"
        )
    change = ""
    if entry.total_delta:
        change += f"total {escaped(format_quantity(entry.total_delta, unit))} "
    if entry.used_delta:
        change += f"used {escaped(format_quantity(entry.used_delta, unit))} "
    if entry.held_delta:
        change += f"reserved {escaped(format_quantity(entry.held_delta, unit))}"
    actor = escaped(entry.actor) if entry.actor else "System"
    running = escaped(format_quantity(entry.running, unit))
    when = escaped(date(localtime(entry.created_at), "M j, Y H:i"))
    return mark_safe(  # noqa: S308 (every value above is escaped)
        "\n  <tr>\n"
        f'    <td class="text-nowrap">{when}</td>\n'
        f"    <td>{what}</td>\n"
        f'    <td class="text-end text-nowrap">{change}</td>\n'
        f'    <td class="text-end text-nowrap">{running}</td>\n'
        f"    <td>{actor}</td>\n"
        f'    <td class="small">{escaped(entry.reason)}</td>\n'
        "  </tr>\n  "
    )


def _covers(grant: Grant) -> str:
    """The grant's service types' names, its status badge when not active."""
    covers = ", ".join(escaped(service_type.name) for service_type in grant.covered())
    if grant.status != "active":
        covers += (
            f' <span class="badge text-bg-secondary">{escaped(grant.get_status_display())}</span>'
        )
    return covers


def _amounts(grant: Grant, indent: str) -> str:
    unit = grant.unit
    total, used, held, available = (
        escaped(format_quantity(value, unit))
        for value in (grant.total, grant.used, grant.held, grant.available)
    )
    return (
        f'{indent}<td class="text-end">{total}</td>\n'
        f'{indent}<td class="text-end">{used}</td>\n'
        f'{indent}<td class="text-end">{held}</td>\n'
        f'{indent}<td class="text-end"><strong>{available}</strong></td>\n'
    )


def _last_day(grant: Grant, otherwise: str) -> str:
    return escaped(date(last_day(grant.expires_at), "M j, Y")) if grant.expires_at else otherwise


@register.simple_tag
def admin_grant_row(
    grant: Grant, adjust: RowLink, transfer: RowLink, refund: RowLink, extend: RowLink
) -> SafeString:
    """One `<tr>` of a student's grants on the admin's hours page, with the whitespace around
    it that the loop wrote."""
    shade = "" if grant.status == "active" else "text-secondary"
    if grant.status == "revoked":
        actions = '\n      <span class="text-secondary small">No actions</span>\n    '
    else:
        items = "".join(
            f'          <li><a class="dropdown-item" href="{with_id(link, grant.public_id)}">'
            f"{label}</a></li>\n"
            for label, link in (
                ("Adjust", adjust),
                ("Transfer", transfer),
                ("Refund", refund),
                ("Extend", extend),
            )
        )
        actions = (
            "\n      \n"
            '      <div class="dropdown">\n'
            '        <button class="btn btn-sm btn-outline-secondary dropdown-toggle" '
            'data-bs-toggle="dropdown" type="button">Actions</button>\n'
            '        <ul class="dropdown-menu dropdown-menu-end">\n'
            f"{items}"
            "        </ul>\n"
            "      </div>\n"
            "      \n    "
        )
    return mark_safe(  # noqa: S308 (every value is escaped)
        f'\n  <tr class="{shade}">\n'
        f"    <td>{_covers(grant)}</td>\n"
        f"{_amounts(grant, '    ')}"
        f'    <td class="text-nowrap">{_last_day(grant, "—")}</td>\n'
        f"    <td>{escaped(grant.get_source_display())}</td>\n"
        f'    <td class="small">{escaped(grant.reference)}</td>\n'
        f'    <td class="text-nowrap">{actions}</td>\n'
        "  </tr>\n  "
    )


@register.simple_tag
def student_grant_row(grant: Grant) -> SafeString:
    """One `<tr>` of the student's own grants ("My hours"), with the whitespace around it that
    the loop wrote."""
    shade = "" if grant.status == "active" else "text-secondary"
    return mark_safe(  # noqa: S308 (every value is escaped)
        f'\n    <tr class="{shade}" data-testid="grant">\n'
        f"      <td>{_covers(grant)}</td>\n"
        f"{_amounts(grant, '      ')}"
        f'      <td class="text-nowrap" data-testid="grant-expires">'
        f"{_last_day(grant, 'No expiry')}</td>\n"
        "    </tr>\n    "
    )


@register.simple_tag
def home_history_row(entry: GrantEntry) -> SafeString:
    """One `<li>` of the student home's "Recent activity", with the whitespace around it that
    the loop wrote: its two dates, the provider and the balance after it were about twenty
    template nodes a row (tests/reports/test_home_history_rows.py renders the list both ways)."""
    what = escaped(entry.get_kind_display())
    relationship = entry.relationship
    if relationship:
        what += f" · {escaped(relationship.provider.name)}"
    session = entry.session
    if session:
        what += (
            ' <span class="small text-secondary">(session of '
            f"{escaped(date(localtime(session.starts_at), 'M j'))})</span>"
        )
    when = escaped(date(localtime(entry.created_at), "M j"))
    running = escaped(format_quantity(entry.running, entry.grant.unit))
    return mark_safe(  # noqa: S308 (every value is escaped)
        '\n    <li class="list-group-item d-flex justify-content-between">'
        f"<span>{when} · {what}</span>"
        f'<span class="text-secondary text-nowrap ms-2">{running} free to book</span></li>\n  '
    )


# --- Whole lists -------------------------------------------------------------------------------
# One tag call per list rather than per row: a loop's iteration and a tag's call (the
# arguments resolved, the context read) cost about as much as the row's own text on a page of
# 25 history rows and 66 grants (docs/performance.md, "The pairing's page and the homes'
# rows"). Each writes what `{% for %}` over the row tag wrote; the templates keep `{% empty %}`
# as `{% if %}…{% else %}` (tests/grants/test_list_tags.py renders both).


@register.simple_tag
def history_rows(
    entries: Iterable[GrantEntry], relationship_link: RowLink, session_link: RowLink
) -> SafeString:
    return mark_safe(  # noqa: S308 (each row escapes its values)
        "".join(history_row(entry, relationship_link, session_link) for entry in entries)
    )


@register.simple_tag
def admin_grant_rows(
    grants: Iterable[Grant], adjust: RowLink, transfer: RowLink, refund: RowLink, extend: RowLink
) -> SafeString:
    return mark_safe(  # noqa: S308 (each row escapes its values)
        "".join(admin_grant_row(grant, adjust, transfer, refund, extend) for grant in grants)
    )


@register.simple_tag
def student_grant_rows(grants: Iterable[Grant]) -> SafeString:
    return mark_safe("".join(student_grant_row(grant) for grant in grants))  # noqa: S308


@register.simple_tag
def home_history_rows(entries: Iterable[GrantEntry]) -> SafeString:
    return mark_safe("".join(home_history_row(entry) for entry in entries))  # noqa: S308
