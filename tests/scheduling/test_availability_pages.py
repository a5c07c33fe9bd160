"""Keeping availability through its pages (issue 13, item 1; docs/scheduling.md,
"Availability"): a provider edits their own weekly hours and exceptions, an admin anyone's, no
provider another's; overlapping or backwards hours are refused with their message; the page shows
the week in the center's zone, with time off and extra hours in it."""

import re
from datetime import time

import pytest

from matchpal.errors import PermissionDeniedError
from providers import services
from providers.models import AvailabilityException, AvailabilityWindow
from tests.support import Tenant, client_for, member, other_provider, refused

pytestmark = pytest.mark.usefixtures("clock")  # Wednesday June 11 2025, week of Monday June 9


def url(tenant: Tenant, provider, action: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/o/{tenant.organization.slug}/providers/{provider.public_id}/availability/{action}"


WINDOW_START, WINDOW_END = time(9), time(12)
WEEKLY = {"weekday": "3", "start": "15:00", "end": "18:00", "mode": "online"}


def week_text(tenant: Tenant, client, provider) -> str:  # type: ignore[no-untyped-def]
    """The week's list as text: one line per day, its openings after it."""
    html = client.get(url(tenant, provider)).content.decode()
    week = html.split('<ul class="list-group mb-4 mp-week">')[1].split("</ul>")[0]
    text = re.sub(r"<[^>]+>", " ", week).replace("&amp;", "&")
    return re.sub(r"\s+", " ", text).strip()


def test_a_provider_publishes_weekly_hours_and_sees_them_in_the_week(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.provider_user)
    meeting = "https://meet.example/tom"

    response = client.post(
        url(tenant_a, tenant_a.provider, "hours/new/"), WEEKLY | {"location": meeting}
    )

    assert response.status_code == 302
    assert response["Location"] == url(tenant_a, tenant_a.provider)
    window = AvailabilityWindow.objects.get(provider=tenant_a.provider)
    assert (window.weekday, str(window), window.mode, window.location) == (
        3,
        "Thursday 15:00–18:00",
        "online",
        meeting,
    )
    # Local times of the center's zone (New York), not UTC; the other days are closed.
    assert week_text(tenant_a, client, tenant_a.provider) == (
        "Monday, Jun 9 Not available Tuesday, Jun 10 Not available "
        "Wednesday, Jun 11 Not available "
        f"Thursday, Jun 12 15:00–18:00 · Online · {meeting} "
        "Friday, Jun 13 Not available Saturday, Jun 14 Not available "
        "Sunday, Jun 15 Not available"
    )


def test_time_off_and_extra_hours_change_that_week_only(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.provider_user)
    client.post(url(tenant_a, tenant_a.provider, "hours/new/"), WEEKLY)
    off = {"kind": "off", "date": "2025-06-12", "note": "Dentist", "mode": "in_person"}
    extra = {
        "kind": "extra",
        "date": "2025-06-14",
        "start": "10:00",
        "end": "11:30",
        "mode": "in_person",
        "location": "Room 4",
    }

    for data in (off, extra):
        response = client.post(url(tenant_a, tenant_a.provider, "exceptions/new/"), data)
        assert response.status_code == 302, response.content.decode()[:2000]

    text = week_text(tenant_a, client, tenant_a.provider)
    assert "Thursday, Jun 12 Not available Time off (whole day): Dentist Friday" in text
    assert "Saturday, Jun 14 10:00–11:30 · In person · Room 4 Extra hours 10:00–11:30" in text
    next_week = client.get(url(tenant_a, tenant_a.provider) + "?week=2025-06-19")
    assert [(day.isoformat(), len(opens)) for day, opens, _ in next_week.context["week"]][3] == (
        "2025-06-19",
        1,
    )


def test_an_admin_keeps_any_providers_hours(tenant_a: Tenant) -> None:
    _, provider = other_provider(tenant_a)
    client = client_for(tenant_a.admin)

    response = client.post(url(tenant_a, provider, "hours/new/"), WEEKLY)

    assert response.status_code == 302
    window = AvailabilityWindow.objects.get(provider=provider)
    assert client.get(url(tenant_a, provider)).status_code == 200
    client.post(url(tenant_a, provider, f"hours/{window.public_id}/remove/"))
    assert not AvailabilityWindow.objects.filter(provider=provider).exists()


def test_a_provider_cannot_see_or_change_another_providers_hours(tenant_a: Tenant) -> None:
    _, provider = other_provider(tenant_a)
    window = services.availability_window_add(
        membership=member(tenant_a.admin, tenant_a.organization),
        provider=provider,
        weekday=3,
        start=WINDOW_START,
        end=WINDOW_END,
        mode="in_person",
    )
    client = client_for(tenant_a.provider_user)

    assert client.get(url(tenant_a, provider)).status_code == 403
    assert client.post(url(tenant_a, provider, "hours/new/"), WEEKLY).status_code == 403
    remove = client.post(url(tenant_a, provider, f"hours/{window.public_id}/remove/"))
    assert remove.status_code == 403
    assert list(AvailabilityWindow.objects.filter(provider=provider)) == [window]
    # The service refuses it too, whoever calls it.
    refused(
        lambda: services.availability_window_add(
            membership=member(tenant_a.provider_user, tenant_a.organization),
            provider=provider,
            weekday=4,
            start=WINDOW_START,
            end=WINDOW_END,
            mode="in_person",
        ),
        services.AVAILABILITY_NOT_YOURS,
        error=PermissionDeniedError,
    )


def test_overlapping_or_backwards_hours_are_refused_on_their_field(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.provider_user)
    add = url(tenant_a, tenant_a.provider, "hours/new/")
    client.post(add, WEEKLY)

    overlap = client.post(add, WEEKLY | {"start": "17:00", "end": "19:00"})
    backwards = client.post(add, WEEKLY | {"weekday": "4", "start": "12:00", "end": "11:00"})

    assert overlap.context["form"].errors == {
        "start": ["These hours overlap your Thursday hours 15:00–18:00."]
    }
    assert backwards.context["form"].errors == {"end": [services.END_BEFORE_START]}
    assert AvailabilityWindow.objects.filter(provider=tenant_a.provider).count() == 1
    # Touching hours do not overlap.
    assert client.post(add, WEEKLY | {"start": "18:00", "end": "19:00"}).status_code == 302


def test_exceptions_need_both_times_and_extra_hours_need_times(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.provider_user)
    add = url(tenant_a, tenant_a.provider, "exceptions/new/")
    day = {"date": "2025-06-13", "mode": "in_person"}

    extra_without_times = client.post(add, day | {"kind": "extra"})
    start_only = client.post(add, day | {"kind": "off", "start": "09:00"})
    backwards = client.post(add, day | {"kind": "off", "start": "11:00", "end": "10:00"})

    assert extra_without_times.context["form"].errors == {"start": [services.EXTRA_NEEDS_TIMES]}
    assert start_only.context["form"].errors == {"end": [services.BOTH_TIMES]}
    assert backwards.context["form"].errors == {"end": [services.END_BEFORE_START]}
    assert not AvailabilityException.objects.exists()
