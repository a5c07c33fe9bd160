"""Consuming held hours for a session (DESIGN §3)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from grants import services
from grants.models import GrantEntry
from grants.services import Consumption, InsufficientHours
from tests.factories import make_grant
from tests.grants.ledger_support import allocation, assert_reconciled, balance, snapshot
from tests.grants.services.support import DAY, consume, refused

pytestmark = pytest.mark.django_db


def test_consume_from_holds_soonest_expiry_first(rel, three_grants) -> None:
    sooner, later, never = three_grants
    services.hold(actor=None, relationship=rel, quantity=160)

    session, result = consume(rel, 90)

    assert result == [Consumption(sooner.pk, 60, True), Consumption(later.pk, 30, True)]
    assert [balance(g) for g in (sooner, later, never)] == [(60, 60, 0), (100, 30, 70), (500, 0, 0)]
    assert [allocation(rel, g) for g in (sooner, later)] == [(0, 60), (70, 30)]
    assert list(
        GrantEntry.objects.filter(kind="consume")
        .order_by("pk")
        .values_list("grant_id", "used_delta", "held_delta", "session", "relationship", "reason")
    ) == [(sooner.pk, 60, -60, session.pk, rel.pk, ""), (later.pk, 30, -30, session.pk, rel.pk, "")]
    assert services.consumed_for_session(session=session) == {sooner.pk: 60, later.pk: 30}
    assert_reconciled()


def test_consume_uses_only_holds_valid_on_the_session_date(rel, three_grants) -> None:
    sooner, later, never = three_grants
    services.hold(actor=None, relationship=rel, quantity=160)
    in_two_weeks = timezone.now() + 15 * DAY  # the 10-day grant has expired by then

    _, result = consume(rel, 90, at=in_two_weeks)

    assert result == [Consumption(later.pk, 90, True)]
    assert balance(sooner) == (60, 0, 60)
    assert balance(never) == (500, 0, 0)
    assert balance(later) == (100, 90, 10)

    before = snapshot()
    with refused(
        InsufficientHours,
        "Only 10 min are reserved for this relationship; the session needs 20 min.",
    ) as info:
        consume(rel, 20, at=in_two_weeks + timedelta(hours=2))
    assert info.value.shortfall == 10
    assert snapshot()[:2] == before[:2]
    assert GrantEntry.objects.count() == before[2]
    assert_reconciled()


def test_consume_draws_from_grants_valid_by_the_end_of_the_session_day(student, rel) -> None:
    """The organization is in New York (UTC−5 in early March): the session is at 08:00 there."""
    at = datetime(2031, 3, 1, 13, 0, tzinfo=UTC)
    same_day = make_grant(
        student=student, minutes=100, valid_from=datetime(2031, 3, 1, 20, 0, tzinfo=UTC)
    )  # 15:00 local
    make_grant(
        student=student, minutes=500, valid_from=datetime(2031, 3, 2, 6, 0, tzinfo=UTC)
    )  # 01:00 local, next day

    with refused(
        InsufficientHours,
        "The relationship's reserved hours and the student's hours free to book "
        "cover 1 h 40 min; the session needs 1 h 41 min.",
    ):
        consume(rel, 101, at=at, draw_shortfall=True)
    _, result = consume(rel, 100, at=at + timedelta(minutes=5), draw_shortfall=True)

    assert result == [Consumption(same_day.pk, 100, False)]
    assert balance(same_day) == (100, 100, 0)
    assert_reconciled()


def test_consume_refused_when_the_hold_is_short(student, rel) -> None:
    grant = make_grant(student=student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=60)
    before = snapshot()

    with refused(
        InsufficientHours,
        "Only 1 h are reserved for this relationship; the session needs 1 h 30 min.",
    ) as info:
        consume(rel, 90)

    assert info.value.shortfall == 30
    assert snapshot() == before
    assert balance(grant) == (600, 0, 60)


def test_consume_draws_the_shortfall_from_the_available_balance(student, rel) -> None:
    now = timezone.now()
    later = make_grant(student=student, minutes=600, expires_at=now + 30 * DAY)
    services.hold(actor=None, relationship=rel, quantity=60)
    sooner = make_grant(student=student, minutes=100, expires_at=now + 10 * DAY)
    advising = make_grant(
        student=student, minutes=500, service_types=("Advising",), expires_at=now + 5 * DAY
    )

    _, result = consume(rel, 90, draw_shortfall=True)

    assert result == [Consumption(later.pk, 60, True), Consumption(sooner.pk, 30, False)]
    assert balance(later) == (600, 60, 0)
    assert balance(sooner) == (100, 30, 0)
    assert balance(advising) == (500, 0, 0)
    assert allocation(rel, later) == (0, 60)
    assert allocation(rel, sooner) == (0, 30)
    assert list(
        GrantEntry.objects.filter(kind="consume")
        .order_by("pk")
        .values_list("grant_id", "used_delta", "held_delta", "reason")
    ) == [
        (later.pk, 60, -60, "Drawn from the hours free to book"),
        (sooner.pk, 30, 0, "Drawn from the hours free to book"),
    ]
    assert_reconciled()


def test_consume_with_draw_still_refused_when_both_are_short(student, rel) -> None:
    make_grant(student=student, minutes=100)
    make_grant(student=student, minutes=500, service_types=("Advising",))
    services.hold(actor=None, relationship=rel, quantity=60)
    before = snapshot()

    with refused(
        InsufficientHours,
        "The relationship's reserved hours and the student's hours free to book "
        "cover 1 h 40 min; the session needs 2 h.",
    ) as info:
        consume(rel, 120, draw_shortfall=True)

    assert info.value.shortfall == 20
    assert snapshot()[:2] == before[:2]
    assert GrantEntry.objects.count() == before[2]
