"""A refused proposal reads as a message on its field, the same on PostgreSQL and SQLite."""

import re
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from matchpal.constraints import violated_constraint
from relationships.models import Relationship
from tests.support import Tenant, past_grant, propose, service_type

pytestmark = pytest.mark.sqlite


def _form(tenant: Tenant) -> dict[str, str]:
    return {
        "student": str(tenant.student.public_id),
        "provider": str(tenant.provider.public_id),
        "service_type": str(service_type(tenant.organization).public_id),
        "amount": "1",
        "measure": "hours",
        "provider_pay_rate": "",
        "client_rate": "50.00",
        "token": uuid.uuid4().hex,
    }


def test_proposing_a_pair_already_proposed_is_a_field_error(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    past_grant(tenant_a.student, 600)
    propose(tenant_a, quantity=120)
    url = f"/o/{tenant_a.organization.slug}/relationships/new/"

    response = admin_client_a.post(url, _form(tenant_a))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors == {
        "provider": [
            f"{tenant_a.student.name} and {tenant_a.provider.name} already have a live "
            "tutoring relationship."
        ]
    }
    box = r'<input [^>]*name="provider_search"[^>]*class="[^"]*is-invalid'
    assert re.search(box, response.text)
    assert Relationship.objects.count() == 1


def test_each_database_names_the_broken_unique_constraint(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    first = propose(tenant_a, quantity=120)
    with pytest.raises(IntegrityError) as broken, transaction.atomic():
        Relationship.objects.create(
            organization=tenant_a.organization,
            student=first.student,
            provider=first.provider,
            service_type=first.service_type,
            unit=first.unit,
        )
    assert violated_constraint(broken.value) == "relationship_one_live_pairing"
