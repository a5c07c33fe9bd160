from django import template

from matchpal.quantities import format_quantity

register = template.Library()


@register.filter
def quantity(value: int | None, unit: str = "minutes") -> str:
    """`{{ grant.available|quantity:grant.unit }}` → "4 h 30 min" or "3 sessions"."""
    return format_quantity(value, unit)


@register.filter
def hours(value: int | None) -> str:
    return format_quantity(value, "minutes")


@register.simple_tag(takes_context=True)
def page_query(context: template.Context, number: int, param: str = "page") -> str:
    """`?…` for page `number` of a list paged by `param`, keeping the other query parameters
    (the filters, and the other list's page where a page shows two lists)."""
    query = context["request"].GET.copy()
    query[param] = str(number)
    return "?" + query.urlencode()
