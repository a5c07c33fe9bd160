"""Choice labels read from a table made once per field (`matchpal.choices`) are Django's."""

from functools import partialmethod

from django.apps import apps
from django.db.models import Model
from django.utils import translation

from grants.models import GrantEntry
from sessions_app.models import Session


def djangos(instance: Model, name: str) -> object:
    field = instance._meta.get_field(name)
    return Model._get_FIELD_display(instance, field)  # type: ignore[attr-defined]


def test_every_label_of_every_choice_field_is_djangos() -> None:
    checked = 0
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not field.choices:
                continue
            display = getattr(model, f"get_{field.name}_display")
            for value, _ in [*field.flatchoices, ("not-a-choice", None)]:
                instance = model(**{field.attname: value})
                assert display(instance) == djangos(instance, field.name)
                checked += 1
    assert checked > 50


def test_the_labels_are_no_longer_djangos_partial_methods() -> None:
    assert not isinstance(Session.__dict__["get_kind_display"], partialmethod)
    assert not isinstance(GrantEntry.__dict__["get_kind_display"], partialmethod)


def test_a_label_follows_the_active_language() -> None:
    session = Session(status="cancelled")
    with translation.override("en"):
        english = session.get_status_display()
    assert english == djangos(session, "status")
    with translation.override("fr"):
        assert session.get_status_display() == djangos(session, "status")
