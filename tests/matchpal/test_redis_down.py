"""With Redis down (the cache at an address where nothing answers), every page a person reaches
answers as docs/deploy.md ("When Redis is down") says, and none answers 500: signing in and out,
each role's pages, the admin home, a form, and the limits counted in the cache, which let
requests through while django-axes still counts failed sign-ins in the database. The outage is
logged once, not once per call."""

import logging

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client

from students.models import Student
from tests.factories import PASSWORD, UserFactory
from tests.support import Tenant, client_for, messages_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_unreachable")]

MISMATCH = "The email address and/or password you specified are not correct."
AXES_LOCKED = "Account locked: too many login attempts. Please try again later."


def sign_in(client: Client, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/accounts/login/", {"login": email, "password": password})


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "matchpal.cache"]


def test_signing_in_and_out_works_and_the_outage_is_logged_once(
    tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="matchpal.cache")
    client = Client()
    home = f"/o/{tenant_a.organization.slug}/"

    assert client.get("/accounts/login/").status_code == 200
    response = sign_in(client, tenant_a.admin.email, PASSWORD)
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(tenant_a.admin.pk)
    assert client.get(home).status_code == 200
    assert client.get(f"{home}students/").status_code == 200

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get(home).status_code == 302  # to the sign-in page

    [warning] = cache_warnings(caplog)
    assert warning.startswith("Redis cannot be reached (ConnectionError")


def test_each_roles_pages_answer_from_the_database(tenant_a: Tenant) -> None:
    slug = tenant_a.organization.slug
    admin = client_for(tenant_a.admin)

    response = admin.get(f"/o/{slug}/")  # the admin home, computed: nothing kept
    assert response.status_code == 200
    assert "Alpha Tutoring" in response.content.decode()
    assert admin.get(f"/o/{slug}/").status_code == 200
    response = admin.get(f"/o/{slug}/students/")
    assert tenant_a.student.name in response.content.decode()
    assert client_for(tenant_a.provider_user).get(f"/o/{slug}/").status_code == 200
    assert client_for(tenant_a.student_user).get(f"/o/{slug}/").status_code == 200


def test_a_form_saves(tenant_a: Tenant) -> None:
    admin = client_for(tenant_a.admin)

    response = admin.post(
        f"/o/{tenant_a.organization.slug}/students/new/",
        {"name": "Iris Chen", "email": "iris.chen@example.net"},
    )

    assert response.status_code == 302
    assert messages_of(response) == ["Iris Chen was added."]
    assert Student.objects.filter(organization=tenant_a.organization, name="Iris Chen").exists()


def test_the_sign_in_pages_limits_let_attempts_through_and_axes_still_locks(settings) -> None:  # type: ignore[no-untyped-def]
    # Counted, these would refuse the second failure; axes locks at the third.
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login": "1/h/ip",
        "login_failed": "1/h/ip,1/h/key",
    }
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="target@example.com")
    client = Client()

    for attempt in range(2):
        response = sign_in(client, "target@example.com", "guess")
        assert response.status_code == 200, attempt
        assert response.context["form"].non_field_errors() == [MISMATCH]
    assert sign_in(client, "target@example.com", "guess").status_code == 429

    response = sign_in(client, "target@example.com", PASSWORD)
    assert response.status_code == 429
    assert AXES_LOCKED in response.content.decode()


def test_the_admin_sign_in_limit_lets_attempts_through(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_ADMIN_SIGN_IN_LIMIT = 1
    settings.AXES_ENABLED = False
    client = Client()

    statuses = [
        client.post("/admin/login/", {"username": f"p{n}@example.com", "password": "x"}).status_code
        for n in range(3)
    ]

    assert statuses == [200, 200, 200]


def test_a_password_reset_is_sent_past_its_limit(tenant_a: Tenant, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reset_password": "1/h/key"}
    client = Client()

    for _ in range(2):
        response = client.post("/accounts/password/reset/", {"email": tenant_a.admin.email})
        assert response.status_code == 302

    assert [m.to for m in mail.outbox] == [[tenant_a.admin.email]] * 2


def test_readyz_says_redis_is_down(client: Client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"] == {"ok": False, "detail": "ConnectionError"}
    assert checks["beat"] == {"ok": False, "detail": "cache unreachable"}
