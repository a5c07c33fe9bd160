"""The students' summaries (`StudentBalance`): every ledger path keeps them equal to their
grants (the autouse reconcile of this folder checks them after every test here and in the
other service tests), concurrent writers lose no update, reconcile finds a tampered one, and
Free to book read from them is the grants' own, whatever the clock."""

from datetime import timedelta
from functools import partial

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from grants import balances, services
from grants.models import Grant, StudentBalance
from grants.reconcile import find_differences
from grants.selectors import low_balance_students, with_balances
from students.models import Student
from tests.factories import StudentFactory, make_grant
from tests.grants.services.support import DAY, consume
from tests.threads import run_together

pytestmark = pytest.mark.django_db


def summaries(student: Student) -> dict[str, int]:
    return dict(
        StudentBalance.objects.filter(student=student).values_list("unit", "active_available")
    )


def free_on_active_grants(student: Student) -> dict[str, int]:
    """The summary's definition, from the grants."""
    out: dict[str, int] = {}
    for grant in Grant.objects.filter(student=student):
        out.setdefault(grant.unit, 0)
        if grant.status == "active":
            out[grant.unit] += grant.available
    return out


def test_every_ledger_path_moves_the_summary_as_the_grants(student, admin, rel, rel2) -> None:
    a = make_grant(student=student, minutes=600, expires_at=timezone.now() + 10 * DAY)
    assert summaries(student) == {"minutes": 600}
    b = make_grant(student=student, minutes=100, service_types=("Tutoring", "Advising"))
    make_grant(student=student, minutes=4, unit="sessions")
    assert summaries(student) == {"minutes": 700, "sessions": 4}
    steps = [
        lambda: services.hold(actor=None, relationship=rel, quantity=200),
        lambda: services.hold(actor=None, relationship=rel2, quantity=50),
        lambda: consume(rel, 45),
        lambda: services.restore(
            actor=None, relationship=rel, session=consume(rel, 15)[0], to_hold=False
        ),
        lambda: consume(rel, 500, draw_shortfall=True),
        lambda: services.release(actor=None, relationship=rel2, quantity=20),
        lambda: services.grant_adjust(actor=admin, grant=b, delta=-30, reason="Fix"),
        lambda: services.grant_adjust(actor=admin, grant=b, delta=80, reason="Fix"),
        lambda: services.grant_transfer(
            actor=admin, from_grant=b, to_grant=a, quantity=25, reason="Move"
        ),
        lambda: services.grant_refund(actor=admin, grant=b, quantity=10, reason="Refund"),
        lambda: services.grant_expire(actor=admin, grant=a),
        lambda: services.grant_extend(
            actor=admin, grant=a, expires_at=timezone.now() + 20 * DAY, reason="Extend"
        ),
    ]
    for step in steps:
        step()
        assert summaries(student) == free_on_active_grants(student)
    assert find_differences() == []


def test_reconcile_finds_a_tampered_missing_or_extra_summary(student, org) -> None:
    make_grant(student=student, minutes=600)
    make_grant(student=student, minutes=3, unit="sessions", service_types=("Tutoring",))
    other = StudentFactory(organization=org)
    assert find_differences() == []

    StudentBalance.objects.filter(student=student, unit="minutes").update(active_available=590)
    StudentBalance.objects.filter(student=student, unit="sessions").delete()
    StudentBalance.objects.create(
        organization=org, student=other, unit="minutes", active_available=0
    )
    found = {(d.pk, d.what, d.column, d.stored, d.from_ledger) for d in find_differences()}
    assert found == {
        (student.pk, "student minutes summary", "amount", 590, 600),
        (student.pk, "student sessions summary", "missing", 0, 3),
        (other.pk, "student minutes summary", "without grants", 0, 0),
    }
    scoped = find_differences(organization_id=org.pk)
    assert (
        str(scoped[0])
        == f"student minutes summary {student.pk}: amount is 590, the ledger says 600"
    )

    balances.rebuild(organization_id=org.pk)
    assert find_differences() == []
    assert summaries(student) == {"minutes": 600, "sessions": 3}


def test_free_to_book_from_the_summary_follows_the_clock(student, org) -> None:
    """Grants not valid yet and grants past their expiry that the daily job has not marked
    are in the summary (it counts active grants) but not free to book: the admin home's list
    subtracts them, as `with_balances` does, at every moment."""
    now = timezone.now()
    Student.objects.filter(pk=student.pk).update(name="Zed Active")
    soon = StudentFactory(organization=org, name="Soon valid")
    make_grant(student=soon, minutes=600, valid_from=now + 2 * DAY)
    ending = StudentFactory(organization=org, name="Ending")
    make_grant(student=ending, minutes=600, expires_at=now + 1 * DAY)
    make_grant(student=ending, minutes=100)
    make_grant(student=student, minutes=500)

    def listed() -> list[tuple[str, int]]:
        return [(s.name, s.free_minutes) for s in low_balance_students(organization=org)]

    def expected() -> list[tuple[str, int]]:
        everyone = with_balances(Student.objects.filter(organization=org), organization=org)
        flagged = sorted(
            (s for s in everyone if s.low_balance), key=lambda s: (s.free_minutes, s.name, s.pk)
        )
        return [(s.name, s.free_minutes) for s in flagged]

    assert listed() == expected() == [("Soon valid", 0)]
    with time_machine.travel(now + 1 * DAY + timedelta(hours=1), tick=False):
        # Past its expiry, not marked yet: its 600 min are no longer free to book.
        assert listed() == expected() == [("Soon valid", 0), ("Ending", 100)]
    with time_machine.travel(now + 3 * DAY, tick=False):
        assert listed() == expected() == [("Ending", 100)]
        services.expire_due_grants()
        assert listed() == expected() == [("Ending", 100)]
    assert find_differences() == []


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_on_one_student_lose_no_update(tenant_a) -> None:
    """Writers on different grants of one student lock different grants: only the summary's
    row is shared, and each adds to it under its row lock."""
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    student = tenant_a.student
    grants = [make_grant(student=student, minutes=1000) for _ in range(4)]
    adjust = services.grant_adjust.__wrapped__  # type: ignore[attr-defined]
    rounds = 15

    def writer(grant: Grant, delta: int) -> int:
        for _ in range(rounds):
            adjust(actor=tenant_a.admin, grant=grant, delta=delta, reason="Race")
        return rounds

    def creator() -> int:
        for _ in range(rounds):
            make_grant(student=student, minutes=1)
        return rounds

    outcomes = run_together(
        partial(writer, grants[0], 3),
        partial(writer, grants[1], -2),
        partial(writer, grants[2], 5),
        partial(writer, grants[3], -1),
        creator,
        timeout=120,
    )
    assert outcomes == [("ok", rounds)] * 5
    assert summaries(student) == {"minutes": 4000 + rounds * (3 - 2 + 5 - 1 + 1)}
    assert find_differences() == []


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_a_new_student_s_first_grants_at_once_make_one_summary(tenant_a) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    student = StudentFactory(organization=tenant_a.organization)
    outcomes = run_together(*(partial(make_grant, student=student, minutes=10) for _ in range(4)))
    assert [status for status, _ in outcomes] == ["ok"] * 4
    assert StudentBalance.objects.filter(student=student).count() == 1
    assert summaries(student) == {"minutes": 40}
    assert find_differences() == []
