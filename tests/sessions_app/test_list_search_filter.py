"""The sessions list's student filter is a search field: typed text is resolved without
JavaScript, an ambiguous name is an error listing the matches, and the page shows the name."""

import pytest
from django.test import Client

from tests.factories import RelationshipFactory, SessionFactory, StudentFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_students(tenant_a: Tenant) -> Tenant:
    org = tenant_a.organization
    for name in ("Qwinn Avery", "Qwincy Bell"):
        student = StudentFactory(organization=org, name=name, email="")
        SessionFactory(
            relationship=RelationshipFactory(
                organization=org, student=student, provider=tenant_a.provider
            )
        )
    return tenant_a


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.relationship.student.name for s in response.context["page"]]


def url(tenant: Tenant) -> str:
    return f"/o/{tenant.organization.slug}/sessions/"


def test_typed_name_filters_the_list_and_is_shown_again(
    two_students: Tenant, admin_client_a: Client
) -> None:
    response = admin_client_a.get(url(two_students), {"student": "", "student_search": "avery"})
    assert listed(response) == ["Qwinn Avery"]
    quinn = response.context["page"][0].relationship.student
    html = response.content.decode()
    assert f'name="student" value="{quinn.public_id}"' in html
    assert 'name="student_search" value="Qwinn Avery"' in html


def test_an_ambiguous_name_lists_the_matches_and_filters_nothing(
    two_students: Tenant, admin_client_a: Client
) -> None:
    response = admin_client_a.get(url(two_students), {"student_search": "qwin"})
    assert response.context["filter"].form.errors["student"] == [
        "Several students match “qwin”: Qwincy Bell, Qwinn Avery. "
        "Type more of the name, or the email."
    ]


def test_a_provider_cannot_filter_by_a_student_not_theirs(
    two_students: Tenant, provider_client_a: Client
) -> None:
    StudentFactory(organization=two_students.organization, name="Zora Else")
    response = provider_client_a.get(url(two_students), {"student_search": "zora"})
    assert response.context["filter"].form.errors["student"] == ["No student matches “zora”."]


def test_the_filter_renders_no_option_per_student(
    two_students: Tenant, admin_client_a: Client
) -> None:
    html = admin_client_a.get(url(two_students)).content.decode()
    assert "Qwinn Avery</option>" not in html
    assert 'hx-get="/o/' in html
    assert "/relationships/search/students/" in html
