"""The time-zone select writes its options inline, and writes the same options Django would."""

import re

from django import forms

from matchpal.forms import LongSelect
from matchpal.models import TIME_ZONE_CHOICES


def options(html: str) -> list[str]:
    return re.findall(r"<option[^>]*>[^<]*</option>", html)


def test_the_long_select_writes_the_options_djangos_select_writes() -> None:
    attrs = {"id": "id_time_zone", "class": "form-select"}
    ours = LongSelect(choices=TIME_ZONE_CHOICES).render("time_zone", "Europe/Paris", attrs)
    django = forms.Select(choices=TIME_ZONE_CHOICES).render("time_zone", "Europe/Paris", attrs)

    assert len(options(ours)) == len(TIME_ZONE_CHOICES) > 300
    assert options(ours) == options(django)
    assert '<option value="Europe/Paris" selected>Europe/Paris</option>' in ours
    assert ours.split(">")[0] == django.split(">")[0]  # the same <select name id class>
