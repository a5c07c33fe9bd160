"""The form renderer (`FORM_RENDERER`): Django's, with the common widgets and labels written in
Python.

Every page with a form or a list filter renders each field's label and widget through a small
template of Django's (`label.html`; `text.html` including `input.html` including `attrs.html`;
`select.html` including `select_option.html` per option), each render building a context and
walking its nodes. Issue 11 measured it at about a quarter of a form page's Python work and a
tenth of a list's. `Renderer` writes those templates' output directly, the same text once
stripped as Django strips a rendered template (tests/matchpal/test_form_renderer.py renders
each case both ways, and every page of the app, and compares), and hands every other template
(radio buttons, checkbox lists, the search field, anything an app overrides) to Django's
templates as before.

What the templates do is kept exactly: `{{ x }}` is the template's localized, escaped value
(`_shown`), `{{ x|stringformat:'s' }}` the `%s` of the value, escaped unless it was safe
(`_formatted`), and an attribute is left out when it is `False`, written bare when `True`.
"""

import html
from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.http import HttpRequest
from django.utils.formats import localize
from django.utils.functional import Promise
from django.utils.safestring import SafeData, mark_safe
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # not in the stubs

_WIDGETS = "django/forms/widgets/"
# The widgets whose template is only `{% include "django/forms/widgets/input.html" %}` and a
# newline (the file input is left to its template).
_INPUTS = (
    "text",
    "number",
    "email",
    "url",
    "password",
    "hidden",
    "date",
    "datetime",
    "time",
    "checkbox",
    "search",
    "tel",
    "color",
)
_OPTION = f"{_WIDGETS}select_option.html"


def _shown(value: Any) -> str:
    """`{{ value }}` in an autoescaping template: localized, then escaped unless safe."""
    value = localize(template_localtime(value))
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: a safe value stays as it is (the filter is `is_safe`)."""
    written = str(value)
    if isinstance(value, SafeData):
        return written
    return html.escape(written)


def _attrs(attrs: Mapping[str, Any] | None) -> str:
    """`attrs.html`: ` name="value"` each, bare for `True`, none for `False`."""
    if not attrs:
        return ""
    return "".join(
        f" {_shown(name)}" if value is True else f' {_shown(name)}="{_formatted(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: Mapping[str, Any]) -> str:
    value = widget["value"]
    shown_value = f' value="{_formatted(value)}"' if value != None else ""  # noqa: E711 - as the template's `!=`
    return (
        f'<input type="{_shown(widget["type"])}" name="{_shown(widget["name"])}"'
        f"{shown_value}{_attrs(widget['attrs'])}>"
    )


def _input_widget(context: Mapping[str, Any]) -> str:
    return _input(context["widget"])


def _select(context: Mapping[str, Any]) -> str | None:
    widget = context["widget"]
    parts = [f'<select name="{_shown(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_shown(group_name)}">')
        for option in group_choices:
            if option["template_name"] != _OPTION:
                return None
            parts.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_shown(option['label'])}</option>\n"  # the included template's newline
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(context: Mapping[str, Any]) -> str:
    widget = context["widget"]
    value = _shown(widget["value"]) if widget["value"] else ""
    name, attrs = _shown(widget["name"]), _attrs(widget["attrs"])
    return f'<textarea name="{name}"{attrs}>\n{value}</textarea>'


def _label(context: Mapping[str, Any]) -> str:
    label = _shown(context["label"])
    if not context["use_tag"]:
        return label
    tag = _shown(context["tag"])
    return f"<{tag}{_attrs(context['attrs'])}>{label}</{tag}>"


_WRITERS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    **{f"{_WIDGETS}{name}.html": _input_widget for name in _INPUTS},
    f"{_WIDGETS}input.html": lambda context: _input(context["widget"]),
    f"{_WIDGETS}select.html": _select,
    f"{_WIDGETS}textarea.html": _textarea,
    "django/forms/label.html": _label,
}


class Renderer(DjangoTemplates):
    """Django's default renderer, writing the templates of `_WRITERS` in Python."""

    def render(
        self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None
    ) -> str:
        write = _WRITERS.get(template_name)
        written = write(context) if write is not None else None
        if written is None:
            return super().render(template_name, context, request)
        # Django's renderer strips what a template wrote; so does this one.
        return mark_safe(written.strip())  # noqa: S308 - every value in it is escaped as the template would
