"""Student records: pages, filters, the rules of their services and their database guards."""

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client

from matchpal.errors import ConflictError, DomainError
from matchpal.models import Invitation, Role
from students import services
from students.models import Student, StudentStatus
from students.services import DuplicateStudentEmail
from tests.factories import MembershipFactory, StudentFactory, UserFactory
from tests.support import Tenant, client_for, messages_of

pytestmark = pytest.mark.django_db

LIST = "/o/alpha/students/"
NEW = "/o/alpha/students/new/"
BASE_URL = "http://testserver/"


def detail_url(student: Student) -> str:
    return f"/o/{student.organization.slug}/students/{student.public_id}/"


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Iris Chen",
        "email": "iris.chen@example.net",
        "phone": "555-0101",
        "guardian_name": "Mei Chen",
        "guardian_email": "mei.chen@example.net",
        "notes": "Prefers mornings.",
    }
    data.update(overrides)
    return data


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


# --- Create, edit, detail ---------------------------------------------------------------------


class TestCreate:
    def test_admin_creates_a_student(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        assert admin_client_a.get(NEW).status_code == 200

        response = admin_client_a.post(
            NEW, form_data(name="  Iris Chen ", email=" iris.chen@example.net ")
        )

        student = Student.objects.get(
            organization=tenant_a.organization, email="iris.chen@example.net"
        )
        assert response.status_code == 302
        assert response["Location"] == detail_url(student)
        assert messages_of(response) == ["Iris Chen was added."]
        assert (
            student.name,
            student.phone,
            student.guardian_name,
            student.guardian_email,
            student.notes,
            student.status,
            student.user,
        ) == (
            "Iris Chen",
            "555-0101",
            "Mei Chen",
            "mei.chen@example.net",
            "Prefers mornings.",
            StudentStatus.ACTIVE,
            None,
        )

    def test_only_a_name_is_required(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        response = admin_client_a.post(NEW, {"name": "No Email"})

        assert response.status_code == 302
        student = Student.objects.get(name="No Email")
        assert student.email == ""

    def test_two_students_without_email_are_allowed(self, admin_client_a) -> None:  # type: ignore[no-untyped-def]
        admin_client_a.post(NEW, {"name": "First"})
        admin_client_a.post(NEW, {"name": "Second"})

        assert Student.objects.filter(email="").count() == 2

    @pytest.mark.parametrize(
        ("data", "errors"),
        [
            (form_data(name=""), {"name": ["This field is required."]}),
            (form_data(email="not-an-email"), {"email": ["Enter a valid email address."]}),
            (
                form_data(name="", guardian_email="nope"),
                {
                    "name": ["This field is required."],
                    "guardian_email": ["Enter a valid email address."],
                },
            ),
        ],
    )
    def test_invalid_form_re_renders_with_messages(
        self,
        admin_client_a,
        tenant_a: Tenant,  # type: ignore[no-untyped-def]
        data,
        errors,
    ) -> None:
        response = admin_client_a.post(NEW, data)

        assert response.status_code == 200
        assert response.context["form"].errors == errors
        html = response.content.decode()
        for messages in errors.values():
            for message in messages:
                assert message in html
        assert Student.objects.filter(organization=tenant_a.organization).count() == 1

    def test_duplicate_email_in_the_organization_is_refused(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        StudentFactory(organization=tenant_a.organization, email="taken@example.net")

        response = admin_client_a.post(NEW, form_data(email="TAKEN@example.net"))

        assert response.status_code == 200
        message = str(DuplicateStudentEmail("TAKEN@example.net"))
        assert message == "Another student of this organization already uses TAKEN@example.net."
        assert response.context["form"].errors == {"email": [message]}
        assert message in response.content.decode()
        assert Student.objects.filter(organization=tenant_a.organization).count() == 2
        assert not Student.objects.filter(name="Iris Chen").exists()

    def test_same_email_in_another_organization_is_allowed(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
        tenant_b: Tenant,
    ) -> None:
        StudentFactory(organization=tenant_b.organization, email="shared@example.net")

        response = admin_client_a.post(NEW, form_data(email="shared@example.net"))

        assert response.status_code == 302
        assert Student.objects.filter(email="shared@example.net").count() == 2

    def test_other_roles_and_tenants_cannot_create(
        self,
        provider_client_a,
        student_client_a,  # type: ignore[no-untyped-def]
        admin_client_b,
        tenant_a: Tenant,
    ) -> None:
        assert provider_client_a.post(NEW, form_data()).status_code == 403
        assert student_client_a.post(NEW, form_data()).status_code == 403
        assert admin_client_b.post(NEW, form_data()).status_code == 404
        response = Client().post(NEW, form_data())
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
        assert not Student.objects.filter(name="Iris Chen").exists()


class TestServices:
    @pytest.mark.sqlite
    def test_duplicate_email_raises_the_domain_error(self, tenant_a: Tenant) -> None:
        with pytest.raises(DuplicateStudentEmail) as excinfo:
            services.student_create(
                actor=tenant_a.admin,
                organization=tenant_a.organization,
                name="Copy",
                email="Student@Alpha.example",
            )

        assert excinfo.value.field == "email"
        assert str(excinfo.value) == (
            "Another student of this organization already uses Student@Alpha.example."
        )
        assert isinstance(excinfo.value, DomainError)

    def test_update_refuses_fields_that_are_not_editable(self, tenant_a: Tenant) -> None:
        with pytest.raises(ValueError, match=r"Not editable: \['status', 'user'\]"):
            services.student_update(
                actor=tenant_a.admin, student=tenant_a.student, status="inactive", user="x"
            )

    def test_the_database_refuses_a_duplicate_email_whatever_its_case(
        self, tenant_a: Tenant
    ) -> None:
        with (
            pytest.raises(IntegrityError, match="student_email_unique_in_org"),
            transaction.atomic(),
        ):
            Student.objects.create(
                organization=tenant_a.organization, name="Raw", email="STUDENT@alpha.example"
            )

    def test_one_record_per_login_in_an_organization(self, tenant_a: Tenant) -> None:
        with (
            pytest.raises(IntegrityError, match="student_one_record_per_user"),
            transaction.atomic(),
        ):
            Student.objects.create(
                organization=tenant_a.organization, name="Twin", user=tenant_a.student_user
            )


class TestEdit:
    def test_admin_edits_a_student(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        student = tenant_a.student
        url = detail_url(student) + "edit/"
        assert admin_client_a.get(url).context["form"].instance == student

        response = admin_client_a.post(
            url, form_data(name=" Renamed ", email="new@example.net", notes="")
        )

        assert response.status_code == 302
        assert response["Location"] == detail_url(student)
        assert messages_of(response) == ["Renamed was saved."]
        student.refresh_from_db()
        assert (student.name, student.email, student.notes, student.user) == (
            "Renamed",
            "new@example.net",
            "",
            tenant_a.student_user,
        )

    def test_duplicate_email_on_edit_is_refused_and_nothing_saved(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        other = StudentFactory(organization=tenant_a.organization, email="other@example.net")
        url = detail_url(tenant_a.student) + "edit/"
        before = Student.objects.filter(pk=tenant_a.student.pk).values().get()

        response = admin_client_a.post(url, form_data(name="Changed", email="Other@example.net"))

        assert response.status_code == 200
        assert response.context["form"].errors == {
            "email": [str(DuplicateStudentEmail("Other@example.net"))]
        }
        assert Student.objects.filter(pk=tenant_a.student.pk).values().get() == before
        other.refresh_from_db()
        assert other.email == "other@example.net"

    def test_invalid_edit_re_renders(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        url = detail_url(tenant_a.student) + "edit/"
        before = Student.objects.filter(pk=tenant_a.student.pk).values().get()

        response = admin_client_a.post(url, form_data(name="", email="bad"))

        assert response.status_code == 200
        assert response.context["form"].errors == {
            "name": ["This field is required."],
            "email": ["Enter a valid email address."],
        }
        assert Student.objects.filter(pk=tenant_a.student.pk).values().get() == before

    def test_only_admins_edit(
        self,
        student_client_a,
        provider_client_a,
        admin_client_b,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        url = detail_url(tenant_a.student) + "edit/"

        assert student_client_a.post(url, form_data(name="Me")).status_code == 403
        assert provider_client_a.post(url, form_data(name="Me")).status_code == 403
        assert admin_client_b.post(url, form_data(name="Me")).status_code == 404
        foreign = f"/o/beta/students/{tenant_a.student.public_id}/edit/"
        assert admin_client_b.post(foreign, form_data(name="Me")).status_code == 404
        tenant_a.student.refresh_from_db()
        assert tenant_a.student.name != "Me"


class TestDetail:
    def test_admin_sees_everything(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        student = StudentFactory(organization=tenant_a.organization, notes="Allergic to cats.")

        response = admin_client_a.get(detail_url(student))

        assert response.status_code == 200
        assert response.context["student"] == student
        html = response.content.decode()
        assert student.email in html
        assert "Allergic to cats." in html
        assert "Invite to sign in" in html

    def test_student_sees_own_detail_without_internal_notes(
        self,
        student_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        Student.objects.filter(pk=tenant_a.student.pk).update(notes="Internal remark.")

        response = student_client_a.get(detail_url(tenant_a.student))

        assert response.status_code == 200
        assert response.context["student"] == tenant_a.student
        assert response.context["invitations"] == []
        assert "Internal remark." not in response.content.decode()
        assert "Deactivate" not in response.content.decode()

    def test_student_cannot_see_another_student(
        self,
        student_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        other = StudentFactory(organization=tenant_a.organization)

        assert student_client_a.get(detail_url(other)).status_code == 403

    def test_provider_cannot_see_a_student_record_page(
        self,
        provider_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        assert provider_client_a.get(detail_url(tenant_a.student)).status_code == 403


class TestMyProfile:
    URL = "/o/alpha/students/me/"

    def test_student_sees_own_profile(self, student_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        response = student_client_a.get(self.URL)

        assert response.status_code == 200
        assert response.context["student"] == tenant_a.student
        assert tenant_a.student.name in response.content.decode()

    def test_student_without_a_record(self, tenant_a: Tenant) -> None:
        user = UserFactory()
        MembershipFactory(user=user, organization=tenant_a.organization, role=Role.STUDENT)

        response = client_for(user).get(self.URL)

        assert response.status_code == 200
        assert response.context["student"] is None
        assert "No student record is linked to your login yet." in response.content.decode()

    def test_a_login_with_records_in_two_organizations_sees_the_right_one(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        user = tenant_a.student_user
        MembershipFactory(user=user, organization=tenant_b.organization, role=Role.STUDENT)
        in_b = StudentFactory(organization=tenant_b.organization, user=user, name="B Record")

        client = client_for(user)

        assert client.get(self.URL).context["student"] == tenant_a.student
        assert client.get("/o/beta/students/me/").context["student"] == in_b

    def test_other_roles_get_403(self, admin_client_a, provider_client_a) -> None:  # type: ignore[no-untyped-def]
        assert admin_client_a.get(self.URL).status_code == 403
        assert provider_client_a.get(self.URL).status_code == 403


# --- List, filters, pagination ------------------------------------------------------------


class TestList:
    def test_lists_the_organizations_students_only(
        self,
        admin_client_a,
        tenant_a: Tenant,  # type: ignore[no-untyped-def]
        tenant_b: Tenant,
    ) -> None:
        StudentFactory(organization=tenant_a.organization, name="Aaron Alpha")

        response = admin_client_a.get(LIST)

        assert response.status_code == 200
        names = [s.name for s in response.context["page"]]
        assert names == sorted([tenant_a.student.name, "Aaron Alpha"])
        assert tenant_b.student.name not in response.content.decode()

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"q": "zelda"}, ["Zelda Quinn"]),
            ({"q": "  ZELDA  "}, ["Zelda Quinn"]),
            ({"q": "yorick@"}, ["Yorick Bell"]),
            ({"q": "example.org"}, ["Xena Park", "Yorick Bell"]),
            ({"q": "nobody"}, []),
            ({"status": "inactive"}, ["Xena Park"]),
            ({"status": "active", "q": "example.org"}, ["Yorick Bell"]),
            ({"q": ""}, ["Student A", "Xena Park", "Yorick Bell", "Zelda Quinn"]),
        ],
    )
    def test_filters(self, admin_client_a, tenant_a: Tenant, query, expected) -> None:  # type: ignore[no-untyped-def]
        Student.objects.filter(pk=tenant_a.student.pk).update(name="Student A")
        StudentFactory(
            organization=tenant_a.organization, name="Zelda Quinn", email="zq@example.net"
        )
        StudentFactory(
            organization=tenant_a.organization, name="Yorick Bell", email="yorick@example.org"
        )
        StudentFactory(
            organization=tenant_a.organization,
            name="Xena Park",
            email="xena@example.org",
            status=StudentStatus.INACTIVE,
        )

        response = admin_client_a.get(LIST, query)

        assert response.status_code == 200
        assert [s.name for s in response.context["page"]] == expected

    def test_an_invalid_status_filter_is_reported(self, admin_client_a) -> None:  # type: ignore[no-untyped-def]
        response = admin_client_a.get(LIST, {"status": "expelled"})

        assert response.status_code == 200
        assert response.context["filter"].errors == {
            "status": ["Select a valid choice. expelled is not one of the available choices."]
        }

    def test_pagination(self, admin_client_a, tenant_a: Tenant, settings) -> None:  # type: ignore[no-untyped-def]
        assert settings.MATCHPAL_PAGE_SIZE == 25
        for n in range(26):  # 27 students with the persona's record
            StudentFactory(organization=tenant_a.organization, name=f"Pupil {n:02d}")

        first = admin_client_a.get(LIST)
        second = admin_client_a.get(LIST, {"page": 2})
        beyond = admin_client_a.get(LIST, {"page": 99})

        assert len(first.context["page"]) == 25
        assert first.context["page"].paginator.num_pages == 2
        assert 'href="?page=2"' in first.content.decode()
        assert second.status_code == 200
        assert second.context["page"].number == 2
        assert len(second.context["page"]) == 2
        all_names = [s.name for s in first.context["page"]] + [
            s.name for s in second.context["page"]
        ]
        assert len(set(all_names)) == 27
        assert beyond.context["page"].number == 2

    def test_pagination_keeps_the_filter(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        for n in range(26):
            StudentFactory(organization=tenant_a.organization, name=f"Match {n:02d}")
        StudentFactory(organization=tenant_a.organization, name="Other")

        first = admin_client_a.get(LIST, {"q": "match"})
        second = admin_client_a.get(LIST, {"q": "match", "page": 2})

        assert 'href="?q=match&page=2"' in first.content.decode()
        assert [s.name for s in second.context["page"]] == ["Match 25"]


# --- Deactivate and reactivate ----------------------------------------------------------------


class TestStatus:
    def test_deactivate_then_reactivate_never_deletes(
        self,
        admin_client_a,  # type: ignore[no-untyped-def]
        tenant_a: Tenant,
    ) -> None:
        student = tenant_a.student
        url = detail_url(student) + "status/"

        response = admin_client_a.post(url, {"status": "inactive", "confirm": "yes"})

        assert response.status_code == 302
        assert response["Location"] == detail_url(student)
        assert messages_of(response) == [f"{student.name} is now inactive."]
        student.refresh_from_db()
        assert student.status == StudentStatus.INACTIVE
        assert "Reactivate" in admin_client_a.get(detail_url(student)).content.decode()

        response = admin_client_a.post(url, {"status": "active"})

        assert messages_of(response) == [f"{student.name} is now active."]
        student.refresh_from_db()
        assert student.status == StudentStatus.ACTIVE
        assert Student.objects.filter(pk=student.pk).exists()

    def test_anything_but_active_deactivates(self, admin_client_a, tenant_a: Tenant) -> None:  # type: ignore[no-untyped-def]
        admin_client_a.post(
            detail_url(tenant_a.student) + "status/", {"status": "deleted", "confirm": "yes"}
        )

        tenant_a.student.refresh_from_db()
        assert tenant_a.student.status == StudentStatus.INACTIVE


# --- Invitations ----------------------------------------------------------------------------


class TestInvite:
    def test_invite_sends_the_email_on_commit(  # type: ignore[no-untyped-def]
        self, admin_client_a, tenant_a: Tenant, django_capture_on_commit_callbacks
    ) -> None:
        student = StudentFactory(
            organization=tenant_a.organization, name="Nora Vance", email="nora@example.net"
        )

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = admin_client_a.post(detail_url(student) + "invite/")

        assert len(callbacks) == 1
        assert response.status_code == 302
        assert response["Location"] == detail_url(student)
        assert messages_of(response) == ["An invitation was sent to nora@example.net."]
        invitation = Invitation.objects.get()
        assert (
            invitation.organization,
            invitation.email,
            invitation.role,
            invitation.student,
            invitation.provider,
            invitation.invited_by,
        ) == (
            tenant_a.organization,
            "nora@example.net",
            Role.STUDENT,
            student,
            None,
            tenant_a.admin,
        )
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["nora@example.net"]
        assert f"http://testserver/invitations/{invitation.token}/" in mail.outbox[0].body
        page = admin_client_a.get(detail_url(student))
        assert list(page.context["invitations"]) == [invitation]
        assert "nora@example.net — pending" in page.content.decode()

    def test_service_errors_are_domain_errors(self, tenant_a: Tenant) -> None:
        with pytest.raises(ConflictError) as conflict:
            services.student_invite(
                actor=tenant_a.admin, student=tenant_a.student, base_url=BASE_URL
            )
        assert str(conflict.value) == f"{tenant_a.student.name} can already sign in."
        no_email = StudentFactory(organization=tenant_a.organization, name="Blank", email="")
        with pytest.raises(DomainError) as excinfo:
            services.student_invite(actor=tenant_a.admin, student=no_email, base_url=BASE_URL)
        assert str(excinfo.value) == "Add an email address to Blank before inviting them."
        assert not isinstance(excinfo.value, ConflictError)


# --- Database guards (PostgreSQL) -----------------------------------------------------------


class TestCompositeKeys:
    def test_an_invitation_for_its_own_tenants_student_is_fine(self, tenant_a: Tenant) -> None:
        create_and_check(
            Invitation,
            organization=tenant_a.organization,
            email="x@example.net",
            role=Role.STUDENT,
            student=tenant_a.student,
        )

        assert Invitation.objects.count() == 1

    def test_an_invitation_cannot_be_for_a_student_with_another_role(
        self, tenant_a: Tenant
    ) -> None:
        with pytest.raises(IntegrityError, match="invitation_student_role"), transaction.atomic():
            Invitation.objects.create(
                organization=tenant_a.organization,
                email="x@example.net",
                role=Role.PROVIDER,
                student=tenant_a.student,
            )
