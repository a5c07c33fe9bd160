"""The session store (matchpal/sessions.py): sessions read from the cache, so a signed-in page
reads no session row; with the cache unreachable, pages still answer from the database."""

import pytest
from django.conf import LazySettings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support import Tenant, client_for

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


def test_an_unreachable_cache_falls_back_to_the_database(
    tenant_a: Tenant, settings: LazySettings
) -> None:
    client = client_for(tenant_a.admin)
    settings.CACHES = {
        "default": {
            "BACKEND": "matchpal.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    url = f"/o/{tenant_a.organization.slug}/students/"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert tenant_a.student.name in response.content.decode()
    assert _session_reads(queries) == 1
