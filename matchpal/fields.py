"""Choice fields that post a model's public id (a UUID), never its integer primary key.

Integer keys in a form tell anyone reading the page how many rows the center has and invite
guessing; the public id is what every URL already uses. A malformed or foreign UUID is an
ordinary "Select a valid choice" field error.
"""

from typing import Any

from django import forms


class PublicIdChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def __init__(self, queryset: Any, **kwargs: Any) -> None:
        kwargs.setdefault("to_field_name", "public_id")
        super().__init__(queryset, **kwargs)


class PublicIdMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def __init__(self, queryset: Any, **kwargs: Any) -> None:
        kwargs.setdefault("to_field_name", "public_id")
        super().__init__(queryset, **kwargs)
