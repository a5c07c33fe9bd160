"""Choosing one person among thousands: a search-as-you-type field instead of a select.

A select listing every student or provider of a large center is not a filter (10,000 options,
most of a page's weight and rendering time). `SearchChoiceField` shows a text box instead, and
posts two values: `<name>` (hidden: the chosen object's public id) and `<name>_search` (what the
box shows). With JavaScript, typing asks a tenant-scoped endpoint (`matches_url`) for a few
matches through htmx and choosing one fills the hidden id (`static/js/search-select.js`).
Without it the typed text is resolved here by the same rule (`find`), and a text that is
ambiguous or matches nobody is a field error naming the matches, so the form is shown again.

The rule (docs/lists.md): a name or email typed whole picks that person; otherwise the
matches are the names that start with the text or have a word that does, and the emails that
start with it, case-insensitively, ordered by name, at most `MATCHES` of them.
"""

import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.db.models.functions import Lower
from django.utils.datastructures import MultiValueDict
from django.utils.text import format_lazy

from matchpal.fields import PublicIdChoiceField

MATCHES = 10
MAX_TEXT = 150


def usable_text(text: object) -> str:
    """The typed text, or "" when it cannot name anyone (a control character such as NUL, which
    PostgreSQL text refuses, or more than a name's length)."""
    text = str(text or "").strip()
    if len(text) > MAX_TEXT or any(unicodedata.category(c) in {"Cc", "Zl", "Zp"} for c in text):
        return ""
    return text


def matching(queryset: QuerySet[Any], text: str) -> QuerySet[Any]:
    """`queryset` narrowed to the people `text` may mean, ordered by name (the search rule)."""
    text = usable_text(text)
    if not text:
        return queryset.none()
    return queryset.filter(
        Q(name__istartswith=text) | Q(name__icontains=f" {text}") | Q(email__istartswith=text)
    ).order_by("name", "pk")


def find(queryset: QuerySet[Any], text: str) -> list[Any]:
    """Who `text` names: a public id or a whole email or name alone when it picks one person
    (the email through the organization's unique index on its lower case), else up to
    `MATCHES + 1` matches, so a caller knows when there are more than it shows."""
    text = usable_text(text)
    if not text:
        return []
    try:
        return list(queryset.filter(public_id=uuid.UUID(text))[:1])
    except ValueError:
        pass
    whole = list(
        queryset.alias(email_lower=Lower("email"))
        .filter(Q(email_lower=text.lower()) | Q(name__iexact=text))
        .order_by("name", "pk")[:2]
    )
    if len(whole) == 1:
        return whole
    return list(matching(queryset, text)[: MATCHES + 1])


def label(obj: Any) -> str:
    """How a chosen person reads in the box and in the list of matches."""
    return str(obj.name)


def described(obj: Any) -> str:
    """A match told apart from its namesakes: the name and, when there is one, the email."""
    email = getattr(obj, "email", "")
    return f"{obj.name} ({email})" if email else str(obj.name)


@dataclass(frozen=True)
class Typed:
    """What the widget posts: the hidden public id and the text of the box (None when the
    request did not carry the box at all, e.g. a link `?student=<public id>`)."""

    public_id: str
    text: str | None


class Shown(str):
    """What the widget shows: the public id to keep in the hidden input (the string itself, so
    a bound field's value reads as the id, as for a select) and `text`, the box's text."""

    text: str

    def __new__(cls, public_id: str = "", text: str = "") -> "Shown":
        shown = super().__new__(cls, public_id)
        shown.text = text
        return shown

    @property
    def public_id(self) -> str:
        return str(self)


class SearchSelect(forms.Widget):
    """A text box with a hidden id, asking `matches_url` (set by the form, tenant-scoped) for
    matches as one types; with `submit` the form is sent once a match is chosen (filters)."""

    template_name = "matchpal/widgets/search_select.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"class": "form-control", **(attrs or {})})
        self.matches_url = ""
        self.submit = False

    def value_from_datadict(
        self, data: Mapping[str, Any], files: MultiValueDict[str, Any], name: str
    ) -> Typed:
        text = data.get(f"{name}_search")
        return Typed(public_id=str(data.get(name) or ""), text=None if text is None else str(text))

    def value_omitted_from_data(
        self, data: Mapping[str, Any], files: MultiValueDict[str, Any], name: str
    ) -> bool:
        return name not in data and f"{name}_search" not in data

    def format_value(self, value: Any) -> Any:
        return value if isinstance(value, Shown) else Shown()

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"] |= {"matches_url": self.matches_url, "submit": self.submit}
        return context


class SearchChoiceField(PublicIdChoiceField):
    """One object of `queryset` chosen through `SearchSelect` (see the module's docstring):
    cleans to the object, or to None when nothing is typed; `noun` names the kind in errors."""

    widget = SearchSelect
    default_error_messages = {
        "none": "No {noun} matches “{text}”.",
        "several": "Several {noun}s match “{text}”: {names}. Type more of the name, or the email.",
        "more": "More than {count} {noun}s match “{text}”, for example {names}. Type more.",
    }

    def __init__(
        self,
        queryset: Any,
        *,
        noun: str = "person",
        matches_url: str = "",
        submit: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("empty_label", None)
        super().__init__(queryset, **kwargs)
        self.noun = noun
        self.chosen: dict[Typed, Model] = {}
        self.bind(queryset=self.queryset, matches_url=matches_url, submit=submit)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        field = super().__deepcopy__(memo)
        field.chosen = {}
        return field

    def to_python(self, value: Any) -> Model | None:
        if not isinstance(value, Typed):
            value = Typed(public_id=str(value or ""), text=None)
        obj = self._by_id(value.public_id) if value.public_id else None
        text = None if value.text is None else value.text.strip()
        if text is None or (obj is not None and text == label(obj)):
            result = obj
        elif not text:
            result = None
        else:
            result = self._by_text(text)
        if result is not None:
            self.chosen[value] = result
        return result

    @property
    def scope(self) -> QuerySet[Any]:
        """What may be chosen (bound by the form to the member's organization)."""
        assert self.queryset is not None
        return self.queryset

    def _by_id(self, public_id: str) -> Model:
        try:
            return self.scope.get(public_id=uuid.UUID(public_id))  # type: ignore[no-any-return]
        except (ValueError, self.scope.model.DoesNotExist):
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None

    def _by_text(self, text: str) -> Model:
        found = find(self.scope, text)
        if len(found) == 1:
            return found[0]  # type: ignore[no-any-return]
        shown = usable_text(text) or text[:40]
        code = "several" if found else "none"
        if len(found) > MATCHES:
            code = "more"
        names = ", ".join(described(obj) for obj in found[:MATCHES])
        message = format_lazy(
            self.error_messages[code], noun=self.noun, text=shown, names=names, count=MATCHES
        )
        raise ValidationError(message, code=code)

    def prepare_value(self, value: Any) -> Shown:
        if isinstance(value, Typed):
            obj = self.chosen.get(value)
            if obj is not None:
                return Shown(str(obj.public_id), label(obj))  # type: ignore[attr-defined]
            return Shown("", usable_text(value.text) if value.text else "")
        if isinstance(value, Model):
            return Shown(str(value.public_id), label(value))  # type: ignore[attr-defined]
        if value in self.empty_values:
            return Shown()
        try:
            obj = self.scope.filter(public_id=uuid.UUID(str(value))).first()
        except ValueError:
            obj = None
        return Shown(str(obj.public_id), label(obj)) if obj is not None else Shown()

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.prepare_value(initial).public_id != self.prepare_value(data).public_id

    def bind(self, *, queryset: Any, matches_url: str, submit: bool = False) -> None:
        """Scope the field to what the member may choose, and where its matches come from."""
        if queryset is not None:
            self.queryset = queryset
        widget = self.widget
        assert isinstance(widget, SearchSelect)
        widget.matches_url = matches_url
        widget.submit = submit


class SearchChoiceFilter(django_filters.ModelChoiceFilter):
    """A filter on one person chosen through `SearchChoiceField`; the filter set gives it
    `queryset` and `extra["matches_url"]` in its `__init__`, before the form is built."""

    field_class = SearchChoiceField

    def __init__(self, *args: Any, noun: str = "person", **kwargs: Any) -> None:
        kwargs.setdefault("to_field_name", "public_id")
        super().__init__(*args, noun=noun, **kwargs)
