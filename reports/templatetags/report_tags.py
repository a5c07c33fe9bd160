"""How a report's figures read on its page: `{% cell column row %}` formats one value by its
column's kind, with the same rounding as the CSV export (`reports.exports.cell_value`). And the
warning lists' rows (`short_session_row`, `sign_pairing_row`)."""

from collections.abc import Callable, Mapping, Sequence
from datetime import date as date_type
from datetime import datetime
from typing import Any

from django import template
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import get_current_timezone, localtime

from matchpal.quantities import format_minutes, format_quantity
from matchpal.templatetags.dates import date
from matchpal.templatetags.matchpal_tags import RowLink, escaped, with_id
from reports.dashboard import PairingRow, ShortRow
from reports.exports import cell_value
from reports.framework import Column, Kind

register = template.Library()


# The warning lists' rows: each written in Python with the same filters as the loop it
# replaces, the whitespace around it included (tests/reports/test_warning_lists.py renders the
# lists both ways; docs/performance.md, "The check-in list and the warning lists").


@register.simple_tag
def short_session_row(row: ShortRow, detail: RowLink) -> SafeString:
    """One `<tr>` of the very short sessions."""
    usual = row.usual_minutes
    when = escaped(date(localtime(row.starts_at), "M j, Y H:i"))
    return mark_safe(  # noqa: S308 (every value is escaped)
        "<tr>\n"
        f'    <td class="text-nowrap"><a href="{with_id(detail, row.public_id)}">{when}</a>'
        "</td>\n"
        f"    <td>{escaped(row.student)}</td><td>{escaped(row.provider)}</td>"
        f"<td>{escaped(row.service_type)}</td>\n"
        f'    <td class="text-end">{escaped(format_quantity(row.duration_minutes, "minutes"))}'
        "</td>\n"
        '    <td class="text-end">'
        f"{escaped(format_quantity(usual, 'minutes')) if usual else '—'}</td>\n"
        "  </tr>"
    )


def _day(value: datetime | None) -> str:
    return escaped(date(localtime(value), "M j, Y")) if value is not None else ""


def _pairing_row(
    row: PairingRow, detail: RowLink, day: Callable[[datetime | None], str], status: str
) -> str:
    variation = row.gap_variation
    return (
        "<tr>\n"
        f'    <td><a href="{with_id(detail, row.public_id)}">{escaped(row.student)}</a></td>\n'
        f"    <td>{escaped(row.provider)}</td><td>{escaped(row.service_type)}</td>"
        f"<td>{status}</td>\n"
        f'    <td class="text-nowrap">{day(row.paired_at) or "—"}</td>\n'
        f'    <td class="text-end">{escaped(row.completed or 0)}</td>\n'
        f'    <td class="text-nowrap">{day(row.last_session_at) or "never"}</td>\n'
        '    <td class="text-end">'
        f"{'—' if variation is None else f'{escaped(variation)} %'}</td>\n"
        "  </tr>"
    )


@register.simple_tag
def sign_pairing_row(row: PairingRow, detail: RowLink) -> SafeString:
    """One `<tr>` of a pairings' sign."""
    return mark_safe(  # noqa: S308 (every value is escaped)
        _pairing_row(row, detail, _day, escaped(row.status_label))
    )


@register.simple_tag
def sign_pairing_rows(rows: Sequence[PairingRow], detail: RowLink) -> SafeString:
    """A page of a pairings' sign, the text of `{% for r in rows %}{% sign_pairing_row r
    detail %}` and a new line after each row: the current time zone looked up once, each day
    and each status written once per page (most of a row's time went to them)."""
    zone = get_current_timezone()
    days: dict[date_type, str] = {}
    labels: dict[str, str] = {}

    def day(value: datetime | None) -> str:
        if value is None:
            return ""
        local = value.astimezone(zone)  # `localtime(value)`
        key = local.date()
        text = days.get(key)
        if text is None:
            text = days[key] = escaped(date(local, "M j, Y"))
        return text

    written = []
    for row in rows:
        status = labels.get(row.status)
        if status is None:
            status = labels[row.status] = escaped(row.status_label)
        written.append(_pairing_row(row, detail, day, status))
        written.append("\n  ")
    return mark_safe("".join(written))  # noqa: S308 (every value is escaped)


@register.simple_tag
def cell(column: Column, row: Mapping[str, Any] | None) -> str:
    if row is None:
        return ""
    value = cell_value(column, column.value(row))
    if value is None:
        return "—"
    if column.kind == Kind.TEXT:
        return str(value)
    if column.kind in (Kind.MINUTES, Kind.AVERAGE):
        return format_minutes(value)
    if column.kind == Kind.SESSIONS:
        return format_quantity(value, "sessions")
    if column.kind == Kind.PERCENT:
        return f"{value:.1f} %"
    if column.kind == Kind.MONEY:
        return f"{value:,.2f}"
    return f"{value:,}"


@register.simple_tag(takes_context=True)
def same_filters(context: template.Context) -> str:
    """The page's query string (its filters) without the page's own parameters, for the
    export links: `?range=…&student=…`, or "" when there is none."""
    query: QueryDict = context["request"].GET.copy()
    return "?" + query.urlencode() if query else ""
