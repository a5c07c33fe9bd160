"""`escaped`, the rows' `{{ value }}`, writes what Django's `conditional_escape` writes."""

import uuid
from datetime import date
from decimal import Decimal

from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from matchpal.templatetags.matchpal_tags import escaped


class Shown:
    def __str__(self) -> str:
        return "<b>\"Tom\" & 'Jerry'</b>"


def test_escaped_is_conditional_escape() -> None:
    values = [
        "plain",
        "<script>alert('x')</script> & \"quotes\"",
        "",
        mark_safe("<em>already safe</em>"),
        gettext_lazy("Scheduled"),
        42,
        Decimal("12.50"),
        date(2026, 12, 4),
        uuid.UUID(int=7),
        None,
        Shown(),
    ]
    for value in values:
        assert escaped(value) == str(conditional_escape(value)), value
