"""The session store (matchpal/sessions.py): sessions read from the cache, so a signed-in page
reads no session row; with the cache unreachable, pages still answer from the database, and a
sign-out that cannot remove the session's copy from the cache ends every session of the person
(their session generation, in the hash every session carries)."""

import pytest
from django.conf import LazySettings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matchpal.sessions import SessionStore
from tests.support import UNREACHABLE_REDIS, Tenant, client_for

pytestmark = pytest.mark.django_db


def _session_reads(queries: CaptureQueriesContext) -> int:
    return sum('FROM "django_session"' in q["sql"] for q in queries.captured_queries)


@pytest.mark.usefixtures("redis_cache")
def test_a_signed_in_page_reads_its_session_from_redis(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/students/"
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert _session_reads(queries) == 0


@pytest.mark.usefixtures("redis_cache")
def test_signing_out_ends_the_session_in_the_cache_too(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/students/"
    cookie = client.cookies["sessionid"].value
    assert client.post("/accounts/logout/").status_code == 302
    client.cookies["sessionid"] = cookie  # the old cookie, replayed
    assert client.get(url).status_code == 302  # to the sign-in page


@pytest.mark.usefixtures("redis_unreachable")
def test_an_unreachable_cache_falls_back_to_the_database(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/students/"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert tenant_a.student.name in response.content.decode()
    assert _session_reads(queries) == 1


@pytest.mark.usefixtures("redis_cache")
def test_a_sign_out_that_cannot_reach_the_cache_ends_every_session_of_the_person(
    tenant_a: Tenant, settings: LazySettings
) -> None:
    redis_up = dict(settings.CACHES)
    url = f"/o/{tenant_a.organization.slug}/students/"
    client, other_browser = client_for(tenant_a.admin), client_for(tenant_a.admin)
    assert client.get(url).status_code == 200  # its session is in Redis now
    assert other_browser.get(url).status_code == 200
    cookie = client.cookies["sessionid"].value

    settings.CACHES = {"default": {**redis_up["default"], "LOCATION": UNREACHABLE_REDIS}}
    assert client.post("/accounts/logout/").status_code == 302
    # Redis is back, with the copy the sign-out could not remove.
    settings.CACHES = redis_up
    assert cache.get(SessionStore.cache_key_prefix + cookie) is not None

    client.cookies["sessionid"] = cookie  # the old cookie, replayed
    assert client.get(url).status_code == 302  # to the sign-in page
    assert other_browser.get(url).status_code == 302  # signed out there too
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.session_generation == 1
    assert client_for(tenant_a.admin).get(url).status_code == 200  # and signs in again


def test_a_sign_out_that_reaches_the_cache_ends_only_its_own_session(tenant_a: Tenant) -> None:
    url = f"/o/{tenant_a.organization.slug}/students/"
    client, other_browser = client_for(tenant_a.admin), client_for(tenant_a.admin)

    assert client.post("/accounts/logout/").status_code == 302

    assert other_browser.get(url).status_code == 200
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.session_generation == 0


def test_the_session_hash_is_djangos_until_the_generation_is_raised(
    tenant_a: Tenant, settings: LazySettings
) -> None:
    user = tenant_a.admin
    djangos = AbstractBaseUser.get_session_auth_hash(user)  # what sessions signed in before carry
    assert user.get_session_auth_hash() == djangos

    user.session_generation = 1
    raised = user.get_session_auth_hash()
    assert raised != djangos
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    assert list(user.get_session_auth_fallback_hash()) == [raised]
    user.session_generation = 2
    assert user.get_session_auth_hash() not in {djangos, raised}


@pytest.mark.usefixtures("redis_unreachable")
def test_a_browser_refused_after_such_a_sign_out_leaves_the_new_session_signed_in(
    tenant_a: Tenant,
) -> None:
    url = f"/o/{tenant_a.organization.slug}/students/"
    client, other_browser = client_for(tenant_a.admin), client_for(tenant_a.admin)
    assert client.post("/accounts/logout/").status_code == 302
    tenant_a.admin.refresh_from_db()  # as a sign-in reads it
    client = client_for(tenant_a.admin)  # signed in again, during the outage

    assert other_browser.get(url).status_code == 302  # refused, and its session flushed

    assert client.get(url).status_code == 200
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.session_generation == 1
