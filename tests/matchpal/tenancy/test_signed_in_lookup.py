"""`tenant_view` reads the signed-in user and the membership in one statement
(`matchpal.tenancy._signed_in`), applying Django's own checks to the user it read. Each session
state below is given both to it and to `django.contrib.auth.get_user`, on two sessions holding
the same data: the same user (or none), and the same fate for the session (kept, its key
cycled, or flushed)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import LazySettings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.middleware import get_user as middleware_get_user
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils.functional import SimpleLazyObject

from matchpal import prebuilt, tenancy
from matchpal.models import User
from matchpal.sessions import SessionStore
from tests.factories import UserFactory
from tests.support import Tenant, client_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statement"),
]

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ALLAUTH_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def _session(data: dict[str, Any]) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.save()
    return SessionStore(session_key=session.session_key)  # read back, as a request would


def _request(data: dict[str, Any]) -> Any:
    request = RequestFactory().get("/")
    request.session = _session(data)
    request.user = SimpleLazyObject(lambda: middleware_get_user(request))
    return request


def _signed_in(user: User, backend: str = MODEL_BACKEND) -> dict[str, Any]:
    return {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: backend,
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }


def _fate(request: Any, key: str | None) -> tuple[str, Any]:
    session = request.session
    if session.session_key is None and not session.keys():
        return ("flushed", None)
    if session.session_key != key:
        return ("cycled", session.get(HASH_SESSION_KEY))
    return ("kept", session.get(HASH_SESSION_KEY))


def _both(data: dict[str, Any], org_slug: str) -> tuple[Any, Any]:
    """(user and session fate) by the one statement, then by Django, from the same data."""
    ours, django = _request(data), _request(data)
    ours_key, django_key = ours.session.session_key, django.session.session_key
    loaded = tenancy._signed_in(ours, org_slug)
    assert loaded is not None
    user, _membership = loaded
    theirs = auth.get_user(django)
    return (
        (user.pk if user.is_authenticated else None, _fate(ours, ours_key)),
        (theirs.pk if theirs.is_authenticated else None, _fate(django, django_key)),
    )


def _password_changed(user: User) -> dict[str, Any]:
    data = _signed_in(user)
    user.set_password("a-new-password-4711")
    user.save(update_fields=["password"])
    return data


def _inactive(user: User) -> dict[str, Any]:
    data = _signed_in(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    return data


def _deleted(user: User) -> dict[str, Any]:
    data = _signed_in(user)
    user.delete()
    return data


def _no_hash(user: User) -> dict[str, Any]:
    data = _signed_in(user)
    del data[HASH_SESSION_KEY]
    return data


def _unknown_backend(user: User) -> dict[str, Any]:
    return {**_signed_in(user), BACKEND_SESSION_KEY: "somewhere.else.Backend"}


STATES: dict[str, Callable[[User], dict[str, Any]]] = {
    "signed in": _signed_in,
    "signed in through allauth": lambda user: _signed_in(user, ALLAUTH_BACKEND),
    "password changed since": _password_changed,
    "deactivated since": _inactive,
    "deleted since": _deleted,
    "no hash in the session": _no_hash,
    "a backend no longer configured": _unknown_backend,
    "nobody signed in": lambda user: {},
    "a user id and no backend": lambda user: {SESSION_KEY: str(user.pk)},
}


@pytest.mark.parametrize("state", list(STATES))
def test_the_user_and_the_session_are_what_django_makes_of_them(
    state: str, tenant_a: Tenant
) -> None:
    user = UserFactory()
    tenant_a.organization.memberships.create(user=user, role="provider")
    ours, django = _both(STATES[state](user), tenant_a.organization.slug)
    assert ours == django


def test_a_hash_made_with_a_fallback_secret_cycles_the_session_as_django_does(
    tenant_a: Tenant, settings: LazySettings
) -> None:
    user = tenant_a.admin
    settings.SECRET_KEY = "the-key-before-the-rotation-" + "x" * 40
    data = _signed_in(user)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-key-after-the-rotation-" + "y" * 40
    ours, django = _both(data, tenant_a.organization.slug)
    assert ours == django
    assert ours[1][0] == "cycled"
    assert ours[1][1] == user.get_session_auth_hash()  # the new secret's


def test_a_hash_made_with_a_secret_no_longer_kept_flushes_the_session(
    tenant_a: Tenant, settings: LazySettings
) -> None:
    settings.SECRET_KEY = "a-retired-key-" + "z" * 40
    data = _signed_in(tenant_a.admin)
    settings.SECRET_KEY = "the-current-key-" + "w" * 40
    ours, django = _both(data, tenant_a.organization.slug)
    assert ours == django == (None, ("flushed", None))


def test_the_membership_comes_with_the_user_or_not_at_all(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    request = _request(_signed_in(tenant_a.admin))
    loaded = tenancy._signed_in(request, tenant_a.organization.slug)
    assert loaded is not None
    user, membership = loaded
    assert user == tenant_a.admin
    assert membership is not None
    assert membership.user is user
    assert membership.organization == tenant_a.organization
    assert membership.role == "admin"

    # A member of another organization: signed in, no membership here.
    request = _request(_signed_in(tenant_a.admin))
    loaded = tenancy._signed_in(request, tenant_b.organization.slug)
    assert loaded is not None
    assert loaded[0] == tenant_a.admin
    assert loaded[1] is None
    # A deactivated member: neither.
    request = _request(_inactive(tenant_a.provider_user))
    assert tenancy._signed_in(request, tenant_a.organization.slug) == (
        auth.models.AnonymousUser(),
        None,
    )


def test_the_statement_reads_the_membership_the_lookup_reads(tenant_a: Tenant) -> None:
    slug = tenant_a.organization.slug
    user, membership = tenancy._user_and_membership_prebuilt(
        user_id=tenant_a.admin.pk, org_slug=slug
    )
    alone = tenancy.membership_for(user=tenant_a.admin, org_slug=slug)
    assert user is not None
    assert membership is not None
    assert alone is not None
    assert values(user) == values(User.objects.get(pk=tenant_a.admin.pk))
    assert values(membership) == values(alone)
    assert values(membership.organization) == values(alone.organization)
    assert membership.unread_notices == alone.unread_notices  # type: ignore[attr-defined]
    assert not user._state.adding
    assert tenancy._user_and_membership_prebuilt(user_id=-1, org_slug=slug) == (None, None)


def test_a_user_already_loaded_is_not_read_again(tenant_a: Tenant) -> None:
    request = _request(_signed_in(tenant_a.admin))
    assert request.user.is_authenticated  # something read it before the view
    assert tenancy._signed_in(request, tenant_a.organization.slug) is None


def test_a_tenant_page_reads_the_user_once_with_its_membership(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.provider_user)
    url = f"/o/{tenant_a.organization.slug}/calendar/feed/"
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    sent = [prebuilt.expand(q["sql"]) for q in queries.captured_queries]  # prepared statements
    users = [sql for sql in sent if 'FROM "matchpal_user"' in sql]
    assert len(users) == 1
    assert '"matchpal_membership"' in users[0]
    request = response.wsgi_request
    assert request.membership.user is request.user._wrapped  # type: ignore[attr-defined]
    assert response.context["user"] == tenant_a.provider_user


def test_a_tenant_page_signs_out_a_session_whose_password_changed(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.provider_user)
    url = f"/o/{tenant_a.organization.slug}/calendar/feed/"
    assert client.get(url).status_code == 200
    tenant_a.provider_user.set_password("changed-elsewhere-4711")
    tenant_a.provider_user.save(update_fields=["password"])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/orgs/").status_code == 302  # the session is gone, not just this page


def test_a_tenant_page_answers_a_non_member_404_and_a_wrong_role_403(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    stranger = client_for(tenant_b.admin)
    assert stranger.get(f"/o/{tenant_a.organization.slug}/calendar/feed/").status_code == 404
    student = client_for(tenant_a.student_user)
    assert student.get(f"/o/{tenant_a.organization.slug}/members/").status_code == 403
    assert client_for(None).get(f"/o/{tenant_a.organization.slug}/").status_code == 302


def values(instance: Any) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
