import html
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django import template
from django.forms import BoundField
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from matchpal.quantities import format_quantity
from matchpal.templatetags.urls import cached_reverse

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
    two lists). Percent-encoding leaves nothing HTML escaping would change but the `&` between
    parameters, which an attribute holds as it is."""
    query: QueryDict = context["request"].GET.copy()
    query[param] = str(number)
    return mark_safe("?" + query.urlencode())  # noqa: S308


@register.filter
def outlined(field: BoundField) -> str:
    """`{{ field|outlined }}`: the widget, with Bootstrap's `is-invalid` outline when the field
    has an error, so a refused value is marked where it was typed."""
    if not field.errors:
        return field.as_widget()
    classes = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{classes} is-invalid".strip()})


# The id `row_link` reverses with, then cuts out: no public id is all zeros.
_ROW_ID = uuid.UUID(int=0)


@dataclass(frozen=True)
class RowLink:
    """A URL reversed once per page with its row's public id left out: `prefix` + id + `suffix`
    (both already escaped for HTML)."""

    prefix: str
    suffix: str


@register.simple_tag
def row_link(name: str, *args: object) -> RowLink:
    """`{% row_link 'students:detail' organization.slug as detail %}` before a list's loop, then
    `{{ detail|with_id:s.public_id }}` in it: the URL `{% url name *args s.public_id %}` gives,
    reversed once for the page instead of once per row and link (issue 11: a list of 25 rows
    with four links each spent a tenth of its rendering in `reverse`). For URL names whose last
    argument is the row's public id."""
    url = (
        cached_reverse(name, (*args, _ROW_ID))
        if all(isinstance(arg, str) for arg in args)
        else reverse(name, args=[*args, _ROW_ID])
    )
    prefix, suffix = url.split(str(_ROW_ID))
    return RowLink(str(conditional_escape(prefix)), str(conditional_escape(suffix)))


@register.filter
def with_id(link: RowLink, public_id: uuid.UUID) -> SafeString:
    """The row's URL (see `row_link`); a UUID needs no escaping."""
    return mark_safe(f"{link.prefix}{uuid.UUID(str(public_id))}{link.suffix}")  # noqa: S308


def escaped(value: Any) -> str:
    """`{{ value }}` as a template writes it with autoescaping on: the rows written in Python
    (grants' `hours_tags`, `session_row`, `relationship_row`) escape every value with it.

    What `conditional_escape` answers (a value with `__html__` as it says, anything else
    `html.escape` of its text, quotes included), without its lazy-string wrapper and the
    `SafeString` made and turned back into text on each call: an hours page escapes about 400
    values (tests/matchpal/test_escaped.py compares the two)."""
    if type(value) is str:
        return html.escape(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))
