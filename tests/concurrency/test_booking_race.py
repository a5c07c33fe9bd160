"""Two students grab the provider's last free slot at the same moment, against real
PostgreSQL transactions: one booking, and one clear message (docs/scheduling.md, "Never
double-booked")."""

import pytest
import time_machine

from sessions_app import booking
from sessions_app.models import Session, SessionStatus
from sessions_app.rules import SessionRuleError
from tests.factories import MembershipFactory, StudentFactory, UserFactory
from tests.scheduling.support import hours
from tests.support import NOW, Tenant, assert_reconciled, at, member, paired, past_grant
from tests.threads import run_together

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_two_students_booking_the_last_slot_get_one_booking_and_one_message(
    tenant_a: Tenant,
) -> None:
    with time_machine.travel(NOW, tick=False):
        org = tenant_a.organization
        past_grant(tenant_a.student, 600)
        first = paired(tenant_a, quantity=300)
        other_user = UserFactory(email="other@alpha.example")
        MembershipFactory(user=other_user, organization=org, role="student")
        other = StudentFactory(organization=org, user=other_user, email=other_user.email)
        past_grant(other, 600)
        second = paired(tenant_a, student=other, quantity=300)
        hours(tenant_a, 3, "15:00", "16:00")  # one slot: Thursday 15:00

        def grab(user, relationship):  # type: ignore[no-untyped-def]
            return lambda: booking.session_book(
                membership=member(user, org),
                relationship=relationship,
                starts_at=at(12, 15),
                now=NOW,
            )

        outcomes = run_together(grab(tenant_a.student_user, first), grab(other_user, second))
    assert sorted(status for status, _ in outcomes) == ["error", "ok"]
    [error] = [value for status, value in outcomes if status == "error"]
    assert isinstance(error, SessionRuleError)
    # Whichever lost: refused by the constraint (both checked before either inserted) or by
    # the free-slot check (the other had committed), each a sentence for a person.
    name = tenant_a.provider.name
    assert error.message in (
        booking.SLOT_TAKEN.format(provider=name, when="Thu Jun 12 at 15:00"),
        booking.NOT_FREE.format(provider=name, when="Thu Jun 12 at 15:00"),
    )
    assert Session.objects.filter(status=SessionStatus.SCHEDULED).count() == 1
    assert_reconciled()


def test_the_database_refuses_an_overlapping_live_session_written_past_the_services(
    tenant_a: Tenant,
) -> None:
    from django.db import IntegrityError, transaction

    from matchpal.constraints import violated_constraint

    with time_machine.travel(NOW, tick=False):
        past_grant(tenant_a.student, 600)
        relationship = paired(tenant_a, quantity=300)
        hours(tenant_a, 3, "15:00", "18:00")
        [session] = booking.session_book(
            membership=member(tenant_a.student_user, tenant_a.organization),
            relationship=relationship,
            starts_at=at(12, 15),
        )
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        Session.objects.create(
            organization=tenant_a.organization,
            relationship=relationship,
            calendar_provider=tenant_a.provider,
            starts_at=at(12, 15, 30),
            duration_minutes=30,
            status=SessionStatus.PENDING,
        )
    assert violated_constraint(raised.value) == booking.NO_OVERLAP
    # A completed session (a record of the past) or a cancelled one may overlap.
    Session.objects.filter(pk=session.pk).update(status=SessionStatus.CANCELLED)
    Session.objects.create(
        organization=tenant_a.organization,
        relationship=relationship,
        calendar_provider=tenant_a.provider,
        starts_at=at(12, 15, 30),
        duration_minutes=30,
        status=SessionStatus.PENDING,
    )
