"""How the student meets the provider (docs/scheduling.md, "Booking", step 3): where the
provider's hours overlap at the time picked (an online window over an in-person one), the
student chooses; the session takes the mode and the place of the hours chosen."""

from datetime import date, time

import pytest

from providers import services as providers
from providers.models import ExceptionKind, MeetingMode
from sessions_app import booking, slots
from sessions_app.models import SessionStatus
from tests.scheduling.support import book
from tests.support import Tenant, at, client_for, fresh, member, refused

pytestmark = pytest.mark.django_db


def _online_too(tenant: Tenant) -> None:
    """Extra hours online on Thursday June 12, 16:00–17:00, over the weekly in-person
    15:00–18:00 (the `rel` fixture): weekly hours never overlap each other, extra hours may."""
    providers.availability_exception_add(
        membership=member(tenant.provider_user, tenant.organization),
        provider=tenant.provider,
        kind=ExceptionKind.EXTRA,
        date=date(2025, 6, 12),
        start=time(16),
        end=time(17),
        mode=MeetingMode.ONLINE,
        location="https://meet.example/t",
    )


def test_overlapping_hours_offer_both_ways(tenant_a: Tenant, rel) -> None:
    _online_too(tenant_a)
    org = tenant_a.organization
    [offer] = slots.offers_at(organization=org, relationships=[rel], starts_at=at(12, 16))
    assert offer.modes == ["in_person", "online"]
    [only] = slots.offers_at(organization=org, relationships=[rel], starts_at=at(12, 15))
    assert only.modes == ["in_person"]


def test_the_session_takes_the_mode_and_place_chosen(tenant_a: Tenant, rel) -> None:
    _online_too(tenant_a)
    [online] = book(tenant_a, rel, at(12, 16), mode="online")
    online = fresh(online)
    assert (online.status, online.mode, online.location) == (
        SessionStatus.SCHEDULED,
        "online",
        "https://meet.example/t",
    )


def test_without_a_choice_it_is_the_first_hours(tenant_a: Tenant, rel) -> None:
    _online_too(tenant_a)
    [session] = book(tenant_a, rel, at(12, 16))
    assert (fresh(session).mode, fresh(session).location) == ("in_person", "Room 2")


def test_a_mode_the_provider_does_not_offer_then_is_refused(tenant_a: Tenant, rel) -> None:
    refused(
        lambda: book(tenant_a, rel, at(12, 15), mode="online"),
        booking.MODE_NOT_OFFERED.format(
            provider=tenant_a.provider.name, mode="online", when="Thu Jun 12 at 15:00"
        ),
    )


def test_the_form_asks_only_where_there_is_a_choice(tenant_a: Tenant, rel) -> None:
    client = client_for(tenant_a.student_user)
    path = f"/o/{tenant_a.organization.slug}/book/confirm/"
    plain = client.get(path, {"at": at(12, 15).isoformat()})
    assert not plain.context["form"].choosing_mode
    assert b'name="mode"' not in plain.content

    _online_too(tenant_a)
    page = client.get(path, {"at": at(12, 16).isoformat()})
    assert page.context["form"].choosing_mode
    assert b"How you meet" in page.content
    sent = client.post(
        f"{path}?at={at(12, 16).isoformat().replace('+', '%2B')}",
        {"provider": str(rel.public_id), "mode": "online", "repeat": "once"},
    )
    assert sent.status_code == 302
    session = rel.sessions.get()
    assert (session.mode, session.location) == ("online", "https://meet.example/t")


def test_the_form_refuses_a_mode_on_its_field(tenant_a: Tenant, rel) -> None:
    client = client_for(tenant_a.student_user)
    path = f"/o/{tenant_a.organization.slug}/book/confirm/"
    at_15 = at(12, 15).isoformat().replace("+", "%2B")

    page = client.post(
        f"{path}?at={at_15}", {"provider": str(rel.public_id), "mode": "online", "repeat": "once"}
    )

    assert page.status_code == 200
    assert page.context["form"].errors["mode"] == [
        f"{tenant_a.provider.name} meets in person then."
    ]
    assert not rel.sessions.exists()
