"""A student's personal data: the admin's download of everything about one student, and the
erasure that blanks who they were while every figure of the center stays (docs/privacy.md).
Who may open these pages: tests/test_role_matrix.py; another tenant's ids: the crawler."""

import json
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum

from grants.models import StudentBalance
from integrations.woocommerce.models import Order, Store
from matchpal.models import Invitation, Membership, Notification, Role, User
from notifications.models import Dispatch, EmailDelivery
from privacy.models import PersonalDataEvent
from privacy.selectors import FORMAT
from privacy.services import student_erase
from relationships.services import relationship_complete
from sessions_app.models import Session
from students.models import Student
from tests.factories import MembershipFactory, OrganizationFactory
from tests.query_pins import Page, assert_pinned_at_every_size, org_path
from tests.support import (
    Tenant,
    assert_reconciled,
    client_for,
    log,
    member,
    messages_of,
    paired,
    past_grant,
    snapshot,
    whole_hours_ago,
)

pytestmark = [pytest.mark.django_db]


def data_url(tenant: Tenant, student: Student, action: str = "") -> str:
    return f"/o/{tenant.organization.slug}/students/{student.public_id}/data/{action}"


def history(tenant: Tenant, sessions: int = 2) -> None:
    """The student persona: 10 h bought, a pairing with `sessions` hour-long sessions (the last
    with an internal note), the pairing completed; a shop order and an in-app notice."""
    minutes = max(600, 60 * sessions)
    past_grant(tenant.student, minutes, reference="Order #727")
    relationship = paired(tenant, quantity=minutes)
    for hours in range(1, sessions + 1):
        log(
            tenant,
            relationship,
            whole_hours_ago(hours * 2),
            60,
            notes=f"Fractions, part {hours}",
            internal_note="Needs more practice" if hours == sessions else "",
        )
    relationship_complete(
        membership=member(tenant.admin, tenant.organization), relationship=relationship
    )
    store = Store.objects.create(
        organization=tenant.organization, name="Shop", store_url="https://shop.alpha.example/"
    )
    Order.objects.create(
        organization=tenant.organization,
        store=store,
        order_id=727,
        number="727",
        status="completed",
        billing_email=tenant.student.email,
        billing_name="Maya Patel",
        student=tenant.student,
        payload={
            "id": 727,
            "billing": {"email": tenant.student.email, "phone": "555-0100"},
            "shipping": {"address_1": "1 Main St"},
            "customer_ip_address": "203.0.113.9",
            "line_items": [{"id": 315, "quantity": 1}],
        },
    )
    Notification.objects.create(
        organization=tenant.organization, user=tenant.student_user, text="Your session was logged"
    )
    dispatch = Dispatch.objects.create(
        organization=tenant.organization, kind="session_logged", object_key="privacy-test"
    )
    EmailDelivery.objects.create(
        organization=tenant.organization,
        dispatch=dispatch,
        kind="session_logged",
        to=tenant.student.email,
        user=tenant.student_user,
        subject="Your session was logged",
        text="Fractions, part 1",
        html="<p>Fractions, part 1</p>",
    )


def download(tenant: Tenant, student: Student | None = None) -> dict:  # type: ignore[type-arg]
    response = client_for(tenant.admin).post(data_url(tenant, student or tenant.student, "export/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    return json.loads(response.content)


# --- The download ----------------------------------------------------------------------------


def test_the_download_holds_everything_about_the_student(tenant_a: Tenant) -> None:
    history(tenant_a)
    student = tenant_a.student
    Student.objects.filter(pk=student.pk).update(phone="555-0100", notes="Prefers mornings")

    response = client_for(tenant_a.admin).post(data_url(tenant_a, student, "export/"))

    assert response["Content-Disposition"] == (
        f'attachment; filename="alpha-student-{student.public_id}.json"'
    )
    data = json.loads(response.content)
    assert data["format"] == FORMAT
    assert data["organization"] == {"name": "Alpha Tutoring", "slug": "alpha"}
    profile = data["student"]
    assert (profile["public_id"], profile["name"], profile["email"]) == (
        str(student.public_id),
        student.name,
        "student@alpha.example",
    )
    assert (profile["phone"], profile["notes"], profile["user"]) == (
        "555-0100",
        "Prefers mornings",
        "student@alpha.example",
    )
    assert data["login"]["email"] == "student@alpha.example"
    [grant] = data["grants"]
    assert (grant["total"], grant["used"], grant["held"], grant["reference"]) == (
        600,
        120,
        0,
        "Order #727",
    )
    assert [entry["kind"] for entry in data["ledger"]] == [
        "credit",
        "hold",
        "consume",
        "consume",
        "release",
    ]
    assert [entry["used_delta"] for entry in data["ledger"]] == [0, 0, 60, 60, 0]
    assert [r["status"] for r in data["relationships"]] == ["completed"]
    assert data["relationships"][0]["provider"] == str(tenant_a.provider.public_id)
    assert [change["to_status"] for change in data["relationship_history"]] == [
        "proposed",
        "paired",
        "completed",
    ]
    assert [s["notes"] for s in data["sessions"]] == ["Fractions, part 2", "Fractions, part 1"]
    assert [s["internal_note"] for s in data["sessions"]] == ["Needs more practice", ""]
    assert [s["charged_minutes"] for s in data["sessions"]] == [60, 60]
    # The student's notices and emails, not the admins' nor the provider's.
    notices = Notification.objects.filter(user=tenant_a.student_user)
    assert [n["text"] for n in data["notifications"]] == [n.text for n in notices.order_by("pk")]
    assert "Your session was logged" in [n["text"] for n in data["notifications"]]
    assert {e["to"] for e in data["emails"]} == {"student@alpha.example", student.guardian_email}
    assert ("Your session was logged", "Fractions, part 1") in [
        (e["subject"], e["text"]) for e in data["emails"]
    ]
    addresses = [student.email, student.guardian_email]
    assert len(data["emails"]) == EmailDelivery.objects.filter(to__in=addresses).count()
    [order] = data["shop_orders"]
    assert (order["number"], order["billing_name"]) == ("727", "Maya Patel")
    assert [e["action"] for e in data["personal_data_events"]] == ["export"]


def test_the_download_leaves_out_secrets_and_integer_keys(tenant_a: Tenant) -> None:
    history(tenant_a)
    Invitation.objects.create(
        organization=tenant_a.organization,
        email="student@alpha.example",
        role=Role.STUDENT,
        student=tenant_a.student,
        invited_by=tenant_a.admin,
    )

    data = download(tenant_a)

    [invitation] = data["invitations"]
    assert invitation["email"] == "student@alpha.example"
    assert invitation["invited_by"] == "admin@alpha.example"
    rows = [data["student"], data["login"]] + [
        row for value in data.values() if isinstance(value, list) for row in value
    ]
    left_out = {"id", "organization", "password", "token", "idempotency_key"}
    assert [sorted(left_out & set(row)) for row in rows if left_out & set(row)] == []
    assert tenant_a.student_user.password not in json.dumps(data)
    assert Invitation.objects.get().token not in json.dumps(data)


def test_each_download_is_recorded_with_who_and_when(tenant_a: Tenant) -> None:
    download(tenant_a)
    download(tenant_a)

    events = PersonalDataEvent.objects.filter(student=tenant_a.student)
    assert [(e.action, e.actor, e.actor_email) for e in events] == [
        ("export", tenant_a.admin, "admin@alpha.example"),
        ("export", tenant_a.admin, "admin@alpha.example"),
    ]
    page = client_for(tenant_a.admin).get(data_url(tenant_a, tenant_a.student))
    assert page.content.decode().count("<td>admin@alpha.example</td>") == 2


@pytest.mark.parametrize("sessions", [1, 12])
def test_the_download_runs_the_same_queries_whatever_the_history(
    tenant_a: Tenant, sessions: int, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    history(tenant_a, sessions=sessions)
    client = client_for(tenant_a.admin)
    path = data_url(tenant_a, tenant_a.student, "export/")
    # Request (1: the user with its membership), the student (1), the event (1 insert in a
    # savepoint: 3), one per section (13: profile, login, grants, ledger, relationships and
    # their history, sessions and their history, invitations, notices, emails, orders, events).
    with django_assert_num_queries(18):
        assert client.post(path).status_code == 200


# --- Erasure ---------------------------------------------------------------------------------


def center_figures(tenant: Tenant) -> tuple[object, ...]:
    """What the center's reports add up: every balance column and ledger entry count, each
    session's figures and the money summed, the students' balance summaries."""
    sessions = Session.objects.with_money(organization=tenant.organization)
    return (
        snapshot(),
        list(
            Session.objects.order_by("pk").values_list(
                "pk", "status", "duration_minutes", "charged_minutes", "relationship_id"
            )
        ),
        sessions.aggregate(
            n=Count("pk"),
            minutes=Sum("money_minutes"),
            client=Sum("client_amount"),
            earnings=Sum("provider_earnings"),
        ),
        list(StudentBalance.objects.order_by("pk").values()),
    )


def erase(tenant: Tenant, student: Student, *, confirm: bool = True):  # type: ignore[no-untyped-def]
    data = {"confirm": "yes"} if confirm else {}
    return client_for(tenant.admin).post(data_url(tenant, student, "erase/"), data)


def test_erasing_asks_first_and_changes_nothing_until_confirmed(tenant_a: Tenant) -> None:
    history(tenant_a)

    response = erase(tenant_a, tenant_a.student, confirm=False)

    assert response.status_code == 200
    assert "This cannot be undone" in response.content.decode()
    student = Student.objects.get(pk=tenant_a.student.pk)
    assert (student.name, student.user_id) == (tenant_a.student.name, tenant_a.student_user.pk)
    assert not PersonalDataEvent.objects.exists()


def test_erasing_blanks_the_person_and_keeps_every_figure(tenant_a: Tenant) -> None:
    history(tenant_a)
    student = tenant_a.student
    Student.objects.filter(pk=student.pk).update(
        phone="555-0100", guardian_name="Ravi Patel", guardian_email="ravi@example.net"
    )
    before = center_figures(tenant_a)
    signed_in = client_for(tenant_a.student_user)
    name = student.name

    response = erase(tenant_a, student)

    assert response.status_code == 302
    assert response["Location"] == data_url(tenant_a, student)
    student.refresh_from_db()
    label = f"Erased student {str(student.public_id)[:8]}"
    assert (student.name, student.email, student.phone) == (label, "", "")
    assert (student.guardian_name, student.guardian_email, student.notes) == ("", "", "")
    assert (student.user_id, student.status) == (None, "inactive")
    # The figures: the same rows, the same totals, the ledger still reconciles.
    assert center_figures(tenant_a) == before
    assert center_figures(tenant_a)[2]["client"] is not None
    assert_reconciled()
    # The login belonged to this center only: closed for good, signed out.
    user = User.objects.get(pk=tenant_a.student_user.pk)
    assert (user.email, user.name, user.is_active) == (
        f"erased-{user.pk}@erased.invalid",
        "",
        False,
    )
    assert not user.has_usable_password()
    assert not Membership.objects.filter(user=user).exists()
    assert not Notification.objects.filter(user=user).exists()
    assert not EmailDelivery.objects.filter(to__iexact="student@alpha.example").exists()
    assert not EmailDelivery.objects.filter(user=user).exists()
    assert EmailDelivery.objects.exists()  # the others' stay
    assert signed_in.get("/o/alpha/").status_code == 302  # back to the sign-in page
    # The shop order keeps its lines, not the customer.
    order = Order.objects.get()
    assert (order.billing_email, order.billing_name, order.student_id) == ("", "", student.pk)
    assert order.payload == {"id": 727, "line_items": [{"id": 315, "quantity": 1}]}
    # Who and when.
    [event] = PersonalDataEvent.objects.filter(action="erase")
    assert (event.student, event.actor, event.actor_email) == (
        student,
        tenant_a.admin,
        "admin@alpha.example",
    )
    assert messages_of(response) == [f"{name}'s personal data was erased."]
    page = client_for(tenant_a.admin).get(response["Location"])
    assert "has been erased" in page.content.decode()


def test_a_login_of_another_center_too_only_leaves_this_one(tenant_a: Tenant) -> None:
    other = OrganizationFactory(name="Gamma", slug="gamma")
    MembershipFactory(user=tenant_a.student_user, organization=other, role=Role.STUDENT)

    erase(tenant_a, tenant_a.student)

    user = User.objects.get(pk=tenant_a.student_user.pk)
    assert (user.email, user.is_active) == ("student@alpha.example", True)
    assert list(Membership.objects.filter(user=user).values_list("organization__slug")) == [
        ("gamma",)
    ]


def test_a_student_with_a_pairing_still_going_is_not_erased(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    paired(tenant_a)
    name = tenant_a.student.name

    response = erase(tenant_a, tenant_a.student)

    assert response.status_code == 302
    assert messages_of(response) == [
        f"{name} still has 1 relationship proposed or paired: complete or cancel it before erasing."
    ]
    assert Student.objects.get(pk=tenant_a.student.pk).name == name
    assert not PersonalDataEvent.objects.exists()


def test_a_student_is_erased_once(tenant_a: Tenant) -> None:
    erase(tenant_a, tenant_a.student)

    response = erase(tenant_a, tenant_a.student)

    assert messages_of(response) == ["This student's personal data was already erased."]
    assert PersonalDataEvent.objects.filter(action="erase").count() == 1


def test_the_database_keeps_one_erasure_per_student(tenant_a: Tenant) -> None:
    student_erase(
        actor=tenant_a.admin, organization=tenant_a.organization, student=tenant_a.student
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonalDataEvent.objects.create(
            organization=tenant_a.organization,
            student=tenant_a.student,
            action="erase",
            actor_email="x@example.com",
        )


# --- The page --------------------------------------------------------------------------------


def test_the_students_page_links_to_its_personal_data(tenant_a: Tenant) -> None:
    page = client_for(tenant_a.admin).get(f"/o/alpha/students/{tenant_a.student.public_id}/")
    assert data_url(tenant_a, tenant_a.student) in page.content.decode()


def grow_events(tenant: Tenant, n: int) -> None:
    for _ in range(PersonalDataEvent.objects.count(), n):
        PersonalDataEvent.objects.create(
            organization=tenant.organization,
            student=tenant.student,
            action="export",
            actor=tenant.admin,
            actor_email=tenant.admin.email,
        )


def shows_events(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.content.decode().count("<td>Exported</td>") == min(n, 20)


def test_the_page_runs_the_same_queries_whatever_its_record(
    tenant_a: Tenant, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    page = Page(
        Role.ADMIN,
        org_path(lambda t: f"students/{t.student.public_id}/data/"),
        grow_events,
        shows_events,
    )
    # Request (1: the user with its membership), the student (1), its record (1), erased or
    # not (1).
    assert_pinned_at_every_size(
        "privacy:student_data", page, 4, tenant_a, django_assert_num_queries
    )


def test_money_is_kept_to_the_cent(tenant_a: Tenant) -> None:
    history(tenant_a)
    before = Session.objects.with_money(organization=tenant_a.organization).aggregate(
        s=Sum("client_amount")
    )["s"]
    erase(tenant_a, tenant_a.student)
    after = Session.objects.with_money(organization=tenant_a.organization).aggregate(
        s=Sum("client_amount")
    )["s"]
    assert after == before
    assert isinstance(after, Decimal)
