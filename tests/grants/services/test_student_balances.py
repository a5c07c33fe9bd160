"""A student's balances per service type and unit."""

import pytest
from django.utils import timezone

from grants import services
from tests.factories import StudentFactory, make_grant
from tests.grants.ledger_support import assert_reconciled, balance
from tests.grants.services.support import DAY, consume

pytestmark = pytest.mark.django_db


def test_student_balances_per_service_type_and_unit(org, student, rel) -> None:
    tutoring = make_grant(student=student, minutes=600)
    make_grant(student=student, minutes=120, service_types=("Tutoring", "Advising"))
    make_grant(student=student, minutes=5, unit="sessions", service_types=("Advising",))
    make_grant(student=StudentFactory(organization=org), minutes=999)
    services.hold(actor=None, relationship=rel, quantity=100)  # `tutoring`: no expiry, lowest id
    consume(rel, 40)
    expiring = make_grant(student=student, minutes=300, expires_at=timezone.now() + 5 * DAY)
    services.hold(actor=None, relationship=rel, quantity=30)  # from `expiring`, the soonest
    consume(rel, 30)
    services.grant_expire(actor=None, grant=expiring)
    assert balance(tutoring) == (600, 40, 60)

    rows = [
        (b.service_type.name, b.unit, b.remaining, b.available, b.held, b.used)
        for b in services.student_balances(student=student)
    ]

    # The expired grant counts in `used` only; a grant of two services counts under each.
    assert rows == [
        ("Advising", "minutes", 120, 120, 0, 0),
        ("Advising", "sessions", 5, 5, 0, 0),
        ("Tutoring", "minutes", 560 + 120, 500 + 120, 60, 40 + 30),
    ]
    assert_reconciled()
