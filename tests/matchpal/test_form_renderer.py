"""The project's form renderer writes labels and the common widgets in Python: byte for byte
what Django's templates write, for each widget and value kind, and on every page of the app."""

import re
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.test import override_settings
from django.utils.functional import lazy
from django.utils.safestring import mark_safe

from matchpal.form_renderer import Renderer
from tests.isolation import KWARGS, ROLES, persona_client, tenant_routes
from tests.support import Tenant
from tests.test_role_matrix import EXPECTED

DJANGO = DjangoTemplates()
OURS = Renderer()

lazy_label = lazy(lambda: "Lazy & late", str)()

VALUES = [None, "", "plain", 'a "quoted" & <angled> value', mark_safe("<b>safe</b>"), 0, 7, 2.5]
VALUES += [Decimal("1.50"), True, False, lazy_label, ["a", "b"]]
ATTRS = [
    {},
    {"id": "id_x", "class": "form-control", "required": True, "disabled": False},
    {"data-x": '"q" & <a>', "aria-invalid": "true", "min": 0, "step": Decimal("0.25")},
    {"placeholder": lazy_label, "autofocus": True, "hx-get": mark_safe("/o/a/?x=1&y=2")},
]
INPUTS = [
    forms.TextInput,
    forms.NumberInput,
    forms.EmailInput,
    forms.URLInput,
    forms.PasswordInput,
    forms.HiddenInput,
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.CheckboxInput,
    forms.SearchInput,
    forms.TelInput,
    forms.ColorInput,
    forms.Textarea,
]
CHOICES = [
    ("", "---------"),
    ("a", "A & co"),
    (1, "one"),
    ("b", mark_safe("<i>b</i>")),
    ("Group <g>", [("c", "C"), ("d", lazy_label)]),
    (None, "none"),
]


def both(render) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return render(DJANGO), render(OURS)


def differences(widget: forms.Widget, values: list[object]) -> list[tuple[object, object]]:
    """(value, attrs) whose HTML differs between the two renderers."""
    return [
        (value, attrs)
        for value in values
        for attrs in ATTRS
        if widget.render("field", value, attrs, OURS)
        != widget.render("field", value, attrs, DJANGO)
    ]


@pytest.mark.parametrize("widget", INPUTS)
def test_an_input_is_written_as_djangos_template_writes_it(widget: type[forms.Widget]) -> None:
    assert differences(widget(), VALUES) == []


SELECT_VALUES = [None, "", "a", 1, "1", ["a", "c"], ["d"], "x", False]


@pytest.mark.parametrize(
    ("widget", "values"),
    [
        (forms.Select(choices=CHOICES), SELECT_VALUES),
        (forms.SelectMultiple(choices=CHOICES), SELECT_VALUES),
        (forms.NullBooleanSelect(), [None, True, False, "unknown", "2", "x"]),
    ],
)
def test_a_select_is_written_as_djangos_template_writes_it(
    widget: forms.Select, values: list[object]
) -> None:
    assert differences(widget, values) == []


class Sample(forms.Form):
    required_css_class = "required"

    name = forms.CharField(label="Name & title")
    kind = forms.ChoiceField(choices=[("a", "A")], required=False, label=lazy_label)
    when = forms.DateField(label="When?", required=False)
    plain = forms.CharField(required=False, label=mark_safe("<em>Safe</em> label"))


@pytest.mark.parametrize("auto_id", ["id_%s", "%s", False])
def test_a_label_is_written_as_djangos_template_writes_it(auto_id: object) -> None:
    def labels(renderer: DjangoTemplates) -> list[str]:
        form = Sample(auto_id=auto_id, renderer=renderer)
        return [
            form[field].label_tag() + form[field].label_tag(attrs={"class": "x"}, tag="legend")
            for field in form.fields
        ]

    django, ours = both(labels)

    assert ours == django


def test_a_widget_it_does_not_write_goes_to_djangos_template() -> None:
    radio = forms.RadioSelect(choices=[("a", "A"), ("b", "B")])

    django, ours = both(lambda renderer: radio.render("r", "a", {"id": "id_r"}, renderer))

    assert ours == django
    assert 'type="radio"' in ours


# Per request: the CSRF token (masked afresh each time) and the idempotency tokens of the forms
# that spend hours (a new one each render).
TOKENS = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": "|name="token" value=")[^"]+')


def page(client, path: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200, path
    return TOKENS.sub(r"\1…", response.content.decode())


def test_every_page_is_the_same_with_djangos_renderer(tenant_a: Tenant) -> None:
    """Each tenant page a role opens (the role matrix's GET 200s), rendered with this renderer
    and with Django's own: the same HTML."""
    compared = 0
    for route in tenant_routes():
        statuses = EXPECTED[route.name].get
        if 200 not in statuses or route.name.endswith("_csv") or route.name == "exports:download":
            continue
        role = ROLES[statuses.index(200)]
        client = persona_client(tenant_a, role)
        path = route.path(tenant_a.organization.slug, KWARGS.fill(route, tenant_a))
        ours = page(client, path)
        with override_settings(FORM_RENDERER="django.forms.renderers.DjangoTemplates"):
            django = page(client, path)
        assert ours == django, route.name
        compared += "<form" in ours
    assert compared > 30
