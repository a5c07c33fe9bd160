"""What student and provider records share, tested for each kind: who may list them, 404s for
unknown, malformed and foreign ids, deactivation, invitations and their database guards. What
only one kind has is in tests/students/ and tests/providers/."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from matchpal.models import Invitation, Role
from providers import services as provider_services
from providers.models import Provider, ProviderStatus
from students import services as student_services
from students.models import Student, StudentStatus
from tests.factories import ProviderFactory, StudentFactory, UserFactory
from tests.support import Tenant, client_for, messages_of

pytestmark = pytest.mark.django_db

BASE_URL = "http://testserver/"


@dataclass(frozen=True)
class Kind:
    """One kind of record: its pages, model, factory, invitation service and role."""

    path: str  # the URL segment: "students" or "providers"
    model: type[Model]
    factory: Callable[..., Any]
    inactive: str
    role: str
    field: str  # the record's field on an invitation and attribute on a Tenant
    own_client: str  # the fixture signed in as tenant A's record of this kind
    invite: Callable[..., Invitation]
    same_org_constraint: str

    def list_url(self, slug: str = "alpha") -> str:
        return f"/o/{slug}/{self.path}/"

    def detail_url(self, record: Any) -> str:
        return f"/o/{record.organization.slug}/{self.path}/{record.public_id}/"

    def of(self, tenant: Tenant) -> Any:
        return getattr(tenant, self.field)

    def send_invitation(self, actor: Any, record: Any) -> Invitation:
        return self.invite(actor=actor, base_url=BASE_URL, **{self.field: record})


STUDENTS = Kind(
    path="students",
    model=Student,
    factory=StudentFactory,
    inactive=StudentStatus.INACTIVE,
    role=Role.STUDENT,
    field="student",
    own_client="student_client_a",
    invite=student_services.student_invite,
    same_org_constraint="invitation_student_same_org",
)
PROVIDERS = Kind(
    path="providers",
    model=Provider,
    factory=ProviderFactory,
    inactive=ProviderStatus.INACTIVE,
    role=Role.PROVIDER,
    field="provider",
    own_client="provider_client_a",
    invite=provider_services.provider_invite,
    same_org_constraint="invitation_provider_same_org",
)


@pytest.fixture(params=[STUDENTS, PROVIDERS], ids=["student", "provider"])
def kind(request) -> Kind:  # type: ignore[no-untyped-def]
    return request.param


def create_and_check(model, **fields):  # type: ignore[no-untyped-def]
    """Insert with the raw ORM, then check the deferred constraints at once.

    The composite tenant keys are DEFERRABLE INITIALLY DEFERRED; inside the test's transaction
    they would only be checked at a commit that never comes.
    """
    with transaction.atomic():
        row = model.objects.create(**fields)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return row


# --- Detail and list ----------------------------------------------------------------------------


def test_another_tenant_gets_404(kind: Kind, admin_client_b, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
    record = kind.of(tenant_a)
    assert admin_client_b.get(kind.detail_url(record)).status_code == 404
    assert admin_client_b.get(f"{kind.list_url('beta')}{record.public_id}/").status_code == 404


@pytest.mark.parametrize(
    "tail",
    [
        "not-a-uuid/",
        "12345/",
        "0000/edit/",
        "e0d5f0a1-zzzz-4bd7-9f71-0b5a7a2e3c11/",
        "e0d5f0a1-zzzz-4bd7-9f71-0b5a7a2e3c11/invite/",
    ],
)
def test_malformed_uuids_are_404(kind: Kind, admin_client_a, tail: str) -> None:  # type: ignore[no-untyped-def]
    assert admin_client_a.get(kind.list_url() + tail).status_code == 404


def test_unknown_uuid_is_404(kind: Kind, admin_client_a) -> None:  # type: ignore[no-untyped-def]
    unknown = f"{kind.list_url()}{uuid.uuid4()}/"
    assert admin_client_a.get(unknown).status_code == 404
    assert admin_client_a.post(unknown + "status/", {"status": "inactive"}).status_code == 404
    assert admin_client_a.post(unknown + "invite/").status_code == 404


def test_only_admins_list(kind: Kind, provider_client_a, student_client_a, admin_client_b) -> None:  # type: ignore[no-untyped-def]
    assert provider_client_a.get(kind.list_url()).status_code == 403
    assert student_client_a.get(kind.list_url()).status_code == 403
    assert admin_client_b.get(kind.list_url()).status_code == 404


# --- Deactivate and reactivate ----------------------------------------------------------------


def test_status_needs_post_and_an_admin(
    kind: Kind, admin_client_a, tenant_a: Tenant, request
) -> None:  # type: ignore[no-untyped-def]
    own_client = request.getfixturevalue(kind.own_client)
    record = kind.of(tenant_a)
    url = kind.detail_url(record) + "status/"

    assert admin_client_a.get(url).status_code == 405
    assert own_client.post(url, {"status": "inactive"}).status_code == 403
    record.refresh_from_db()
    assert record.status == "active"


# --- Invitations ----------------------------------------------------------------------------


def test_accepting_an_invitation_links_the_record(kind: Kind, tenant_a: Tenant) -> None:
    record = kind.factory(organization=tenant_a.organization, email="link@example.net")
    invitation = kind.send_invitation(tenant_a.admin, record)
    user = UserFactory(email="link@example.net")
    client = client_for(user)

    response = client.post(f"/invitations/{invitation.token}/")

    assert response["Location"] == "/o/alpha/"
    record.refresh_from_db()
    assert record.user == user
    assert client.get(kind.list_url() + "me/").context[kind.field] == record
    assert client.get(kind.detail_url(record)).status_code == 200


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_email", "Add an email address to Quiet Kim before inviting them."),
        ("has_login", "Quiet Kim can already sign in."),
        ("inactive", "Quiet Kim is inactive; reactivate them first."),
    ],
)
def test_invitation_refused(  # type: ignore[no-untyped-def]
    kind: Kind,
    admin_client_a,
    tenant_a: Tenant,
    django_capture_on_commit_callbacks,
    setup: str,
    message: str,
) -> None:
    record = kind.factory(
        organization=tenant_a.organization, name="Quiet Kim", email="quiet@example.net"
    )
    rows = kind.model.objects.filter(pk=record.pk)  # type: ignore[attr-defined]
    if setup == "no_email":
        rows.update(email="")
    elif setup == "has_login":
        rows.update(user=UserFactory())
    else:
        rows.update(status=kind.inactive)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_a.post(kind.detail_url(record) + "invite/")

    assert response["Location"] == kind.detail_url(record)
    assert messages_of(response) == [message]
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_only_admins_invite(  # type: ignore[no-untyped-def]
    kind: Kind, provider_client_a, student_client_a, admin_client_b, tenant_a: Tenant
) -> None:
    record = kind.factory(organization=tenant_a.organization)
    url = kind.detail_url(record) + "invite/"

    assert provider_client_a.post(url).status_code == 403
    assert student_client_a.post(url).status_code == 403
    assert admin_client_b.post(url).status_code == 404
    assert (
        admin_client_b.post(f"{kind.list_url('beta')}{record.public_id}/invite/").status_code == 404
    )
    assert not Invitation.objects.exists()


# --- Database guards (PostgreSQL) -----------------------------------------------------------


def test_an_invitation_cannot_point_at_another_tenants_record(
    kind: Kind, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with pytest.raises(IntegrityError, match=kind.same_org_constraint):
        create_and_check(
            Invitation,
            organization=tenant_a.organization,
            email="x@example.net",
            role=kind.role,
            **{kind.field: kind.of(tenant_b)},
        )

    assert not Invitation.objects.exists()
