"""`manage.py seed_demo`: the demo organization that `make run` seeds, created once."""

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client

from demo.seed import DEMO_ADMIN, DEMO_PASSWORD, DEMO_SLUG, PROVIDERS, STUDENTS
from matchpal.models import Membership, Organization, Role, ServiceType, User
from providers.models import Provider
from students.models import Student

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_seed_creates_the_demo_organization() -> None:
    output = seed()

    assert output == "Seeded demo organization “Northside Learning Center”.\n"
    org = Organization.objects.get(slug=DEMO_SLUG)
    assert (org.name, org.time_zone) == ("Northside Learning Center", "America/New_York")
    assert sorted(ServiceType.objects.filter(organization=org).values_list("name", flat=True)) == [
        "Advising",
        "Tutoring",
    ]

    roles = sorted(Membership.objects.filter(organization=org).values_list("role", flat=True))
    assert roles.count(Role.ADMIN) == 1
    assert roles.count(Role.PROVIDER) == 3
    admin = Membership.objects.get(organization=org, role=Role.ADMIN).user
    assert admin.email == DEMO_ADMIN

    providers = Provider.objects.filter(organization=org)
    assert providers.count() == 3
    assert all(p.user is not None and p.user.email == p.email for p in providers)
    assert {p.email: sorted(p.service_types.values_list("name", flat=True)) for p in providers} == {
        email: sorted(services) for _, email, services, _, _ in PROVIDERS
    }

    students = Student.objects.filter(organization=org)
    assert students.count() == 10
    assert sorted(students.values_list("email", flat=True)) == sorted(
        email for _, email, *_ in STUDENTS
    )
    with_login = [s for s in students if s.user_id]
    assert sorted(s.email for s in with_login) == sorted(
        email for _, email, _, _, has_login in STUDENTS if has_login
    )
    assert roles.count(Role.STUDENT) == len(with_login)

    # Every demo login has its address verified, so the password works at once.
    logins = User.objects.filter(memberships__organization=org)
    assert logins.count() == 1 + 3 + len(with_login)
    assert all(user.check_password(DEMO_PASSWORD) for user in logins)
    assert EmailAddress.objects.filter(user__in=logins, verified=True, primary=True).count() == (
        logins.count()
    )


@pytest.mark.parametrize(
    ("email", "template"),
    [
        (DEMO_ADMIN, "reports/home_admin.html"),
        (PROVIDERS[0][1], "reports/home_provider.html"),
        (STUDENTS[0][1], "reports/home_student.html"),
    ],
)
def test_demo_password_signs_in_over_http(email: str, template: str) -> None:
    seed()
    client = Client()

    response = client.post("/accounts/login/", {"login": email, "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(User.objects.get(email=email).pk)
    assert client.get("/")["Location"] == f"/o/{DEMO_SLUG}/"
    home = client.get(f"/o/{DEMO_SLUG}/")
    assert home.status_code == 200
    assert home.templates[0].name == template


def test_seeding_twice_changes_nothing() -> None:
    seed()
    before = row_counts()
    org_before = Organization.objects.values().get(slug=DEMO_SLUG)

    output = seed()

    assert output == "The demo organization exists already; nothing changed.\n"
    assert row_counts() == before
    assert Organization.objects.values().get(slug=DEMO_SLUG) == org_before


def test_seeded_balances_match_the_ledger() -> None:
    seed()
    out = StringIO()

    call_command("reconcile_grants", organization=DEMO_SLUG, stdout=out)

    assert out.getvalue() == "Balances match the ledger.\n"


def test_the_demo_center_is_lived_in() -> None:
    """Relationships in every state, months of sessions in every status, a dispute and a
    session still to log, so `make run` opens on a center with a history."""
    from datetime import timedelta

    from django.utils import timezone

    from relationships.models import Relationship, RelationshipStatus
    from sessions_app.models import Session, SessionStatus

    seed()
    org = Organization.objects.get(slug=DEMO_SLUG)
    states = set(Relationship.objects.filter(organization=org).values_list("status", flat=True))
    assert states == set(RelationshipStatus.values)

    sessions = Session.objects.filter(organization=org)
    assert set(sessions.values_list("status", flat=True)) == set(SessionStatus.values)
    completed = sessions.filter(status=SessionStatus.COMPLETED)
    assert completed.count() >= 20
    oldest = completed.order_by("starts_at").first()
    assert oldest is not None
    assert oldest.starts_at < timezone.now() - timedelta(days=60)
    assert sessions.filter(status=SessionStatus.NO_SHOW, no_show_party="student").count() == 1
    disputed = sessions.get(disputed_at__isnull=False)
    assert disputed.relationship.student.email == STUDENTS[0][1]
    to_log = sessions.filter(status=SessionStatus.SCHEDULED, starts_at__lt=timezone.now())
    assert to_log.count() == 1


def test_the_demo_center_has_hours_a_series_and_requests() -> None:
    """docs/scheduling.md: every provider keeps weekly hours, one has a day off and one extra
    hours; the admin booked a weekly series; two students' requests await their provider."""
    from providers.models import AvailabilityException, AvailabilityWindow
    from sessions_app.models import Session

    seed()
    org = Organization.objects.get(slug=DEMO_SLUG)
    assert (
        AvailabilityWindow.objects.filter(organization=org).values("provider").distinct().count()
        == 3
    )
    assert sorted(
        AvailabilityException.objects.filter(organization=org).values_list("kind", flat=True)
    ) == ["extra", "off"]
    series = Session.objects.filter(organization=org, series__isnull=False)
    assert (series.count(), series.values("series").distinct().count()) == (2, 1)
    assert set(series.values_list("status", flat=True)) == {"scheduled"}
    assert Session.objects.filter(organization=org, status="pending").count() == 2


def test_the_bells_start_empty_and_fill_as_people_use_the_demo(  # type: ignore[no-untyped-def]
    mailoutbox, django_capture_on_commit_callbacks
) -> None:
    """docs/notifications.md: seeding tells nobody; a provider accepting a request on the demo
    fills the student's bell and sends them a complete email linking to the session."""
    from matchpal.models import Notification
    from sessions_app.models import Session

    seed()
    org = Organization.objects.get(slug=DEMO_SLUG)
    assert not Notification.objects.filter(organization=org).exists()
    assert mailoutbox == []
    request = Session.objects.filter(organization=org, status="pending").earliest("starts_at")
    student_user = request.relationship.student.user
    provider_client = Client()
    provider_client.force_login(request.relationship.provider.user)
    student_client = Client()
    student_client.force_login(student_user)
    bell = '<span class="badge rounded-pill text-bg-danger">1</span>'
    assert bell not in student_client.get(f"/o/{DEMO_SLUG}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # the emails leave after commit
        answer = provider_client.post(f"/o/{DEMO_SLUG}/sessions/{request.public_id}/accept/")

    assert answer.status_code == 302
    assert bell in student_client.get(f"/o/{DEMO_SLUG}/").content.decode()
    [notice] = Notification.objects.filter(organization=org, user=student_user)
    assert notice.kind == "request_answered"
    [email] = [m for m in mailoutbox if m.to == [request.relationship.student.email]]
    assert email.subject.startswith("[Matchpal] Session confirmed: ")
    link = f"http://localhost:8000/o/{DEMO_SLUG}/sessions/{request.public_id}/"
    assert link in email.body
    assert f'href="{link}"' in email.alternatives[0][0]
    assert org.name in email.body
