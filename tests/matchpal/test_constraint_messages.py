"""A constraint checked by a model form reads as a sentence on its field, never its name."""

import re

import pytest
from django.db import models

from grants.models import Package
from matchpal.constraints import MESSAGES, ReadableModelForm
from matchpal.models import ServiceType
from tests.support import Tenant, client_for


def _form_classes() -> list[type[ReadableModelForm]]:
    import students.forms  # noqa: F401  (the forms register as subclasses on import)

    found, todo = [], list(ReadableModelForm.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_model_form_reads_constraints_through_the_messages() -> None:
    import django.forms

    forms = _form_classes()
    assert forms
    for module in ("grants", "integrations.woocommerce", "matchpal", "providers", "students"):
        mod = __import__(f"{module}.forms", fromlist=["forms"])
        plain = [
            name
            for name, value in vars(mod).items()
            if isinstance(value, type)
            and issubclass(value, django.forms.ModelForm)
            and not issubclass(value, ReadableModelForm)
        ]
        assert plain == [], f"{module}.forms: {plain} show Django's constraint messages"
    for form in forms:
        for constraint in form._meta.model._meta.constraints:
            if isinstance(constraint, models.CheckConstraint):
                assert constraint.name in MESSAGES, constraint.name
    for _field, message in MESSAGES.values():
        assert "constraint" not in message.lower()


@pytest.mark.sqlite
def test_a_negative_package_price_is_a_field_error(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/packages/new/"
    tutoring = ServiceType.objects.get(organization=tenant_a.organization, name="Tutoring")
    response = client.post(
        url,
        {
            "name": "Ten hours",
            "amount": "10",
            "measure": "hours",
            "service_types": [tutoring.public_id],
            "validity_days": "180",
            "price": "-1.00",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"price": ["The price cannot be negative."]}
    assert "package_price_not_negative" not in response.text
    assert re.search(
        r'<input[^>]*name="price"[^>]*class="[^"]*is-invalid|'
        r'<input[^>]*class="[^"]*is-invalid[^"]*"[^>]*name="price"',
        response.text,
    )
    assert not Package.objects.exists()


@pytest.mark.sqlite
def test_a_sku_over_100_characters_is_a_field_error(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/packages/new/"
    tutoring = ServiceType.objects.get(organization=tenant_a.organization, name="Tutoring")
    data = {
        "name": "Ten hours",
        "amount": "10",
        "measure": "hours",
        "service_types": [tutoring.public_id],
        "validity_days": "180",
        "price": "10.00",
        "skus": "S" * 101,
    }

    response = client.post(url, data)

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "skus": ["A shop id or SKU has at most 100 characters; “SSSSSSSSSSSSSSSSSSSS…” has 101."]
    }
    assert not Package.objects.exists()
    assert client.post(url, {**data, "skus": "S" * 100}).status_code == 302


@pytest.mark.parametrize("days", ["0", "3651"])
def test_a_package_validity_outside_1_to_3650_days_is_a_field_error(
    tenant_a: Tenant, days: str
) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/packages/new/"
    tutoring = ServiceType.objects.get(organization=tenant_a.organization, name="Tutoring")
    data = {
        "name": "Ten hours",
        "amount": "10",
        "measure": "hours",
        "service_types": [tutoring.public_id],
        "validity_days": days,
        "price": "10.00",
    }

    response = client.post(url, data)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["validity_days"]
    assert not Package.objects.exists()
    assert client.post(url, {**data, "validity_days": "3650"}).status_code == 302
