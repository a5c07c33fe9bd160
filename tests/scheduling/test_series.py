"""Weekly series: every week until a date or N times, each occurrence an ordinary session;
the form's warning; cancelling one or this and the following (docs/scheduling.md)."""

from datetime import UTC, datetime, time

import pytest
import time_machine

from sessions_app import booking
from sessions_app.booking import Series
from sessions_app.models import Session, SessionStatus
from sessions_app.services import session_cancel
from tests.scheduling.support import book, hours
from tests.support import NY, Tenant, at, member, paired, past_grant, refused

pytestmark = pytest.mark.django_db


def starts(sessions: list[Session]) -> list[str]:
    return [f"{s.starts_at.astimezone(NY):%b %d %H:%M}" for s in sessions]


def test_n_times_books_that_many_weekly_sessions_of_one_series(tenant_a: Tenant, rel) -> None:
    booked = book(tenant_a, rel, at(12, 15), series=Series(count=3))
    assert starts(booked) == ["Jun 12 15:00", "Jun 19 15:00", "Jun 26 15:00"]
    assert len({s.series for s in booked}) == 1
    assert booked[0].series is not None
    assert {s.status for s in booked} == {SessionStatus.SCHEDULED}


def test_until_a_date_includes_that_date(tenant_a: Tenant, rel) -> None:
    booked = book(tenant_a, rel, at(12, 15), series=Series(until=datetime(2025, 7, 3).date()))
    assert starts(booked) == ["Jun 12 15:00", "Jun 19 15:00", "Jun 26 15:00", "Jul 03 15:00"]


def test_a_series_keeps_its_wall_clock_time_across_the_autumn_change(tenant_a: Tenant) -> None:
    with time_machine.travel(datetime(2025, 10, 27, 12, tzinfo=NY), tick=False):
        past_grant(tenant_a.student, 900)
        relationship = paired(tenant_a, quantity=600)
        hours(tenant_a, 3, "15:00", "18:00")
        booked = book(tenant_a, relationship, at(30, 15, month=10), series=Series(count=2))
    assert starts(booked) == ["Oct 30 15:00", "Nov 06 15:00"]
    assert [s.starts_at.astimezone(UTC).time() for s in booked] == [time(19), time(20)]


def test_an_occurrence_the_provider_is_off_refuses_the_series(tenant_a: Tenant, rel) -> None:
    from datetime import date

    from providers import services as providers
    from providers.models import ExceptionKind

    providers.availability_exception_add(
        membership=member(tenant_a.provider_user, tenant_a.organization),
        provider=tenant_a.provider,
        kind=ExceptionKind.TIME_OFF,
        date=date(2025, 6, 19),
        start=None,
        end=None,
    )
    refused(
        lambda: book(tenant_a, rel, at(12, 15), series=Series(count=3)),
        booking.NOT_FREE.format(provider=tenant_a.provider.name, when="Thu Jun 19 at 15:00"),
    )
    assert not Session.objects.exists()


def test_the_form_warns_when_the_series_will_not_fit_the_reservation(
    tenant_a: Tenant, clock
) -> None:
    past_grant(tenant_a.student, 900)
    relationship = paired(tenant_a, quantity=150)
    assert booking.series_warning(relationship, minutes=60, count=2) is None
    assert booking.series_warning(relationship, minutes=60, count=4) == (
        "The reservation covers 2 of these 4 sessions (2 h 30 min left, 4 h needed); ask the "
        "center for more hours or book fewer."
    )
    hours(tenant_a, 3, "15:00", "18:00")
    refused(
        lambda: book(tenant_a, relationship, at(12, 15), series=Series(count=4)),
        "This needs 4 h; 2 h 30 min remains reserved.",
    )


def test_series_bounds(tenant_a: Tenant, rel) -> None:
    refused(
        lambda: book(tenant_a, rel, at(12, 15), series=Series(count=27)),
        booking.SERIES_TOO_LONG.format(n=26),
    )
    refused(
        lambda: book(tenant_a, rel, at(12, 15), series=Series(until=datetime(2025, 6, 1).date())),
        booking.SERIES_END_BEFORE,
    )


def test_cancel_one_occurrence_or_this_and_the_following(tenant_a: Tenant, rel) -> None:
    first, second, third, fourth = book(tenant_a, rel, at(12, 15), series=Series(count=4))
    admin = member(tenant_a.admin, tenant_a.organization)
    session_cancel(membership=admin, session=second, reason="Exam week")
    cancelled = booking.series_cancel_following(membership=admin, session=third, reason="Term ends")
    assert [s.pk for s in cancelled] == [third.pk, fourth.pk]
    statuses = dict(Session.objects.filter(series=first.series).values_list("pk", "status"))
    assert statuses == {
        first.pk: SessionStatus.SCHEDULED,
        second.pk: SessionStatus.CANCELLED,
        third.pk: SessionStatus.CANCELLED,
        fourth.pk: SessionStatus.CANCELLED,
    }
    # Their times are free again; the first stays booked.
    assert booking.reserved_left(rel) == 600 - 60


def test_reschedule_one_occurrence(tenant_a: Tenant, rel) -> None:
    from sessions_app.services import session_reschedule

    first, second = book(tenant_a, rel, at(12, 15), series=Series(count=2))
    session_reschedule(
        membership=member(tenant_a.admin, tenant_a.organization),
        session=second,
        starts_at=at(20, 10),
    )
    second.refresh_from_db()
    assert (second.starts_at, second.series) == (at(20, 10), first.series)
