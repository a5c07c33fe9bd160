import pytest

from tests.conftest import Tenant


@pytest.mark.django_db
def test_admin_home_shows_real_counts(admin_client_a, tenant_a: Tenant) -> None:
    response = admin_client_a.get(f"/o/{tenant_a.organization.slug}/")
    assert response.status_code == 200
    assert response.context["students"]["active"] == 1
    assert response.context["providers"]["active"] == 1
