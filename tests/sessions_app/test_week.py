"""The week view (docs/scheduling.md, "Calendar"): each role's own sessions, an admin's center
or one provider's, Monday to Sunday in the center's time zone."""

import pytest
from django.urls import reverse

from tests.support import NY, Tenant, at, client_for, log, other_provider, paired, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def _week(client, tenant: Tenant, query: str = ""):  # type: ignore[no-untyped-def]
    return client.get(reverse("sessions_app:week", args=[tenant.organization.slug]) + query)


def _shown(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {
        f"{d.day:%a %d}": [f"{s.starts_at.astimezone(NY):%H:%M}" for s in d.sessions]
        for d in response.context["week"].days
        if d.sessions
    }


def test_each_role_sees_its_own_week(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, time_zone="America/New_York")
    log(tenant_a, rel, starts_at=at(9, 8), scheduled=True)  # Monday
    log(tenant_a, rel, starts_at=at(15, 23, 30), scheduled=True)  # Sunday, late
    log(tenant_a, rel, starts_at=at(16, 0, 30), scheduled=True)  # next Monday
    _, other = other_provider(tenant_a)
    theirs = paired(tenant_a, provider=other, quantity=120)
    log(tenant_a, theirs, starts_at=at(12, 9), scheduled=True, by="admin")

    own = {"Mon 09": ["08:00"], "Sun 15": ["23:30"]}
    assert _shown(_week(client_for(tenant_a.provider_user), tenant_a)) == own
    assert _shown(_week(client_for(tenant_a.student_user), tenant_a)) == {
        **own,
        "Thu 12": ["09:00"],
    }
    admin = client_for(tenant_a.admin)
    assert _shown(_week(admin, tenant_a)) == {**own, "Thu 12": ["09:00"]}
    assert _shown(_week(admin, tenant_a, f"?provider={other.public_id}")) == {"Thu 12": ["09:00"]}
    assert _shown(_week(admin, tenant_a, "?week=2025-06-18")) == {"Mon 16": ["00:30"]}


@pytest.mark.parametrize("provider", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_provider_is_an_error_on_the_picker(tenant_a: Tenant, provider: str) -> None:
    response = _week(client_for(tenant_a.admin), tenant_a, f"?provider={provider}")

    assert response.status_code == 200
    assert response.context["form"].errors["provider"]
    assert response.context["provider"] is None


@pytest.mark.parametrize("week", ["junk", "1900-01-01", "2025-02-30"])
def test_a_bad_week_shows_this_week(tenant_a: Tenant, week: str) -> None:
    response = _week(client_for(tenant_a.provider_user), tenant_a, f"?week={week}")

    assert response.status_code == 200
    assert f"{response.context['monday']}" == "2025-06-09"
