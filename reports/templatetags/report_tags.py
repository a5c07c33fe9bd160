"""How a report's figures read on its page: `{% cell column row %}` formats one value by its
column's kind, with the same rounding as the CSV export (`reports.exports.cell_value`)."""

from collections.abc import Mapping
from typing import Any

from django import template
from django.http import QueryDict

from matchpal.quantities import format_minutes, format_quantity
from reports.exports import cell_value
from reports.framework import Column, Kind

register = template.Library()


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
