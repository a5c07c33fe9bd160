"""The providers list's rows written in Python (`providers/list.html`): the loop's template
nodes a row, and a related manager and queryset a row to read the prefetched service types
(tests/providers/test_list_row_tag.py renders a list both ways; docs/performance.md, "The
lists within 15x /healthz")."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from matchpal.templatetags.matchpal_tags import RowLink, escaped, with_id
from providers.models import Provider

register = template.Library()

LOGIN = {
    True: '<span class="badge text-bg-success">Yes</span>',
    False: '<span class="badge text-bg-light">No</span>',
}


@register.simple_tag
def provider_row(provider: Provider, detail: RowLink) -> SafeString:
    """One `<tr>` of the list, with the whitespace around it that the loop wrote."""
    services = "".join(
        f'<span class="badge text-bg-info me-1">{escaped(service_type.name)}</span>'
        for service_type in provider.offered()
    )
    return mark_safe(  # noqa: S308 (every value is escaped)
        "\n    <tr>\n"
        f'      <td><a href="{with_id(detail, provider.public_id)}">{escaped(provider.name)}</a>'
        "</td>\n"
        f"      <td>{escaped(provider.email)}</td>\n"
        f"      <td>{services}</td>\n"
        f"      <td>{LOGIN[bool(provider.user_id)]}</td>\n"
        f"      <td>{escaped(provider.get_status_display())}</td>\n"
        "    </tr>\n  "
    )
