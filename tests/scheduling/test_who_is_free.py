"""Booking with more than one provider (issue 13, item 2; docs/scheduling.md, "Booking"): the
week merges the free times of every provider the student is paired with for the service; a
chosen time offers only the providers free then, each with their profile; a request then stands
above the confirmed sessions on the provider's home."""

import re
from datetime import date, time

import pytest

from providers import services as providers
from providers.models import Provider
from relationships.models import Relationship
from tests.scheduling.support import book, hours
from tests.support import Tenant, at, client_for, member, other_provider, paired, set_policy


@pytest.fixture
def second(tenant_a: Tenant, rel: Relationship) -> tuple[Provider, Relationship]:
    """A second tutor of the student, open on Thursdays 16:00–18:00 (the first: 15:00–18:00)."""
    _, provider = other_provider(tenant_a)
    Provider.objects.filter(pk=provider.pk).update(bio="Maths teacher; exam preparation.")
    provider.refresh_from_db()
    hours(tenant_a, 3, "16:00", "18:00", provider=provider, location="Room 5")
    return provider, paired(tenant_a, quantity=300, provider=provider)


def free_then(tenant: Tenant, hour: int) -> str:
    """The "Free then" part of the confirm page for Thursday June 12 at `hour`:00, as text."""
    response = client_for(tenant.student_user).get(
        f"/o/{tenant.organization.slug}/book/confirm/", {"at": at(12, hour).isoformat()}
    )
    assert response.status_code == 200
    html = response.content.decode()
    part = html.split("<legend", 1)[1].split("</fieldset>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", part.split(">", 1)[1])).strip()


def test_the_week_merges_the_free_times_of_both_providers(tenant_a: Tenant, rel, second) -> None:
    page = client_for(tenant_a.student_user).get(f"/o/{tenant_a.organization.slug}/book/")

    thursday = {
        f"{slot.start.astimezone(tenant_a.organization.tz):%H:%M}": sorted(
            offer.provider.name for offer in slot.offers
        )
        for day in page.context["days"]
        for slot in day[1]
    }
    first, other = tenant_a.provider.name, second[0].name
    assert thursday == {
        "15:00": [first],
        "15:30": [first],
        "16:00": sorted([first, other]),
        "16:30": sorted([first, other]),
        "17:00": sorted([first, other]),
    }


def test_a_time_offers_only_who_is_free_then_with_their_profile(
    tenant_a: Tenant, rel, second
) -> None:
    provider, _ = second
    assert free_then(tenant_a, 15) == f"Free then {tenant_a.provider.name} · In person (Room 2)"

    providers.availability_exception_add(  # the first tutor is now off 16:00–17:00
        membership=member(tenant_a.admin, tenant_a.organization),
        provider=tenant_a.provider,
        kind="off",
        date=date(2025, 6, 12),
        start=time(16),
        end=time(17),
    )

    assert free_then(tenant_a, 16) == (
        f"Free then {provider.name} · In person (Room 5) Maths teacher; exam preparation."
    )


def test_a_request_stands_above_the_confirmed_sessions_on_the_providers_home(
    tenant_a: Tenant, rel
) -> None:
    book(tenant_a, rel, at(12, 15), topic="Confirmed first")
    set_policy(tenant_a.organization, booking_auto_accept=False)
    rel.refresh_from_db()
    book(tenant_a, rel, at(19, 16), topic="Asked later")

    html = client_for(tenant_a.provider_user).get(f"/o/{tenant_a.organization.slug}/").content

    text = html.decode()
    requests = text.index('data-testid="session-requests"')
    upcoming = text.index('data-testid="upcoming-sessions"')
    assert requests < upcoming
    assert "Asked later" in text[requests:upcoming]
    assert "Confirmed first" in text[upcoming:]
    assert "Asked later" not in text[upcoming:]
