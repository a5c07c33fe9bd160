"""A second look before destroying: a one-click destructive POST without `confirm=yes` shows
what will happen and changes nothing; with it, the action happens. A foreign id is a 404
before any confirmation page."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from grants.models import Package
from matchpal import services
from matchpal.models import Invitation, Membership, Role, ServiceType
from providers.models import Provider, ProviderStatus
from students.models import Student, StudentStatus
from tests.support import Tenant, make_package


@dataclass
class Action:
    """One destructive action: the path for a tenant, the POST, and whether it has happened."""

    path: Callable[[Tenant], str]
    data: dict[str, str]
    done: Callable[[Tenant], bool]


def _student_membership(t: Tenant) -> Membership:
    return Membership.objects.get(user=t.student_user, organization=t.organization)


def _invitation(t: Tenant) -> Invitation:
    found = Invitation.objects.filter(organization=t.organization, email="maybe@example.com")
    return found.first() or services.invitation_create(
        actor=t.admin,
        organization=t.organization,
        email="maybe@example.com",
        role=Role.PROVIDER,
        base_url="http://testserver/",
    )


def _package(t: Tenant) -> Package:
    found = Package.objects.filter(organization=t.organization, name="Ten").first()
    return found or make_package(t.organization, name="Ten")


def _service_type(t: Tenant) -> ServiceType:
    return t.organization.service_types.order_by("pk").first()  # type: ignore[return-value]


ACTIONS = {
    "remove member": Action(
        lambda t: f"/o/{t.organization.slug}/members/{_student_membership(t).public_id}/remove/",
        {},
        lambda t: (
            not Membership.objects.filter(user=t.student_user, organization=t.organization).exists()
        ),
    ),
    "revoke invitation": Action(
        lambda t: f"/o/{t.organization.slug}/invitations/{_invitation(t).public_id}/revoke/",
        {},
        lambda t: _invitation(t).status == "revoked",
    ),
    "deactivate student": Action(
        lambda t: f"/o/{t.organization.slug}/students/{t.student.public_id}/status/",
        {"status": "inactive"},
        lambda t: Student.objects.get(pk=t.student.pk).status == StudentStatus.INACTIVE,
    ),
    "deactivate provider": Action(
        lambda t: f"/o/{t.organization.slug}/providers/{t.provider.public_id}/status/",
        {"status": "inactive"},
        lambda t: Provider.objects.get(pk=t.provider.pk).status == ProviderStatus.INACTIVE,
    ),
    "deactivate service type": Action(
        lambda t: f"/o/{t.organization.slug}/service-types/{_service_type(t).public_id}/active/",
        {"active": "0"},
        lambda t: not ServiceType.objects.get(pk=_service_type(t).pk).is_active,
    ),
    "stop offering a package": Action(
        lambda t: f"/o/{t.organization.slug}/packages/{_package(t).public_id}/active/",
        {"active": "0"},
        lambda t: not _package(t).is_active,
    ),
}


@pytest.mark.parametrize("name", ACTIONS)
def test_without_confirm_the_page_asks_and_nothing_changes(
    name: str, tenant_a: Tenant, admin_client_a: Client
) -> None:
    action = ACTIONS[name]
    path = action.path(tenant_a)

    response = admin_client_a.post(path, action.data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Are you sure?" in page
    assert 'name="confirm" value="yes"' in page
    assert "Cancel" in page
    for field, value in action.data.items():  # the confirm button posts the same action again
        assert f'name="{field}" value="{value}"' in page
    assert not action.done(tenant_a)


@pytest.mark.parametrize("name", ACTIONS)
def test_with_confirm_the_action_happens(
    name: str, tenant_a: Tenant, admin_client_a: Client
) -> None:
    action = ACTIONS[name]

    response = admin_client_a.post(action.path(tenant_a), {**action.data, "confirm": "yes"})

    assert response.status_code == 302
    assert action.done(tenant_a)


@pytest.mark.parametrize("name", ACTIONS)
def test_a_foreign_object_is_not_found_before_any_confirmation(
    name: str, tenant_a: Tenant, tenant_b: Tenant, admin_client_a: Client
) -> None:
    action = ACTIONS[name]
    foreign = action.path(tenant_b).replace(
        f"/o/{tenant_b.organization.slug}/", f"/o/{tenant_a.organization.slug}/", 1
    )

    assert admin_client_a.post(foreign, action.data).status_code == 404
    assert not action.done(tenant_b)
