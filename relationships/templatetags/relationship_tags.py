"""The relationships list's rows written in Python (`relationships/list.html`): the loop's
template nodes a row, written with the same filters (tests/relationships/test_list_row_tag.py
renders a list both ways; docs/performance.md, "The lists within 15x /healthz")."""

from collections.abc import Iterable

from django import template
from django.template.defaultfilters import add
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from matchpal.quantities import format_quantity
from matchpal.templatetags.dates import date
from matchpal.templatetags.matchpal_tags import RowLink, escaped, with_id
from relationships.models import Relationship
from relationships.selectors import Pairing

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
def paired_row(relationship: Pairing, detail: RowLink, log: RowLink) -> SafeString:
    """One `<li>` of the provider home's "My students", with the whitespace around it that the
    loop wrote (tests/reports/test_provider_home_rows.py renders the lists both ways;
    docs/performance.md, "The provider's home, again")."""
    public_id = relationship.public_id
    held = escaped(format_quantity(relationship.held, relationship.unit))
    return mark_safe(  # noqa: S308 (every value escaped)
        '\n  <li class="list-group-item d-flex flex-wrap justify-content-between'
        ' align-items-center gap-2">\n'
        f'    <span><a href="{with_id(detail, public_id)}">{escaped(relationship.student.name)}</a>'
        f" · {escaped(relationship.service_type.name)} · "
        f'<span class="text-secondary">{held} reserved</span></span>\n'
        f'    <a class="btn btn-sm btn-primary" href="{with_id(log, public_id)}">Log session</a>\n'
        "  </li>\n"
    )


@register.simple_tag(takes_context=True)
def proposal_row(
    context: template.Context,
    relationship: Pairing,
    detail: RowLink,
    accept: RowLink,
    decline: RowLink,
) -> SafeString:
    """One `<li>` of the provider home's proposals (Accept's form with its CSRF token, Decline
    through htmx), with the whitespace around it that the loop wrote
    (tests/reports/test_provider_home_rows.py renders the lists both ways)."""
    token = context.get("csrf_token")
    hidden = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escaped(token)}">'
        if token and token != "NOTPROVIDED"
        else ""
    )
    public_id = relationship.public_id
    name = escaped(relationship.student.name)
    held = escaped(format_quantity(relationship.held, relationship.unit))
    answer = ""
    if relationship.respond_by:
        answer = (
            ' <span class="text-secondary small">answer by '
            f"{escaped(date(localtime(relationship.respond_by), 'M j'))}</span>"
        )
    accept_url, decline_url = with_id(accept, public_id), with_id(decline, public_id)
    return mark_safe(  # noqa: S308 (every value escaped)
        '\n  <li class="list-group-item d-flex flex-wrap justify-content-between'
        ' align-items-center gap-2">\n'
        f'    <span><a href="{with_id(detail, public_id)}">{name}</a>'
        f" · {escaped(relationship.service_type.name)} · {held} reserved{answer}</span>\n"
        '    <span class="d-flex gap-2">\n'
        f'      <form method="post" action="{accept_url}" hx-post="{accept_url}"'
        f' hx-target="#work" hx-swap="outerHTML">{hidden}'
        '<button class="btn btn-sm btn-success" type="submit">Accept</button></form>\n'
        f'      <a class="btn btn-sm btn-outline-danger" href="{decline_url}"'
        f' hx-post="{decline_url}" hx-target="#work" hx-swap="outerHTML"'
        f' hx-confirm="Decline the proposal for {name}? The reserved hours go back to the'
        ' student.">Decline</a>\n'
        "    </span>\n"
        "  </li>\n"
    )


@register.simple_tag
def paired_rows(relationships: Iterable[Pairing], detail: RowLink, log: RowLink) -> SafeString:
    """`paired_row` of each, in one tag call (as `hours_tags.history_rows`): what `{% for %}`
    over the row tag wrote (tests/grants/test_list_tags.py renders both)."""
    return mark_safe(  # noqa: S308 (each row escapes its values)
        "".join(paired_row(relationship, detail, log) for relationship in relationships)
    )
