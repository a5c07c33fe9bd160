"""The "Log a session" picker's search box reads any text a person can type or paste."""

from django.test import Client

from tests.support import Tenant


def test_a_nul_byte_in_the_search_is_dropped_not_a_server_error(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    admin_client_a.raise_request_exception = False
    new = f"/o/{tenant_a.organization.slug}/sessions/new/"

    response = admin_client_a.get(new, {"q": "nob\x00ody"})

    assert response.status_code == 200
    assert response.context["q"] == "nobody"
    assert response.context["rows"] == []
