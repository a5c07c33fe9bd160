"""The ledger history's rows written in Python (`grants/partials/history.html`).

Each row of the history was about sixty template nodes (variable lookups through the entry,
its grant, relationship and session, filters, `if`s): on a page of 25 entries the loop was
most of the hours pages' rendering (issue 11, docs/performance.md "The lists within 15x
/healthz"). `history_row` writes the same text the loop wrote, character for character
(tests/grants/test_history_rows.py renders a history both ways), with the same filters.
"""

from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from grants.models import GrantEntry
from matchpal.quantities import format_quantity
from matchpal.templatetags.dates import date
from matchpal.templatetags.matchpal_tags import RowLink, with_id

register = template.Library()


def _e(value: Any) -> str:
    return str(conditional_escape(value))


@register.simple_tag
def history_row(entry: GrantEntry, relationship_link: RowLink, session_link: RowLink) -> SafeString:
    """One `<tr>` of the history, with the whitespace around it that the loop wrote."""
    unit = entry.grant.unit
    what = _e(entry.get_kind_display())
    relationship = entry.relationship
    if relationship:
        what += (
            f' · <a href="{with_id(relationship_link, relationship.public_id)}">'
            f"{_e(relationship.provider.name)}</a>"
        )
    session = entry.session
    if session:
        what += (
            f' · <a href="{with_id(session_link, session.public_id)}">session of '
            f"{_e(date(localtime(session.starts_at), 'M j'))}</a>"
        )
    change = ""
    if entry.total_delta:
        change += f"total {_e(format_quantity(entry.total_delta, unit))} "
    if entry.used_delta:
        change += f"used {_e(format_quantity(entry.used_delta, unit))} "
    if entry.held_delta:
        change += f"reserved {_e(format_quantity(entry.held_delta, unit))}"
    actor = _e(entry.actor) if entry.actor else "System"
    running = _e(format_quantity(entry.running, unit))
    when = _e(date(localtime(entry.created_at), "M j, Y H:i"))
    return mark_safe(  # noqa: S308 (every value above is escaped)
        "\n  <tr>\n"
        f'    <td class="text-nowrap">{when}</td>\n'
        f"    <td>{what}</td>\n"
        f'    <td class="text-end text-nowrap">{change}</td>\n'
        f'    <td class="text-end text-nowrap">{running}</td>\n'
        f"    <td>{actor}</td>\n"
        f'    <td class="small">{_e(entry.reason)}</td>\n'
        "  </tr>\n  "
    )
