"""The relationships list's rows written in Python (`relationships/list.html`): the loop's
template nodes a row, written with the same filters (tests/relationships/test_list_row_tag.py
renders a list both ways; docs/performance.md, "The lists within 15x /healthz")."""

from django import template
from django.template.defaultfilters import add
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from matchpal.quantities import format_quantity
from matchpal.templatetags.dates import date
from matchpal.templatetags.matchpal_tags import RowLink, escaped, with_id
from relationships.models import Relationship

register = template.Library()

BADGES = {"paired": "success", "proposed": "warning"}


@register.simple_tag
def relationship_row(relationship: Relationship, detail: RowLink) -> SafeString:
    """One `<tr>` of the list, with the whitespace around it that the loop wrote."""
    r = relationship
    unit = r.unit
    held, consumed = r.held, r.consumed  # type: ignore[attr-defined]
    return mark_safe(  # noqa: S308 (every value is escaped)
        "\n  <tr>\n"
        f'    <td><a href="{with_id(detail, r.public_id)}">{escaped(r.student.name)}</a></td>\n'
        f"    <td>{escaped(r.provider.name)}</td><td>{escaped(r.service_type.name)}</td>\n"
        f'    <td><span class="badge text-bg-{BADGES.get(r.status, "secondary")}">'
        f"{escaped(r.get_status_display())}</span></td>\n"
        f'    <td class="text-end">{escaped(format_quantity(add(held, consumed), unit))}</td>\n'
        f'    <td class="text-end">{escaped(format_quantity(consumed, unit))}</td>\n'
        f'    <td class="text-end">{escaped(format_quantity(held, unit))}</td>\n'
        f'    <td class="text-nowrap">{escaped(date(localtime(r.created_at), "M j, Y"))}</td>\n'
        "  </tr>\n  "
    )
