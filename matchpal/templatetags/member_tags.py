"""The members page's rows written in Python (`matchpal/members.html`): the loop wrote each row
through about forty template nodes, two `{% csrf_token %}` and a loop over the roles
(tests/matchpal/test_member_row_tag.py renders a page both ways; docs/performance.md, "The
lists and the provider's home within 15x")."""

from collections.abc import Iterable

from django import template
from django.template.defaulttags import CsrfTokenNode
from django.utils.safestring import SafeString, mark_safe

from matchpal.models import Membership
from matchpal.templatetags.matchpal_tags import RowLink, escaped, with_id

register = template.Library()


@register.simple_tag(takes_context=True)
def member_row(
    context: template.Context,
    member: Membership,
    change_role: RowLink,
    remove: RowLink,
    roles: Iterable[tuple[str, str]],
) -> SafeString:
    """One `<tr>` of the members list, with the whitespace around it that the loop wrote."""
    csrf = CsrfTokenNode().render(context)
    email = escaped(member.user.email)
    options = "".join(
        f'<option value="{escaped(value)}" {"selected" if value == member.role else ""}>'
        f"{escaped(label)}</option>"
        for value, label in roles
    )
    return mark_safe(  # noqa: S308 (every value is escaped)
        "\n    <tr>\n"
        f"      <td>{email}</td><td>{escaped(member.user.name)}</td>\n"
        "      <td>\n"
        f'        <form method="post" action="{with_id(change_role, member.public_id)}" '
        f'class="d-flex gap-2">{csrf}\n'
        '          <select name="role" class="form-select form-select-sm" '
        f'aria-label="Role of {email}">\n'
        f"            {options}\n"
        "          </select>\n"
        '          <button class="btn btn-sm btn-outline-primary" type="submit">Change</button>\n'
        "        </form>\n"
        "      </td>\n"
        "      <td>\n"
        f'        <form method="post" action="{with_id(remove, member.public_id)}">{csrf}\n'
        '          <button class="btn btn-sm btn-outline-danger" type="submit">Remove</button>\n'
        "        </form>\n"
        "      </td>\n"
        "    </tr>\n  "
    )
