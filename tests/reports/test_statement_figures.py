"""A student's statement on a known history (docs/reports.md, "A student's statement"): the
opening balance of each grant, every movement of the range with the session it paid for, and
the closing balance; opening + movements = closing exactly, and a statement ending today closes
on the grant columns the balance page shows."""

from datetime import date, datetime

import pytest
from django.core.exceptions import PermissionDenied

from grants import services as ledger
from grants.models import Grant, GrantStatus
from relationships import services as rel_services
from reports.framework import Scope
from reports.statement import COLUMNS, StatementQuery, statement
from sessions_app import services
from tests.factories import StudentFactory, make_grant
from tests.support import (
    NY,
    Tenant,
    at,
    log_as_admin,
    member,
    paired,
    service_type,
)

pytestmark = [pytest.mark.django_db]

BALANCES = (*COLUMNS, "free")


def moment(day: int, month: int = 6) -> datetime:
    return datetime(2025, month, day, 12, 0, tzinfo=NY)


class History:
    """A student's spring: a grant and a pairing in May, then in June a purchase, sessions (one
    shortened, one cancelled), a refund, a transfer to advising, an expiry and the pairing's end.
    """

    def __init__(self, tenant: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
        admin = member(tenant.admin, tenant.organization)
        student = tenant.student
        clock.move_to(moment(20, 5))
        self.first = make_grant(student=student, minutes=600, reference="Order 1001")
        self.rel = paired(tenant, quantity=300)
        clock.move_to(moment(25, 5))
        log_as_admin(tenant, self.rel, at(25, 10, month=5), 60)
        # June.
        clock.move_to(moment(2))
        self.second = make_grant(student=student, minutes=300, reference="Order 1002")
        self.short = make_grant(
            student=student, minutes=120, reference="Gift", expires_at=moment(8)
        )
        clock.move_to(moment(3))
        shortened = log_as_admin(tenant, self.rel, at(3, 10), 90)
        clock.move_to(moment(4))
        services.session_edit(
            membership=admin, session=shortened, duration=60, reason="Ended early"
        )
        clock.move_to(moment(5))
        mistake = log_as_admin(tenant, self.rel, at(5, 10), 45)
        services.session_cancel(membership=admin, session=mistake, reason="Logged twice")
        clock.move_to(moment(6))
        ledger.grant_refund(
            actor=tenant.admin, grant=self.second, quantity=60, reason="Overcharged"
        )
        clock.move_to(moment(7))
        self.advising = ledger.grant_transfer(
            actor=tenant.admin,
            from_grant=self.second,
            quantity=60,
            reason="Wants advising",
            to_service_types=[service_type(tenant.organization, "Advising")],
        )
        clock.move_to(moment(8, 6).replace(hour=13))
        ledger.expire_due_grants()
        clock.move_to(moment(10))
        rel_services.relationship_complete(membership=admin, relationship=self.rel)
        # After the range.
        clock.move_to(moment(11))
        self.later = make_grant(student=student, minutes=60, reference="Order 1003")


@pytest.fixture
def history(tenant_a: Tenant, clock) -> History:  # type: ignore[no-untyped-def]
    return History(tenant_a, clock)


def query(tenant: Tenant, start: date, end: date, user=None, **kwargs) -> StatementQuery:  # type: ignore[no-untyped-def]
    scope = Scope(
        organization=tenant.organization,
        membership=member(user or tenant.admin, tenant.organization),
        start=start,
        end=end,
        **kwargs,
    )
    return StatementQuery(scope=scope, student=tenant.student)


def balances(grant: Grant, when: str) -> tuple[int, ...]:
    return tuple(getattr(grant, f"{when}_{name}") for name in BALANCES)


@pytest.mark.sqlite
def test_each_grant_opens_and_closes_on_its_ledger(tenant_a: Tenant, history: History) -> None:
    result = statement(query(tenant_a, date(2025, 6, 1), date(2025, 6, 10)))
    grants = {g.pk: g for g in result.grants}
    # Grants made after the range are not on it.
    assert set(grants) == {
        history.first.pk,
        history.second.pk,
        history.short.pk,
        history.advising.pk,
    }
    first = grants[history.first.pk]
    # June 1: 600 bought, 60 used in May, 240 still reserved for the pairing, 300 free.
    assert balances(first, "opening") == (600, 60, 240, 300)
    # June: 60 used (90, then 30 given back), the cancelled 45 given back, the rest released.
    assert balances(first, "closing") == (600, 120, 0, 480)
    assert (first.consumed, first.restored, first.released) == (135, 75, 180)
    second = grants[history.second.pk]
    assert balances(second, "opening") == (0, 0, 0, 0)
    assert (second.purchased, second.refunded, second.transferred_out) == (300, 60, 60)
    assert balances(second, "closing") == (180, 0, 0, 180)
    short = grants[history.short.pk]
    # Expired unused: 120 no longer free to book.
    assert (short.purchased, short.expired) == (120, 120)
    assert balances(short, "closing") == (120, 0, 0, 0)
    advising = grants[history.advising.pk]
    assert (advising.transferred_in, *balances(advising, "closing")) == (60, 60, 0, 0, 60)


@pytest.mark.sqlite
def test_opening_plus_movements_is_closing(tenant_a: Tenant, history: History) -> None:
    for start, end in [
        (date(2025, 5, 1), date(2025, 6, 30)),
        (date(2025, 6, 1), date(2025, 6, 10)),
        (date(2025, 6, 4), date(2025, 6, 7)),
        (date(2025, 6, 11), date(2025, 6, 11)),
    ]:
        result = statement(query(tenant_a, start, end))
        for grant in result.grants:
            moved = dict.fromkeys(BALANCES, 0)
            for entry in result.movements:
                if entry["grant_id"] == grant.pk:
                    for name, column in COLUMNS.items():
                        moved[name] += entry[column]
                    moved["free"] += entry["usable_delta"]
            for name in BALANCES:
                opening = getattr(grant, f"opening_{name}")
                assert opening + moved[name] == getattr(grant, f"closing_{name}"), (start, name)
        for unit in result.units:
            in_unit = [e for e in result.movements if e["unit"] == unit["unit"]]
            for name, column in COLUMNS.items():
                total = unit[f"opening_{name}"] + sum(e[column] for e in in_unit)
                assert total == unit[f"closing_{name}"]
            free = unit["opening_free"] + sum(e["usable_delta"] for e in in_unit)
            assert free == unit["closing_free"]
            if in_unit:
                assert in_unit[-1]["free_after"] == unit["closing_free"]


def test_a_statement_ending_today_closes_on_the_grant_columns(
    tenant_a: Tenant, history: History
) -> None:
    result = statement(query(tenant_a, date(2025, 6, 1), date(2025, 6, 11)))
    assert len(result.grants) == 5
    for grant in result.grants:
        stored = Grant.objects.get(pk=grant.pk)
        assert balances(grant, "closing")[:3] == (stored.total, stored.used, stored.held)
        free = stored.available if stored.status == GrantStatus.ACTIVE else 0
        assert grant.closing_free == free
    (minutes,) = result.units
    assert (minutes["closing_total"], minutes["closing_free"]) == (
        600 + 180 + 120 + 60 + 60,
        480 + 180 + 60 + 60,
    )


@pytest.mark.sqlite
def test_the_movements_name_what_they_paid_for(tenant_a: Tenant, history: History) -> None:
    result = statement(query(tenant_a, date(2025, 6, 3), date(2025, 6, 5)))
    rows = [
        (
            e["movement"],
            e["used_delta"],
            e["held_delta"],
            e["session_day"],
            e["provider"],
            e["free_after"],
        )
        for e in result.movements
    ]
    # 300 + 300 + 120 free on June 3 (the first grant's 240 reserved, 60 used).
    name = tenant_a.provider.name
    assert rows == [
        ("Used", 90, -90, date(2025, 6, 3), name, 720),
        ("Given back", -30, 30, date(2025, 6, 3), name, 720),
        ("Used", 45, -45, date(2025, 6, 5), name, 720),
        ("Given back", -45, 45, date(2025, 6, 5), name, 720),
    ]


def test_a_service_type_narrows_to_the_grants_covering_it(
    tenant_a: Tenant, history: History
) -> None:
    advising = service_type(tenant_a.organization, "Advising")
    result = statement(query(tenant_a, date(2025, 6, 1), date(2025, 6, 10), service_type=advising))
    assert [g.pk for g in result.grants] == [history.advising.pk]
    assert [e["kind"] for e in result.movements] == ["transfer_in"]


def test_who_may_read_a_statement(tenant_a: Tenant, tenant_b: Tenant, history: History) -> None:
    june = (date(2025, 6, 1), date(2025, 6, 10))
    own = statement(query(tenant_a, *june, tenant_a.student_user))
    assert len(own.grants) == 4
    with pytest.raises(PermissionDenied):
        statement(query(tenant_a, *june, tenant_a.provider_user))
    other = StatementQuery(
        scope=query(tenant_a, *june, tenant_a.student_user).scope,
        student=StudentFactory(organization=tenant_a.organization),
    )
    with pytest.raises(PermissionDenied):
        statement(other)
    # Another center's admin asking about this student (a forged query) finds nothing.
    forged = StatementQuery(scope=query(tenant_b, *june).scope, student=tenant_a.student)
    result = statement(forged)
    assert (result.grants, result.units, result.movements) == ([], [], [])
