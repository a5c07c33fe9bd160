"""Sign-in throttles per client address: the Django admin's (matchpal.throttle, 60 attempts an
hour whatever account each names, a 429) and the sign-in page's (allauth's `login_failed`, 60
failures an hour, refused on the form). django-axes, which locks one account per address, is
off here so that what refuses is the per-address limit alone. Counted in Redis, as in
production."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_cache")]

TOO_MANY = "Too many failed login attempts. Try again later."
ADMIN_REFUSED = (
    "Too many sign-in attempts from your address: the administration&#x27;s sign-in "
    "accepts another in an hour."
)


@pytest.fixture(autouse=True)
def _no_axes(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_ENABLED = False


def admin_login(client: Client, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/admin/login/", {"username": email, "password": password})


def test_the_61st_admin_sign_in_from_one_address_is_refused() -> None:
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    attacker = Client(REMOTE_ADDR="203.0.113.9")

    for number in range(60):  # 60 accounts, one guess each
        response = admin_login(attacker, f"person{number}@example.com", "guess")
        assert response.status_code == 200, number

    response = admin_login(attacker, "person60@example.com", "guess")
    assert response.status_code == 429
    assert ADMIN_REFUSED in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= 3600
    # Refused before any password is checked: the right one does not get in either.
    response = admin_login(attacker, staff.email, PASSWORD)
    assert response.status_code == 429

    # Another address is not affected, and viewing the sign-in page is never counted.
    assert attacker.get("/admin/login/").status_code == 200
    response = admin_login(Client(REMOTE_ADDR="198.51.100.4"), staff.email, PASSWORD)
    assert response.status_code == 302


def test_the_admin_limit_follows_its_setting(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_ADMIN_SIGN_IN_LIMIT = 2
    client = Client(REMOTE_ADDR="203.0.113.10")

    assert [admin_login(client, "a@example.com", "x").status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_the_61st_failed_sign_in_on_the_sign_in_page_from_one_address_is_refused(
    settings,  # type: ignore[no-untyped-def]
) -> None:
    # allauth's per-minute limits (30 attempts, 10 failures a minute) aside, to reach the
    # hourly one within one test.
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login": "1000/m/ip",
        "login_failed": "60/h/ip",
    }
    attacker = Client(REMOTE_ADDR="203.0.113.11")

    for number in range(60):
        response = attacker.post(
            "/accounts/login/", {"login": f"person{number}@example.com", "password": "guess"}
        )
        assert response.status_code == 200, number

    # allauth refuses on the form, before checking the password: the right one fails too.
    person = UserFactory(email="person60@example.com")
    response = attacker.post("/accounts/login/", {"login": person.email, "password": PASSWORD})
    assert response.context["form"].non_field_errors() == [TOO_MANY]
    assert SESSION_KEY not in attacker.session
    # From another address the same person signs in.
    other = Client(REMOTE_ADDR="198.51.100.5")
    response = other.post("/accounts/login/", {"login": person.email, "password": PASSWORD})
    assert response.status_code == 302


def test_the_configured_sign_in_page_limits_include_an_hourly_one_per_address() -> None:
    from django.conf import settings

    assert "60/h/ip" in settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
