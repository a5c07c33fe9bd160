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
