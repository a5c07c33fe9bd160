"""Every form and filter posts public ids (UUIDs), never integer primary keys.

The walk finds the project's form and filter classes by itself, so a form added later is
covered without anyone remembering to list it.
"""

import importlib
import pkgutil
from pathlib import Path

import django_filters
import pytest
from django import forms
from django.apps import apps
from django.conf import settings

from providers.forms import ProviderForm
from relationships.forms import ProposeForm
from tests.support import Tenant

ROOT = Path(settings.BASE_DIR)


def project_modules() -> list[str]:
    names = []
    for config in apps.get_app_configs():
        if not Path(config.path).is_relative_to(ROOT) or ".venv" in Path(config.path).parts:
            continue
        for module in pkgutil.walk_packages([config.path], prefix=f"{config.name}."):
            leaf = module.name.rsplit(".", 1)[-1]
            if leaf.startswith(("forms", "filters", "views")):  # forms declared in views too
                names.append(module.name)
    return names


def subclasses(base: type) -> set[type]:
    found = set()
    for sub in base.__subclasses__():
        found.add(sub)
        found |= subclasses(sub)
    return found


def project_classes(base: type) -> list[type]:
    for name in project_modules():
        importlib.import_module(name)
    roots = tuple(config.name for config in apps.get_app_configs())
    return sorted(
        (
            c
            for c in subclasses(base)
            if c.__module__.startswith(roots)
            and Path(importlib.import_module(c.__module__).__file__ or "").is_relative_to(ROOT)
            and ".venv" not in Path(importlib.import_module(c.__module__).__file__ or "").parts
        ),
        key=lambda c: f"{c.__module__}.{c.__qualname__}",
    )


def test_every_form_choice_field_posts_public_ids() -> None:
    classes = project_classes(forms.BaseForm)
    assert ProposeForm in classes  # the walk reaches the project's forms
    choosing = []
    for form_class in classes:
        for name, field in form_class.base_fields.items():
            if isinstance(field, forms.ModelChoiceField):
                choosing.append(f"{form_class.__qualname__}.{name}")
                assert field.to_field_name == "public_id", (
                    f"{form_class.__module__}.{form_class.__qualname__}.{name} posts integer keys"
                )
    assert "ProposeForm.student" in choosing


def test_every_filter_choice_posts_public_ids() -> None:
    classes = project_classes(django_filters.FilterSet)
    assert classes
    choosing = []
    for filterset in classes:
        for name, f in filterset.base_filters.items():
            if isinstance(
                f, django_filters.ModelChoiceFilter | django_filters.ModelMultipleChoiceFilter
            ):
                choosing.append(name)
                assert f.extra.get("to_field_name") == "public_id", (
                    f"{filterset.__module__}.{filterset.__qualname__}.{name} posts integer keys"
                )
    assert choosing


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", ["1", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "\x00", "9" * 40]
)
def test_an_integer_malformed_or_foreign_id_is_a_field_error(
    tenant_a: Tenant, tenant_b: Tenant, value: str
) -> None:
    org = tenant_a.organization
    data = {
        "student": value,
        "provider": str(tenant_a.provider.public_id),
        "service_type": str(org.service_types.first().public_id),  # type: ignore[union-attr]
        "amount": "1",
        "measure": "hours",
        "client_rate": "1.00",
        "token": "x",
    }
    form = ProposeForm(data, organization=org)
    assert not form.is_valid()
    assert "student" in form.errors
    foreign = {**data, "student": str(tenant_b.student.public_id)}
    form = ProposeForm(foreign, organization=org)
    assert not form.is_valid()
    assert "student" in form.errors


@pytest.mark.django_db
def test_a_public_id_is_accepted(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    form = ProposeForm({"student": str(tenant_a.student.public_id)}, organization=org)
    form.is_valid()
    assert "student" not in form.errors
    assert form.cleaned_data["student"] == tenant_a.student


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", ["1", "not-a-uuid", "\x00", "00000000-0000-0000-0000-000000000000"]
)
def test_a_bad_id_in_a_multiple_choice_is_a_field_error(tenant_a: Tenant, value: str) -> None:
    org = tenant_a.organization
    tutoring = str(org.service_types.first().public_id)  # type: ignore[union-attr]
    data = {"name": "Ravi", "email": "ravi@example.org", "default_pay_rate": "40"}
    form = ProviderForm({**data, "service_types": [tutoring, value]}, organization=org)
    assert not form.is_valid()
    assert list(form.errors) == ["service_types"]
    form = ProviderForm({**data, "service_types": [tutoring]}, organization=org)
    assert form.is_valid(), form.errors
