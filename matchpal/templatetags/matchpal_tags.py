from datetime import date, datetime, timedelta

from django import template
from django.forms import BoundField
from django.utils import timezone

from matchpal.quantities import format_quantity

register = template.Library()


@register.filter
def quantity(value: int | None, unit: str = "minutes") -> str:
    """`{{ grant.available|quantity:grant.unit }}` → "4 h 30 min" or "3 sessions"."""
    return format_quantity(value, unit)


@register.filter
def hours(value: int | None) -> str:
    return format_quantity(value, "minutes")


@register.filter
def last_day(value: datetime | None) -> date | None:
    """The last day an expiry leaves usable, in the current (the organization's) time zone: an
    expiry at midnight ends the day before, as the grant forms' "usable through that day"."""
    if value is None:
        return None
    return timezone.localtime(value - timedelta(microseconds=1)).date()


@register.simple_tag(takes_context=True)
def page_query(context: template.Context, number: int, param: str = "page") -> str:
    """`?…` for page `number` of a list paged by `param`, keeping the other query parameters
    (the filters, each value of a repeated key, and the other list's page where a page shows
    two lists)."""
    query = context["request"].GET.copy()
    query[param] = str(number)
    return "?" + query.urlencode()


@register.filter
def outlined(field: BoundField) -> str:
    """`{{ field|outlined }}`: the widget, with Bootstrap's `is-invalid` outline when the field
    has an error, so a refused value is marked where it was typed."""
    if not field.errors:
        return field.as_widget()
    classes = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{classes} is-invalid".strip()})
