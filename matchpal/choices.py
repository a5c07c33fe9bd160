"""Choice labels read from a table made once per field, not rebuilt on every call.

Django's `get_<field>_display()` builds a dict of the field's every choice (through
`make_hashable` of each) on every call: a list of 25 sessions showing kind and status built 50
of them per page, a ledger history one per row (issue 11's profiles, docs/performance.md "The
lists within 15x /healthz"). `cache_choice_labels()`, run once when the apps are ready, replaces
each such method Django made for a field with fixed choices by one reading a table built on its
first call; the label is still turned into text at each call, so a translated label follows
the active language. A method a model defines itself, and a field with choices computed by a
callable, keep Django's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partialmethod
from typing import Any

from django.apps import apps
from django.db.models import Field, Model
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


def _display(field: Field[Any, Any]) -> Callable[[Model], Any]:
    labels: dict[Any, Any] | None = None

    def display(self: Model) -> Any:
        nonlocal labels
        if labels is None:
            labels = dict(make_hashable(field.flatchoices))
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)

    display.__name__ = f"get_{field.name}_display"
    return display


def cache_choice_labels() -> None:
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            name = f"get_{field.name}_display"
            made_by_django = isinstance(model.__dict__.get(name), partialmethod)
            if made_by_django and isinstance(field.choices, list):
                setattr(model, name, _display(field))
