"""A small known history of sessions, made through the services, whose report figures the
tests check exactly (tests/reports/test_sessions_report.py, test_exports.py).

June 2025 in New York (the `clock` fixture: Wednesday June 11, noon). The student and provider
personas' tutoring pairing counts minutes; a second pairing (another student, another provider)
counts whole sessions.

| when (NY)        | pairing  | what happened                                 | deliv. | consumed  |
|------------------|----------|-----------------------------------------------|--------|-----------|
| Fri May 30 10:00 | minutes  | completed 60 (before the range)               | —      | —         |
| Mon Jun 2 10:00  | minutes  | completed 60                                  | 60     | 60 min    |
| Tue Jun 3 10:00  | minutes  | completed 90, edited down to 45               | 45     | 45 min    |
| Wed Jun 4 15:00  | minutes  | completed 60, then cancelled (restored)       | —      | 0         |
| Thu Jun 5 16:00  | sessions | completed 50                                  | 50     | 1 session |
| Fri Jun 6 16:00  | sessions | no-show of the provider (never charged)       | —      | 0         |
| Mon Jun 9 10:00  | minutes  | no-show of the student, charged in full (30)  | —      | 30 min    |
| Wed Jun 11 14:00 | minutes  | scheduled, cancelled 2 h before: charged (60) | —      | 60 min    |
| Fri Jun 20 10:00 | minutes  | scheduled                                     | —      | —         |
"""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from matchpal.models import Charge
from relationships.models import Relationship
from sessions_app import services as session_services
from sessions_app.models import Session
from tests.factories import StudentFactory
from tests.support import (
    Tenant,
    at,
    log_as_admin,
    member,
    other_provider,
    paired,
    past_grant,
    set_policy,
)


@dataclass
class History:
    minutes: Relationship
    sessions: Relationship
    other_student_name: str
    other_provider_name: str


def build(tenant: Tenant) -> History:
    org = set_policy(
        tenant.organization,
        no_show_charge=Charge.FULL,
        late_cancellation_charge=Charge.FULL,
        late_cancellation_window_hours=24,
    )
    admin = member(tenant.admin, org)
    past_grant(tenant.student, 600, valid_from=timezone.now() - timedelta(days=60))
    minutes = paired(tenant, quantity=600, paired_at=timezone.now() - timedelta(days=45))

    slug = org.slug
    student = StudentFactory(organization=org, name="Zoe Other", email=f"zoe@{slug}.example")
    _, provider = other_provider(tenant, email=f"other.provider@{slug}.example")
    past_grant(student, 5, unit="sessions", valid_from=timezone.now() - timedelta(days=60))
    sessions = paired(
        tenant,
        quantity=5,
        unit="sessions",
        student=student,
        provider=provider,
        paired_at=timezone.now() - timedelta(days=45),
    )

    log_as_admin(tenant, minutes, at(30, 10, month=5), 60)
    log_as_admin(tenant, minutes, at(2, 10), 60)
    edited = log_as_admin(tenant, minutes, at(3, 10), 90)
    session_services.session_edit(membership=admin, session=edited, duration=45, reason="Short")
    undone = log_as_admin(tenant, minutes, at(4, 15), 60)
    session_services.session_cancel(membership=admin, session=undone, reason="Logged by mistake")
    log_as_admin(tenant, sessions, at(5, 16), 50)
    absent = log_as_admin(tenant, sessions, at(6, 16), 50)
    session_services.session_no_show(membership=admin, session=absent, party="provider")
    missed = log_as_admin(tenant, minutes, at(9, 10), 30)
    session_services.session_no_show(membership=admin, session=missed, party="student")
    late = log_as_admin(tenant, minutes, at(11, 14), 60, scheduled=True)
    session_services.session_cancel(membership=admin, session=late, reason="Sick")
    log_as_admin(tenant, minutes, at(20, 10), 60, scheduled=True)
    assert Session.objects.filter(organization=org).count() == 9
    return History(
        minutes=minutes,
        sessions=sessions,
        other_student_name=student.name,
        other_provider_name=provider.name,
    )


JUNE = {"range": "custom", "date_from": "2025-06-01", "date_to": "2025-06-30"}
