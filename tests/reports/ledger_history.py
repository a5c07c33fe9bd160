"""A center with a known ledger history in May 2025 (New York), made through the services with
the clock moved to each moment, for the Usage and Financial reports' exact figures.

Student Sam (minutes and sessions), student Ada (a shop purchase), student Lee (a grant used
up). Each step says what it writes; the expected figures in the tests follow from these lines.

- May 1 10:00  G1: Sam, package "Ten hours" by hand (600 min, $450, 90 days: expires Jul 30).
- May 1 10:00  G2: Sam, custom 300 min, Tutoring, expires May 20.
- May 1 11:00  R1 Sam–Pat, Tutoring, 600 min: holds 300 on G2 (expires first), 300 on G1.
- May 2 10:00  G3: Sam, package "Five sessions" by hand (5 sessions, $200), Advising.
- May 2 11:00  R2 Sam–Pat, Advising, sessions, 5: holds 5 on G3.
- May 3 10:00  G4: Ada, 2 × "Ten hours" from the shop (1,200 min, $900).
- May 4 10:00  G5: Ada, custom 120 min; May 6 10:00 refunded in full (revoked).
- May 5 11:00  R3 Ada–Pat, Tutoring, 600 min: holds 600 on G4.
- May 6 11:00  R1 session May 6 10:00, 60 min: consumes 60 of G2.
- May 7 10:00  G7: Lee, custom 30 min; R4 Lee–Pat 30 min; May 8 11:00 session of 30: used up.
- May 8, May 9 11:00  R2 sessions: 1 session each of G3.
- May 10 11:00 R3 session May 10 10:00, 120 min: consumes 120 of G4.
- May 13 11:00 R1 session 90 min of G2; May 14 edited to 60: restores 30.
- May 15 11:00 R1 session 60 min of G2; May 16 cancelled: restores 60.
- May 20 01:00 the daily job expires G2: releases its 180 held; 180 unused expire.
- May 22 10:00 R1 schedules a session for May 22 15:00 (60 min); cancelled 11:00, late: the
  policy charges it in full, 60 of G1.
- May 25 10:00 G4: the shop refunds 300 min.
- May 27 11:00 R1 session 45 min of G1.
- May 28 10:00 G1 adjusted +60 ("Goodwill").
- May 29 10:00 G1 → new grant G6 (Advising): 100 min transferred.
"""

from dataclasses import dataclass
from datetime import datetime

import time_machine

from grants import services as ledger
from grants.models import Grant, GrantSource, Package
from relationships.models import Relationship
from sessions_app import services as session_services
from tests.factories import StudentFactory, make_grant
from tests.support import (
    Tenant,
    at,
    log_as_admin,
    make_package,
    member,
    other_provider,
    paired,
    set_policy,
)


@dataclass
class History:
    tenant: Tenant
    g1: Grant
    g2: Grant
    g3: Grant
    g4: Grant
    g5: Grant
    g6: Grant
    g7: Grant
    ten_hours: Package
    five_sessions: Package
    r1: Relationship


def may(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return at(day, hour, minute, month=5)


def _on(moment: datetime) -> "time_machine.travel":
    return time_machine.travel(moment, tick=False)


def build_history(tenant: Tenant) -> History:
    org = tenant.organization
    admin = member(tenant.admin, org)
    sam = tenant.student
    sam.name = "Sam Student"
    sam.save(update_fields=["name"])
    ada = StudentFactory(organization=org, name="Ada Shopper")
    lee = StudentFactory(organization=org, name="Lee Quick")
    _, pat_adv = other_provider(tenant, f"advisor@{org.slug}.example", services=("Advising",))
    set_policy(org, late_cancellation_charge="full")
    ten_hours = make_package(org, name="Ten hours", quantity=600, validity_days=90)
    five = make_package(
        org,
        name="Five sessions",
        quantity=5,
        unit="sessions",
        validity_days=None,
        service_types=("Advising",),
    )
    Package.objects.filter(pk=five.pk).update(price="200.00")
    five.refresh_from_db()

    with _on(may(1)):
        g1 = ledger.grant_from_package(actor=tenant.admin, student=sam, package=ten_hours)
        g2 = make_grant(student=sam, minutes=300, expires_at=may(20, 0), reference="Trial")
    with _on(may(1, 11)):
        r1 = paired(tenant, quantity=600, paired_at=may(1, 11))
    with _on(may(2)):
        g3 = ledger.grant_from_package(actor=tenant.admin, student=sam, package=five)
    with _on(may(2, 11)):
        r2 = paired(
            tenant,
            quantity=5,
            unit="sessions",
            service_type="Advising",
            provider=pat_adv,
            paired_at=may(2, 11),
        )
    with _on(may(3)):
        g4 = ledger.grant_from_package(
            actor=None,
            student=ada,
            package=ten_hours,
            count=2,
            source=GrantSource.WOOCOMMERCE,
            reference="Order #1001",
        )
    with _on(may(4)):
        g5 = make_grant(student=ada, minutes=120, reference="Gift")
    with _on(may(5, 11)):
        r3 = paired(tenant, quantity=600, student=ada, paired_at=may(5, 11))
    with _on(may(6)):
        ledger.grant_refund(actor=tenant.admin, grant=g5, quantity=120, reason="Not wanted")
    with _on(may(6, 11)):
        log_as_admin(tenant, r1, may(6), 60)
    with _on(may(7)):
        g7 = make_grant(student=lee, minutes=30, reference="Taster")
        r4 = paired(tenant, quantity=30, student=lee, paired_at=may(7))
    with _on(may(8, 11)):
        log_as_admin(tenant, r4, may(8), 30)
        log_as_admin(tenant, r2, may(8), 60, kind="advising")
    with _on(may(9, 11)):
        log_as_admin(tenant, r2, may(9), 60, kind="advising")
    with _on(may(10, 11)):
        log_as_admin(tenant, r3, may(10), 120)
    with _on(may(13, 11)):
        edited = log_as_admin(tenant, r1, may(13), 90)
    with _on(may(14, 11)):
        session_services.session_edit(
            membership=admin, session=edited, duration=60, reason="Ended early"
        )
    with _on(may(15, 11)):
        cancelled = log_as_admin(tenant, r1, may(15), 60)
    with _on(may(16, 11)):
        session_services.session_cancel(membership=admin, session=cancelled, reason="Mistake")
    with _on(may(20, 1)):
        ledger.expire_due_grants()
    with _on(may(22)):
        late = log_as_admin(tenant, r1, may(22, 15), 60, scheduled=True)
    with _on(may(22, 11)):
        session_services.session_cancel(membership=admin, session=late, reason="Sick")
    with _on(may(25)):
        ledger.grant_refund(
            actor=None, grant=g4, quantity=300, reason="Shop refund", reference="Order #1001"
        )
    with _on(may(27, 11)):
        log_as_admin(tenant, r1, may(27), 45)
    with _on(may(28)):
        ledger.grant_adjust(actor=tenant.admin, grant=g1, delta=60, reason="Goodwill")
    with _on(may(29)):
        advising = list(org.service_types.filter(name="Advising"))
        g6 = ledger.grant_transfer(
            actor=tenant.admin,
            from_grant=g1,
            quantity=100,
            reason="Switching",
            to_service_types=advising,
        )
    for grant in (g1, g2, g3, g4, g5, g6, g7):
        grant.refresh_from_db()
    return History(tenant, g1, g2, g3, g4, g5, g6, g7, ten_hours, five, r1)
