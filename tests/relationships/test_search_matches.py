"""The matches a search field asks for as one types: a few, of the people the member may see."""

import re

import pytest
from django.test import Client

from matchpal.search import MATCHES
from students.models import StudentStatus
from tests.factories import ProviderFactory, RelationshipFactory, StudentFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db


def matches(client: Client, tenant: Tenant, kind: str, **params: str) -> list[str]:
    response = client.get(f"/o/{tenant.organization.slug}/relationships/search/{kind}/", params)
    assert response.status_code == 200
    return re.findall(r'data-label="([^"]*)"', response.content.decode())


def test_an_admin_finds_the_centers_students_by_name_word_or_email(
    tenant_a: Tenant, tenant_b: Tenant, admin_client_a: Client
) -> None:
    org = tenant_a.organization
    StudentFactory(organization=org, name="Qwinn Avery", email="qa@example.net")
    StudentFactory(organization=org, name="Mara Qwist", email="mara@example.net")
    StudentFactory(organization=tenant_b.organization, name="Qwinn Other")
    assert matches(admin_client_a, tenant_a, "students", student_search="qwi") == [
        "Mara Qwist",
        "Qwinn Avery",
    ]
    assert matches(admin_client_a, tenant_a, "students", q="QA@") == ["Qwinn Avery"]
    assert matches(admin_client_a, tenant_a, "students", q="") == []


def test_a_provider_finds_only_the_people_of_their_own_relationships(
    tenant_a: Tenant, provider_client_a: Client
) -> None:
    org = tenant_a.organization
    mine = StudentFactory(organization=org, name="Qwinn Mine")
    StudentFactory(organization=org, name="Qwinn Theirs")
    RelationshipFactory(organization=org, student=mine, provider=tenant_a.provider)
    ProviderFactory(organization=org, name="Qwentin Else")
    assert matches(provider_client_a, tenant_a, "students", q="qwinn") == ["Qwinn Mine"]
    assert matches(provider_client_a, tenant_a, "providers", q="qw") == []
    assert matches(provider_client_a, tenant_a, "providers", q=tenant_a.provider.name[:4]) == [
        tenant_a.provider.name
    ]


def test_forms_that_pair_ask_for_active_people_only(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    org = tenant_a.organization
    StudentFactory(organization=org, name="Qwinn Active")
    StudentFactory(organization=org, name="Qwinn Gone", status=StudentStatus.INACTIVE)
    assert matches(admin_client_a, tenant_a, "students", q="qwinn") == [
        "Qwinn Active",
        "Qwinn Gone",
    ]
    assert matches(admin_client_a, tenant_a, "students", q="qwinn", active="1") == ["Qwinn Active"]


def test_a_few_matches_and_a_word_that_more_exist(tenant_a: Tenant, admin_client_a: Client) -> None:
    for n in range(MATCHES + 1):
        StudentFactory(organization=tenant_a.organization, name=f"Qwinn {n:02}")
    response = admin_client_a.get(
        f"/o/{tenant_a.organization.slug}/relationships/search/students/", {"q": "qwinn"}
    )
    assert response.content.decode().count("data-label=") == MATCHES
    assert "More match: type more of the name." in response.content.decode()


@pytest.mark.parametrize("text", ["\x00", "x" * 10_000, "nobody"])
def test_text_that_names_nobody_finds_nobody(
    tenant_a: Tenant, admin_client_a: Client, text: str
) -> None:
    assert matches(admin_client_a, tenant_a, "students", q=text) == []
