"""Each member's private calendar feed (docs/scheduling.md, "Calendar"): a URL with a token, no
sign-in, their own sessions only; making a new link revokes the old one."""

import pytest
from django.urls import reverse
from icalendar import Calendar

from sessions_app import calendar
from sessions_app.models import CalendarFeed
from tests.support import Tenant, at, client_for, log, member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def _feed_url(tenant: Tenant, user) -> str:  # type: ignore[no-untyped-def]
    feed = calendar.feed_regenerate(membership=member(user, tenant.organization))
    return reverse("calendar:feed", args=[feed.token])


def _uids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = Calendar.from_ical(response.content)
    assert str(cal["METHOD"]) == "PUBLISH"
    return sorted(str(e["UID"]) for e in cal.walk("VEVENT"))


def test_the_feed_lists_the_members_own_sessions_without_signing_in(
    tenant_a: Tenant, rel, tenant_b: Tenant
) -> None:
    ahead = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    done = log(tenant_a, rel, starts_at=at(10, 15))
    url = _feed_url(tenant_a, tenant_a.student_user)

    response = client_for(None).get(url)

    assert response.status_code == 200
    assert _uids(response) == sorted(calendar.uid(s) for s in (ahead, done))
    # Another center's member sees none of them.
    other = client_for(None).get(_feed_url(tenant_b, tenant_b.student_user))
    assert _uids(other) == []


def test_a_new_link_revokes_the_old_one(tenant_a: Tenant) -> None:
    old = _feed_url(tenant_a, tenant_a.provider_user)
    new = _feed_url(tenant_a, tenant_a.provider_user)

    assert old != new
    assert client_for(None).get(old).status_code == 404
    assert client_for(None).get(new).status_code == 200
    assert CalendarFeed.objects.count() == 1


def test_the_page_makes_and_shows_the_link(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.student_user)
    path = reverse("sessions_app:calendar_feed", args=[tenant_a.organization.slug])

    assert client.get(path).context["feed_url"] is None
    response = client.post(path)

    assert response.status_code == 302
    feed = CalendarFeed.objects.get()
    assert client.get(path).context["feed_url"] == f"http://testserver/calendar/{feed.token}.ics"


@pytest.mark.parametrize("token", ["unknown-token", "x" * 100])
def test_an_unknown_token_is_not_found(token: str) -> None:
    assert client_for(None).get(f"/calendar/{token}.ics").status_code == 404
