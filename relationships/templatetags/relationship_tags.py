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


@register.simple_tag
def paired_row(relationship: Relationship, detail: RowLink, log: RowLink) -> SafeString:
    """One `<li>` of the provider home's "My students", with the whitespace around it that the
    loop wrote (tests/reports/test_provider_home_rows.py renders the lists both ways;
    docs/performance.md, "The provider's home, again")."""
    public_id = relationship.public_id
    held = escaped(format_quantity(relationship.held, relationship.unit))  # type: ignore[attr-defined]
    return mark_safe(  # noqa: S308 (every value escaped)
        '\n  <li class="list-group-item d-flex flex-wrap justify-content-between'
        ' align-items-center gap-2">\n'
        f'    <span><a href="{with_id(detail, public_id)}">{escaped(relationship.student.name)}</a>'
        f" · {escaped(relationship.service_type.name)} · "
        f'<span class="text-secondary">{held} reserved</span></span>\n'
        f'    <a class="btn btn-sm btn-primary" href="{with_id(log, public_id)}">Log session</a>\n'
        "  </li>\n"
    )
