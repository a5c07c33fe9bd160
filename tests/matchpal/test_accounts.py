"""Accounts: the email-login user model, allauth's flows over HTTP, and brute-force protection.

Every sign-in here goes through the real views (never `Client.login`): django-axes needs the
request that those views pass to `authenticate`.
"""

import re

import pytest
from allauth.account.models import EmailAddress
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.contrib.auth import SESSION_KEY, authenticate
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client, RequestFactory

from matchpal.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
MISMATCH = "The email address and/or password you specified are not correct."
TOO_MANY = "Too many failed login attempts. Try again later."
AXES_LOCKED = "Account locked: too many login attempts. Please try again later."
# allauth's user codes: two dashed groups of RFC 8628 consonants (e.g. "BCDF-GHJK").
CODE_RE = re.compile(r"^([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})$", re.MULTILINE)
LINK_RE = re.compile(r"https?://testserver(/\S+)")


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get(SESSION_KEY)


def link_in(message: mail.EmailMessage) -> str:
    match = LINK_RE.search(message.body)
    assert match, message.body
    return match.group(1)


def sign_in(client: Client, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(LOGIN_URL, {"login": email, "password": password})


@pytest.fixture(autouse=True)
def _fresh_axes() -> None:
    axes_reset()


# --- The user model -------------------------------------------------------------------------


def test_create_user_stores_email_and_usable_password() -> None:
    user = User.objects.create_user(email="Ada@Example.COM", password=PASSWORD, name="Ada Lovelace")

    # normalize_email lowercases the domain only; the local part keeps its case.
    assert user.email == "Ada@example.com"
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    assert not user.is_superuser
    assert user.USERNAME_FIELD == "email"
    assert str(user) == "Ada Lovelace"
    assert user.get_short_name() == "Ada"


def test_create_user_without_email_is_refused() -> None:
    with pytest.raises(ValueError, match=r"An email address is required\."):
        User.objects.create_user(email="", password=PASSWORD)


def test_create_superuser_sets_flags() -> None:
    user = User.objects.create_superuser(email="root@example.com", password=PASSWORD)

    assert user.is_staff
    assert user.is_superuser


def test_email_unique_whatever_its_case_in_the_database() -> None:
    User.objects.create_user(email="Grace@example.com", password=PASSWORD)

    # Differently cased, so the plain `unique=True` index does not catch it: only the
    # functional constraint on Lower(email) does.
    with pytest.raises(IntegrityError, match="user_email_ci_unique"), transaction.atomic():
        User.objects.create_user(email="grace@EXAMPLE.com", password=PASSWORD)

    assert User.objects.filter(email__iexact="grace@example.com").count() == 1


def test_email_case_change_on_update_also_hits_the_constraint() -> None:
    User.objects.create_user(email="linus@example.com", password=PASSWORD)
    other = User.objects.create_user(email="other@example.com", password=PASSWORD)

    other.email = "LINUS@example.com"
    with pytest.raises(IntegrityError, match="user_email_ci_unique"), transaction.atomic():
        other.save()


def test_natural_key_lookup_is_case_insensitive() -> None:
    user = UserFactory(email="mixed.Case@example.com")
    request = RequestFactory().post("/accounts/login/")

    assert User.objects.get_by_natural_key("MIXED.case@EXAMPLE.com") == user
    assert authenticate(request, username="mixed.case@example.com", password=PASSWORD) == user


# --- Sign-in and sign-out with a password -------------------------------------------------


def test_sign_in_with_email_and_password() -> None:
    user = UserFactory(email="tutor@example.com")
    client = Client()

    response = sign_in(client, "tutor@example.com", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(user.pk)


def test_sign_in_ignores_the_case_of_the_email() -> None:
    user = UserFactory(email="tutor@example.com")
    client = Client()

    response = sign_in(client, "TUTOR@Example.com", PASSWORD)

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(user.pk)


def test_sign_in_with_wrong_password_is_refused_with_the_message() -> None:
    UserFactory(email="tutor@example.com")
    client = Client()

    response = sign_in(client, "tutor@example.com", "wrong-password")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [MISMATCH]
    assert signed_in_user_id(client) is None


def test_sign_in_with_unverified_email_is_held_until_verified() -> None:
    user = User.objects.create_user(email="new@example.com", password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    client = Client()

    response = sign_in(client, "new@example.com", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert signed_in_user_id(client) is None
    # A fresh confirmation email went out.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]


def test_inactive_user_cannot_sign_in() -> None:
    user = UserFactory(email="gone@example.com")
    user.is_active = False
    user.save(update_fields=["is_active"])
    client = Client()

    sign_in(client, "gone@example.com", PASSWORD)

    assert signed_in_user_id(client) is None


def test_sign_out_needs_a_post() -> None:
    user = UserFactory(email="tutor@example.com")
    client = Client()
    sign_in(client, user.email, PASSWORD)

    # ACCOUNT_LOGOUT_ON_GET is off: a GET only shows the confirmation page.
    response = client.get("/accounts/logout/")
    assert response.status_code == 200
    assert signed_in_user_id(client) == str(user.pk)

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert signed_in_user_id(client) is None
    assert client.get("/orgs/").status_code == 302


# --- Password reset -------------------------------------------------------------------------


def test_password_reset_sends_a_working_link() -> None:
    user = UserFactory(email="forgetful@example.com")
    client = Client()

    response = client.post("/accounts/password/reset/", {"email": "forgetful@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["forgetful@example.com"]
    assert message.subject == "[Matchpal] Password Reset Email"

    # The link redirects to a key-less URL (the key moves into the session), then sets it.
    response = client.get(link_in(message))
    assert response.status_code == 302
    form_url = response["Location"]
    response = client.post(
        form_url, {"password1": "a-brand-new-pass-42", "password2": "a-brand-new-pass-42"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/key/done/"

    user.refresh_from_db()
    assert user.check_password("a-brand-new-pass-42")
    assert not user.check_password(PASSWORD)
    fresh = Client()
    sign_in(fresh, "forgetful@example.com", "a-brand-new-pass-42")
    assert signed_in_user_id(fresh) == str(user.pk)


def test_password_reset_for_unknown_email_sends_no_reset_link() -> None:
    client = Client()

    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    # Enumeration is prevented: the same answer, and the address only learns it has no account.
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["nobody@example.com"], "[Matchpal] Unknown Account")
    ]
    assert "/accounts/password/reset/key/" not in mail.outbox[0].body


# --- Sign-up with mandatory verification ----------------------------------------------------


def test_sign_up_creates_an_unverified_address_and_sends_a_confirmation() -> None:
    client = Client()

    response = client.post(
        "/accounts/signup/",
        {
            "email": "newcomer@example.com",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email="newcomer@example.com")
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == (
        "newcomer@example.com",
        False,
        True,
    )
    assert signed_in_user_id(client) is None  # mandatory verification: not signed in yet
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newcomer@example.com"]
    assert message.subject == "[Matchpal] Please Confirm Your Email Address"

    # Following the link and confirming verifies the address.
    confirm_url = link_in(message)
    assert confirm_url.startswith("/accounts/confirm-email/")
    assert client.get(confirm_url).status_code == 200
    response = client.post(confirm_url)
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.verified

    sign_in(client, "newcomer@example.com", "a-long-pass-phrase-9")
    assert signed_in_user_id(client) == str(user.pk)


def test_sign_up_with_a_taken_email_in_another_case_does_not_create_a_user() -> None:
    UserFactory(email="taken@example.com")
    client = Client()

    client.post(
        "/accounts/signup/",
        {
            "email": "TAKEN@example.com",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
        },
    )

    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert signed_in_user_id(client) is None


# --- Sign-in by emailed code ----------------------------------------------------------------


def test_sign_in_by_emailed_code() -> None:
    user = UserFactory(email="codeuser@example.com")
    client = Client()

    assert client.get("/accounts/login/code/").status_code == 200
    response = client.post("/accounts/login/code/", {"email": "codeuser@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/code/confirm/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["codeuser@example.com"]
    assert message.subject == "[Matchpal] Sign-In Code"
    match = CODE_RE.search(message.body)
    assert match, message.body
    assert signed_in_user_id(client) is None

    response = client.post("/accounts/login/code/confirm/", {"code": match.group(1)})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(user.pk)


def test_sign_in_by_code_refuses_a_wrong_code() -> None:
    UserFactory(email="codeuser@example.com")
    client = Client()
    client.post("/accounts/login/code/", {"email": "codeuser@example.com"})
    code = CODE_RE.search(mail.outbox[0].body).group(1)  # type: ignore[union-attr]
    wrong = "BBBB-BBBB" if code != "BBBB-BBBB" else "CCCC-CCCC"

    response = client.post("/accounts/login/code/confirm/", {"code": wrong})

    assert response.status_code == 200
    assert response.context["form"].errors == {"code": ["Incorrect code."]}
    assert signed_in_user_id(client) is None


# --- Rate limit and lockouts ----------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def rate_limit_cache(request) -> None:  # type: ignore[no-untyped-def]
    """The counters in the tests' in-memory cache, then in Redis, the production cache."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")


@pytest.mark.usefixtures("rate_limit_cache")
def test_failed_sign_ins_are_rate_limited_per_email() -> None:
    # ACCOUNT_RATE_LIMITS["login_failed"] = "10/m/ip,5/5m/key": 5 failures per address.
    UserFactory(email="target@example.com")
    client = Client()

    for _ in range(5):
        response = sign_in(client, "target@example.com", "guess")
        assert response.context["form"].non_field_errors() == [MISMATCH]

    # The sixth attempt is refused before the password is even checked: the right one too.
    response = sign_in(client, "target@example.com", PASSWORD)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [TOO_MANY]
    assert TOO_MANY in response.content.decode()
    assert signed_in_user_id(client) is None


@pytest.mark.usefixtures("rate_limit_cache")
def test_successful_sign_in_does_not_count_against_the_rate_limit() -> None:
    user = UserFactory(email="regular@example.com")

    for _ in range(7):
        client = Client()
        sign_in(client, "regular@example.com", PASSWORD)
        assert signed_in_user_id(client) == str(user.pk)


@pytest.fixture
def staff_user() -> User:
    return UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


def admin_login(client: Client, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/login/?next=/admin/", {"username": email, "password": password, "next": "/admin/"}
    )


def test_admin_login_works_before_any_failure(staff_user: User) -> None:
    client = Client()

    response = admin_login(client, "staff@example.com", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert signed_in_user_id(client) == str(staff_user.pk)


def test_axes_locks_out_the_admin_login(settings, staff_user: User) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()

    for attempt in range(1, 3):
        response = admin_login(client, "staff@example.com", "guess")
        assert response.status_code == 200, attempt
        assert AXES_LOCKED not in response.content.decode()
    response = admin_login(client, "staff@example.com", "guess")  # the third failure locks
    assert response.status_code == 429

    # Locked: even the right password is refused, with axes' message.
    response = admin_login(client, "staff@example.com", PASSWORD)

    assert response.status_code == 429
    assert AXES_LOCKED in response.content.decode()
    assert signed_in_user_id(client) is None
    # The attempt refused during the lockout is recorded as a failure too.
    attempt = AccessAttempt.objects.get(username="staff@example.com")
    assert attempt.failures_since_start == 4

    # Resetting axes (what an operator does) lets the person in again.
    axes_reset(username="staff@example.com")
    response = admin_login(client, "staff@example.com", PASSWORD)
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(staff_user.pk)


def test_axes_counts_failures_per_username_and_ip(settings, staff_user: User) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 2
    UserFactory(email="other-staff@example.com", is_staff=True)
    client = Client()

    admin_login(client, "other-staff@example.com", "guess")
    admin_login(client, "other-staff@example.com", "guess")
    assert admin_login(client, "other-staff@example.com", PASSWORD).status_code == 429

    # Another account from the same address is not locked by those failures.
    response = admin_login(client, "staff@example.com", PASSWORD)
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(staff_user.pk)


def test_axes_locks_the_email_and_address_of_failed_sign_ins_on_the_sign_in_page(settings) -> None:  # type: ignore[no-untyped-def]
    # Below allauth's own limit of 5 failures per address, so axes is what refuses here.
    settings.AXES_FAILURE_LIMIT = 3
    target = UserFactory(email="target@example.com")
    bystander = UserFactory(email="bystander@example.com")
    client = Client(REMOTE_ADDR="203.0.113.7")

    # The case of the address does not make a new counter: it is one account.
    for login in ("target@example.com", "Target@Example.com"):
        response = sign_in(client, login, "guess")
        assert response.context["form"].non_field_errors() == [MISMATCH]
    response = sign_in(client, "TARGET@example.com", "guess")  # the third failure locks
    assert response.status_code == 429

    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address) == ("target@example.com", "203.0.113.7")
    # Locked: even the right password is refused, with axes' message.
    response = sign_in(client, "target@example.com", PASSWORD)
    assert response.status_code == 429
    assert AXES_LOCKED in response.content.decode()
    assert signed_in_user_id(client) is None

    # Another account from the same address signs in: the lock is per email and address.
    response = sign_in(Client(REMOTE_ADDR="203.0.113.7"), "bystander@example.com", PASSWORD)
    assert response.status_code == 302
    assert response.wsgi_request.user == bystander
    # And the same account from another address too.
    elsewhere = Client(REMOTE_ADDR="198.51.100.1")
    assert sign_in(elsewhere, "target@example.com", PASSWORD).status_code == 302
    assert signed_in_user_id(elsewhere) == str(target.pk)


def test_a_successful_sign_in_clears_the_accounts_failures(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="forgetful@example.com")
    client = Client()

    sign_in(client, "Forgetful@Example.com", "guess")
    sign_in(client, "forgetful@example.com", "guess")
    assert AccessAttempt.objects.get().failures_since_start == 2
    assert sign_in(client, "forgetful@example.com", PASSWORD).status_code == 302

    # AXES_RESET_ON_SUCCESS: the success cleared the counter the failures had built up.
    assert not AccessAttempt.objects.exists()
