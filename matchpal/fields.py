"""Form fields every form of the project uses for ids, dates and names.

Choice fields post a model's public id (a UUID), never its integer primary key. Integer keys
in a form tell anyone reading the page how many rows the center has and invite guessing; the
public id is what every URL already uses. A malformed or foreign UUID is an
ordinary "Select a valid choice" field error.

Date and date-time fields accept only the range of `matchpal.bounds` (1 Jan 2000 to 31 Dec of ten
years ahead); a test walks every form and filter so that no unbounded date field is added.
"""

import unicodedata
from datetime import datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.utils import timezone
from django_filters.constants import EMPTY_VALUES

from matchpal import bounds


class ListedChoiceIterator(forms.models.ModelChoiceIterator):  # type: ignore[type-arg]
    """The choices read in one plain query. Django's iterator reads them with `iterator()`,
    which on PostgreSQL is a server-side cursor held across the autocommit: DECLARE, FETCH and
    CLOSE, three round trips for a select of a few service types on every list page
    (docs/performance.md, "Per-request cost")."""

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class ListedChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A model choice (a select) whose options are read in one plain query."""

    iterator = ListedChoiceIterator


class ListedChoiceFilter(django_filters.ModelChoiceFilter):
    """A filter's select of a few model objects (service types), read in one plain query."""

    field_class = ListedChoiceField


class PublicIdChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    iterator = ListedChoiceIterator

    def __init__(self, queryset: Any, **kwargs: Any) -> None:
        kwargs.setdefault("to_field_name", "public_id")
        super().__init__(queryset, **kwargs)


class PublicIdMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def __init__(self, queryset: Any, **kwargs: Any) -> None:
        kwargs.setdefault("to_field_name", "public_id")
        super().__init__(queryset, **kwargs)


class BoundedDateField(forms.DateField):
    """A date between 1 Jan 2000 and 31 Dec of ten years ahead, shown as a date picker."""

    widget = forms.DateInput(attrs={"type": "date"})

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value not in self.empty_values and not bounds.in_range(value):
            raise forms.ValidationError(bounds.out_of_range(), code="date_out_of_range")

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if getattr(widget, "input_type", None) == "date":
            attrs |= {"min": bounds.first_day().isoformat(), "max": bounds.last_day().isoformat()}
        return attrs


class BoundedDateTimeField(forms.DateTimeField):
    """A date and time whose date is in the range of BoundedDateField."""

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value not in self.empty_values and not bounds.in_range(value):
            raise forms.ValidationError(bounds.out_of_range(), code="date_out_of_range")


# A date compared with a date-time column: the bound of the column in the current time zone.
DAY_BOUNDS = {"date__gte": "gte", "date__lte": "lt"}


class BoundedDateFilter(django_filters.DateFilter):
    """A filter date in the range of BoundedDateField (an error on the filter, never a 500).

    On a date-time column (`lookup_expr` "date__gte" or "date__lte") it keeps what `__date`
    means, the day in the current time zone, but compares the column itself with the day's
    start (or the next day's), so that an index on the column serves the filter; `__date`
    compares a function of the column, which no index holds (docs/indexes.md)."""

    field_class = BoundedDateField

    def filter(self, qs: Any, value: Any) -> Any:
        lookup = DAY_BOUNDS.get(self.lookup_expr)
        if lookup is None or value in EMPTY_VALUES:
            return super().filter(qs, value)
        day = value if lookup == "gte" else value + timedelta(days=1)
        start = timezone.make_aware(datetime.combine(day, time.min))
        return self.get_method(qs)(**{f"{self.field_name}__{lookup}": start})


ONE_LINE = "Enter this on one line, without line breaks or control characters."


class SingleLineField(forms.CharField):
    """Text that is shown on one line (a name, a short reason): surrounding whitespace is
    stripped, and a line break or any other control character inside is a field error, so the
    text can never break an email subject, a header or a one-line display."""

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in str(value)):
            raise forms.ValidationError(ONE_LINE, code="multiline")
