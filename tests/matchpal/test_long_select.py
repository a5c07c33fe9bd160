"""The time-zone select writes its options in Python, and writes what Django's Select writes but
for white space between tags: the same attributes in the same order, the same options, the same
one selected."""

import re

import pytest
from django import forms

from matchpal.forms import LongSelect
from matchpal.models import TIME_ZONE_CHOICES


def options(html: str) -> list[str]:
    return re.findall(r"<option[^>]*>[^<]*</option>", html)


def tags(html: str) -> str:
    """The HTML without the white space between tags (Django's writes a blank line after each
    option), which a browser ignores inside a select."""
    return re.sub(r">\s+<", "><", html)


def test_the_long_select_writes_the_options_djangos_select_writes() -> None:
    attrs = {"id": "id_time_zone", "class": "form-select"}
    ours = LongSelect(choices=TIME_ZONE_CHOICES).render("time_zone", "Europe/Paris", attrs)
    django = forms.Select(choices=TIME_ZONE_CHOICES).render("time_zone", "Europe/Paris", attrs)

    assert len(options(ours)) == len(TIME_ZONE_CHOICES) > 300
    assert options(ours) == options(django)
    assert '<option value="Europe/Paris" selected>Europe/Paris</option>' in ours
    assert tags(ours) == tags(django)


@pytest.mark.parametrize(
    ("value", "attrs"),
    [
        (None, {"id": "id_tz", "required": True, "disabled": False}),
        ("Nowhere/Else", {"class": "form-select is-invalid", "aria-invalid": "true"}),
        (["b", "b"], {"data-x": '"quoted" & <angled>'}),
        (["", "a"], {"id": "id_tz"}),
        (1, {}),
    ],
)
def test_the_long_select_writes_attributes_escapes_and_selects_as_django_does(
    value: object, attrs: dict[str, object]
) -> None:
    choices = [("a", "A & co"), ("b", "<b>"), ("b", "second b"), (1, "one"), ("", "---")]

    ours = LongSelect(choices=choices).render("tz", value, attrs)

    assert tags(ours) == tags(forms.Select(choices=choices).render("tz", value, attrs))
