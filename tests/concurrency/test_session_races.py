"""Sessions logged, edited and cancelled at the same moment, against real PostgreSQL
transactions (DESIGN §3 invariants 1 and 4, §4).

Every writer runs in its own thread with its own connection, waits at a barrier so all start
together, and closes its connection when done. After each race the reconciliation must find
nothing and every balance must be exact to the minute.
"""

import threading
import time
from datetime import timedelta
from functools import partial

import pytest
from django.db.models import Sum
from django.utils import timezone

from grants import services as ledger
from grants.models import Grant, GrantEntry
from grants.reconcile import find_differences
from grants.services import InsufficientHours, posting
from matchpal.errors import ConflictError
from matchpal.models import Notification, Role, ShortfallPolicy
from relationships import services as relationships
from relationships.models import Relationship
from relationships.selectors import allocated
from sessions_app import services
from sessions_app.models import Session, SessionStatus
from sessions_app.services import SessionRuleError
from tests.factories import (
    MembershipFactory,
    ProviderFactory,
    StudentFactory,
    UserFactory,
    make_grant,
)
from tests.support import Tenant, assert_reconciled, balance, hours_ago, member
from tests.threads import run_together

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

DUPLICATE = "A session of this relationship at this start time already exists."


def ledger_net(session: Session) -> int:
    """What the ledger says the session consumed, net of restores."""
    return GrantEntry.objects.filter(session=session).aggregate(n=Sum("used_delta"))["n"] or 0


def paired(
    tenant: Tenant,
    *,
    provider=None,
    provider_user=None,  # type: ignore[no-untyped-def]
    minutes: int,
) -> Relationship:
    """A relationship proposed by the admin (holding `minutes`), accepted by the provider, and
    paired a day ago so that sessions of the last hours may be logged on it."""
    relationship = relationships.relationship_propose(
        membership=member(tenant.admin),
        organization=tenant.organization,
        student=tenant.student,
        provider=provider or tenant.provider,
        service_type=tenant.provider.service_types.get(),
        quantity=minutes,
    )
    relationships.relationship_accept(
        membership=member(provider_user or tenant.provider_user), relationship=relationship
    )
    Relationship.objects.filter(pk=relationship.pk).update(
        paired_at=timezone.now() - timedelta(days=1)
    )
    relationship.refresh_from_db()
    return relationship


def second_provider(tenant: Tenant):  # type: ignore[no-untyped-def]
    user = UserFactory(email="second.provider@alpha.example")
    MembershipFactory(user=user, organization=tenant.organization, role=Role.PROVIDER)
    return ProviderFactory(organization=tenant.organization, user=user, email=user.email), user


# --- (a) the last hour ---------------------------------------------------------------------


def test_two_sessions_racing_for_the_last_hour_of_a_hold(tenant_a: Tenant) -> None:
    grant = make_grant(
        student=tenant_a.student, minutes=1200, valid_from=timezone.now() - timedelta(days=30)
    )
    rel = paired(tenant_a, minutes=60)
    rounds = 5
    winners = set()

    for round_ in range(rounds):
        # Exactly one hour left on the hold; two sessions of one hour each, logged at once
        # (the provider and the admin, different start times).
        assert allocated(rel)["held"] == 60
        first, second = hours_ago(10 + 2 * round_), hours_ago(11 + 2 * round_)
        outcomes = run_together(
            partial(
                services.session_log,
                membership=member(tenant_a.provider_user),
                relationship=rel,
                starts_at=first,
                duration=60,
                notes="Fractions",
            ),
            partial(
                services.session_log,
                membership=member(tenant_a.admin),
                relationship=rel,
                starts_at=second,
                duration=60,
                notes="Decimals",
            ),
        )

        statuses = [status for status, _ in outcomes]
        assert sorted(statuses) == ["error", "ok"]
        winner = statuses.index("ok")
        winners.add(winner)
        error = outcomes[1 - winner][1]
        assert type(error) is InsufficientHours
        assert str(error) == "Only 0 min are reserved for this relationship; the session needs 1 h."
        session = outcomes[winner][1]
        assert session.starts_at == (first, second)[winner]
        assert session.charged_minutes == 60
        # Only the winner's session exists; the loser's was rolled back.
        assert not Session.objects.filter(
            relationship=rel, starts_at=(first, second)[1 - winner]
        ).exists()
        assert Session.objects.filter(relationship=rel).count() == round_ + 1
        assert ledger_net(session) == 60

        used = 60 * (round_ + 1)
        assert balance(grant) == (1200, used, 0)
        assert allocated(rel) == {"held": 0, "consumed": used, "allocated": used}
        # The refusal told the admin, in a transaction of its own that survived the rollback
        # (the winner's log sends its own notices too: only the shortfall ones are counted).
        assert (
            Notification.objects.filter(user=tenant_a.admin, kind="hours_short").count()
            == round_ + 1
        )
        assert find_differences() == []

        # Top the hold up to one hour again for the next round.
        relationships.relationship_change_allocation(
            membership=member(tenant_a.admin), relationship=rel, quantity=used + 60
        )

    assert balance(grant) == (1200, 60 * rounds, 60)
    assert find_differences() == []


def test_two_providers_drawing_the_last_hour_of_the_students_balance(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    org.insufficient_hours = ShortfallPolicy.DRAW
    org.save(update_fields=["insufficient_hours"])
    other, other_user = second_provider(tenant_a)
    # 30 min held by each relationship, one hour free: each provider logs 1 h 30 min, which
    # needs its own 30 min plus the same free hour.
    grant = make_grant(
        student=tenant_a.student, minutes=120, valid_from=timezone.now() - timedelta(days=30)
    )
    rel_a = paired(tenant_a, minutes=30)
    rel_b = paired(tenant_a, provider=other, provider_user=other_user, minutes=30)
    assert balance(grant) == (120, 0, 60)

    outcomes = run_together(
        partial(
            services.session_log,
            membership=member(tenant_a.provider_user),
            relationship=rel_a,
            starts_at=hours_ago(3),
            duration=90,
        ),
        partial(
            services.session_log,
            membership=member(other_user),
            relationship=rel_b,
            starts_at=hours_ago(3),
            duration=90,
        ),
    )

    statuses = [status for status, _ in outcomes]
    assert sorted(statuses) == ["error", "ok"]
    winner = statuses.index("ok")
    won, lost = (rel_a, rel_b) if winner == 0 else (rel_b, rel_a)
    error = outcomes[1 - winner][1]
    assert type(error) is InsufficientHours
    assert str(error) == (
        "The relationship's reserved hours and the student's hours free to book cover "
        "30 min; the session needs 1 h 30 min."
    )
    session = outcomes[winner][1]
    assert session.charged_minutes == 90 == ledger_net(session)
    assert Session.objects.count() == 1
    # No overdraw: the winner used its 30 min and the free hour; the loser keeps its hold.
    assert balance(grant) == (120, 90, 30)
    assert allocated(won) == {"held": 0, "consumed": 90, "allocated": 90}
    assert allocated(lost) == {"held": 30, "consumed": 0, "allocated": 30}
    assert find_differences() == []


# --- (b) an edit racing a cancellation -----------------------------------------------------


def test_admin_edit_racing_provider_cancellation(tenant_a: Tenant) -> None:
    grant = make_grant(
        student=tenant_a.student, minutes=1200, valid_from=timezone.now() - timedelta(days=30)
    )
    rel = paired(tenant_a, minutes=600)
    orders = set()

    for round_ in range(8):
        logged = services.session_log(
            membership=member(tenant_a.provider_user),
            relationship=rel,
            starts_at=hours_ago(5 + round_),
            duration=60,
        )
        assert balance(grant) == (1200, 60, 540)
        new_duration = 90 if round_ % 2 else 30  # lengthened (consumes) or shortened (restores)

        edit, cancel = run_together(
            partial(
                services.session_edit,
                membership=member(tenant_a.admin),
                session=Session.objects.get(pk=logged.pk),
                duration=new_duration,
            ),
            partial(
                services.session_cancel,
                membership=member(tenant_a.provider_user),
                session=Session.objects.get(pk=logged.pk),
                reason="Student ill",
            ),
        )

        session = Session.objects.get(pk=logged.pk)
        assert cancel[0] == "ok"
        if edit[0] == "ok":
            orders.add("edit first")
        else:
            orders.add("cancel first")
            assert type(edit[1]) is ConflictError
            assert str(edit[1]) == "A cancelled session cannot be edited."
            assert session.duration_minutes == 60
        # Cancelled either way: nothing consumed for it, and the ledger agrees.
        assert session.status == SessionStatus.CANCELLED
        assert session.charged_minutes == 0
        assert ledger_net(session) == 0
        entries = GrantEntry.objects.filter(session=session)
        consumed = sum(e.used_delta for e in entries if e.kind == "consume")
        restored = -sum(e.used_delta for e in entries if e.kind == "restore")
        assert consumed == restored == (max(new_duration, 60) if edit[0] == "ok" else 60)
        assert all(e.used_delta > 0 for e in entries if e.kind == "consume")
        assert all(e.used_delta < 0 for e in entries if e.kind == "restore")
        # One restore for the cancellation (plus one for a shortening that went first).
        assert entries.filter(kind="restore", reason="Cancelled: Student ill").count() == 1
        # Every minute went back to the relationship's hold: nothing lost, nothing doubled.
        assert balance(grant) == (1200, 0, 600)
        assert allocated(rel) == {"held": 600, "consumed": 0, "allocated": 600}
        assert find_differences() == []

    assert orders <= {"edit first", "cancel first"}


def test_admin_edit_racing_a_charged_late_cancellation(tenant_a: Tenant) -> None:
    """With late cancellations charged in full, a scheduled session cancelled inside the window
    is charged what it would have consumed: whatever the order, what the session was charged
    equals what the ledger consumed for it, and that is its final duration. (A completed one
    cancelled gives everything back, charge or not: the race above.)"""
    org = tenant_a.organization
    org.late_cancellation_charge = "full"
    org.save(update_fields=["late_cancellation_charge"])
    grant = make_grant(
        student=tenant_a.student, minutes=1200, valid_from=timezone.now() - timedelta(days=30)
    )
    rel = paired(tenant_a, minutes=600)
    charged_total = 0

    for round_ in range(6):
        scheduled = services.session_log(
            membership=member(tenant_a.provider_user),
            relationship=rel,
            starts_at=(timezone.now() + timedelta(hours=2 + round_)).replace(
                second=0, microsecond=0
            ),
            duration=60,
            scheduled=True,
        )
        new_duration = 90 if round_ % 2 else 30

        edit, cancel = run_together(
            partial(
                services.session_edit,
                membership=member(tenant_a.admin),
                session=Session.objects.get(pk=scheduled.pk),
                duration=new_duration,
            ),
            partial(
                services.session_cancel,
                membership=member(tenant_a.provider_user),
                session=Session.objects.get(pk=scheduled.pk),
                reason="Too late",
            ),
        )

        session = Session.objects.get(pk=scheduled.pk)
        assert cancel[0] == "ok"
        assert session.status == SessionStatus.CANCELLED
        if edit[0] == "ok":
            assert session.duration_minutes == new_duration
        else:
            assert type(edit[1]) is ConflictError
            assert str(edit[1]) == "A cancelled session cannot be edited."
            assert session.duration_minutes == 60
        assert session.charged_minutes == session.duration_minutes == ledger_net(session)
        assert session.charge_shortfall == 0
        charged_total += session.charged_minutes
        assert balance(grant) == (1200, charged_total, 600 - charged_total)
        assert find_differences() == []


# --- (c) the same session twice --------------------------------------------------------------


def test_the_same_session_logged_twice_at_once_exists_once(tenant_a: Tenant) -> None:
    grant = make_grant(
        student=tenant_a.student, minutes=1200, valid_from=timezone.now() - timedelta(days=30)
    )
    rel = paired(tenant_a, minutes=600)

    for round_ in range(5):
        start = hours_ago(4 + round_)
        outcomes = run_together(
            partial(
                services.session_log,
                membership=member(tenant_a.provider_user),
                relationship=rel,
                starts_at=start,
                duration=45,
                notes="Essay outline",
            ),
            partial(
                services.session_log,
                membership=member(tenant_a.admin),
                relationship=rel,
                starts_at=start,
                duration=45,
                notes="Essay outline",
            ),
        )

        assert sorted(status for status, _ in outcomes) == ["error", "ok"]
        [error] = [value for status, value in outcomes if status == "error"]
        assert type(error) is SessionRuleError
        assert str(error) == DUPLICATE
        assert Session.objects.filter(relationship=rel, starts_at=start).count() == 1
        session = Session.objects.get(relationship=rel, starts_at=start)
        assert session.charged_minutes == 45 == ledger_net(session)
        assert balance(grant) == (1200, 45 * (round_ + 1), 600 - 45 * (round_ + 1))
        assert find_differences() == []

    assert Session.objects.filter(relationship=rel).count() == 5


# --- (d) a relationship ending while another of its student logs -------------------------------


def test_relationship_ending_racing_a_session_on_another_relationship_of_the_student(
    tenant_a: Tenant,
) -> None:
    """The relationship services lock only the relationship row (`of=("self",)`): locking the
    joined student and organization rows too made the session's inserts (foreign-key checks)
    and the student lock of the session rules wait on them, and the two deadlocked."""
    org = tenant_a.organization
    # Rules that count the student's other sessions, so the logger locks the student row.
    org.max_sessions_per_pair_per_day = 20
    org.weekly_max_minutes_per_student_service = 6000
    org.save(
        update_fields=["max_sessions_per_pair_per_day", "weekly_max_minutes_per_student_service"]
    )
    other, other_user = second_provider(tenant_a)
    grant = make_grant(
        student=tenant_a.student, minutes=6000, valid_from=timezone.now() - timedelta(days=30)
    )
    logging = paired(tenant_a, provider=other, provider_user=other_user, minutes=1200)
    used = 0

    for round_ in range(8):
        ending = paired(tenant_a, minutes=300)
        ahead = services.session_log(
            membership=member(tenant_a.provider_user),
            relationship=ending,
            starts_at=(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0),
            duration=60,
            scheduled=True,
        )
        end = (
            partial(
                relationships.relationship_cancel,
                membership=member(tenant_a.admin),
                relationship=Relationship.objects.get(pk=ending.pk),
                reason="Moved away",
            )
            if round_ % 2
            else partial(
                relationships.relationship_complete,
                membership=member(tenant_a.admin),
                relationship=Relationship.objects.get(pk=ending.pk),
            )
        )
        outcomes = run_together(
            end,
            partial(
                services.session_log,
                membership=member(other_user),
                relationship=logging,
                starts_at=hours_ago(2 + round_),
                duration=45,
            ),
        )

        assert [status for status, _ in outcomes] == ["ok", "ok"], outcomes
        used += 45
        ending.refresh_from_db()
        assert ending.status == ("cancelled" if round_ % 2 else "completed")
        assert allocated(ending) == {"held": 0, "consumed": 0, "allocated": 0}
        ahead.refresh_from_db()
        assert (ahead.status, ahead.charged_minutes) == (SessionStatus.CANCELLED, 0)
        assert outcomes[1][1].charged_minutes == 45 == ledger_net(outcomes[1][1])
        assert allocated(logging) == {
            "held": 1200 - used,
            "consumed": used,
            "allocated": 1200,
        }
        assert balance(grant) == (6000, used, 1200 - used)
        assert find_differences() == []


# --- (e) the weekly maximums under concurrent logging ----------------------------------------


@pytest.mark.parametrize("shared", ["provider", "student"])
def test_two_relationships_logging_at_once_against_a_weekly_maximum(
    tenant_a: Tenant, shared: str
) -> None:
    """Two relationships of one provider (or of one student), each logging 1 h at once against
    a weekly maximum of 1 h: the count covers both relationships, so the second writer must
    wait for the first (the provider or student row lock) and be refused."""
    org = tenant_a.organization
    other, other_user = second_provider(tenant_a)
    if shared == "provider":
        org.weekly_max_minutes_per_provider = 60
        someone = StudentFactory(organization=org)
        students = [tenant_a.student, someone]
        providers = [(tenant_a.provider, tenant_a.provider_user)] * 2
        message = f"This week {tenant_a.provider.name} already has 1 h; the weekly maximum is 1 h."
    else:
        org.weekly_max_minutes_per_student_service = 60
        students = [tenant_a.student, tenant_a.student]
        providers = [(tenant_a.provider, tenant_a.provider_user), (other, other_user)]
        message = "This week the student already has 1 h of tutoring; the weekly maximum is 1 h."
    org.save()
    grants = [
        make_grant(student=student, minutes=600, valid_from=timezone.now() - timedelta(days=30))
        for student in dict.fromkeys(students)
    ]
    rels = []
    for student, (provider, user) in zip(students, providers, strict=True):
        relationship = relationships.relationship_propose(
            membership=member(tenant_a.admin),
            organization=org,
            student=student,
            provider=provider,
            service_type=tenant_a.provider.service_types.get(),
            quantity=300,
        )
        relationships.relationship_accept(membership=member(user), relationship=relationship)
        Relationship.objects.filter(pk=relationship.pk).update(
            paired_at=timezone.now() - timedelta(days=1)
        )
        relationship.refresh_from_db()
        rels.append(relationship)
    winners = set()

    for round_ in range(5):
        start = hours_ago(2 + round_)
        outcomes = run_together(
            *(
                partial(
                    services.session_log,
                    membership=member(tenant_a.admin),
                    relationship=relationship,
                    starts_at=start,
                    duration=60,
                )
                for relationship in rels
            )
        )

        statuses = [status for status, _ in outcomes]
        assert sorted(statuses) == ["error", "ok"]
        winner = statuses.index("ok")
        winners.add(winner)
        error = outcomes[1 - winner][1]
        assert type(error) is SessionRuleError
        assert str(error) == message
        assert not Session.objects.filter(
            relationship=rels[1 - winner], status="completed"
        ).exists()
        session = outcomes[winner][1]
        assert session.charged_minutes == 60 == ledger_net(session)
        assert sum(balance(g)[1] for g in grants) == 60
        assert find_differences() == []
        # Free the week again for the next round (cancelled sessions do not count).
        services.session_cancel(
            membership=member(tenant_a.admin), session=session, reason="Next round"
        )
        assert sum(balance(g)[1] for g in grants) == 0

    assert Session.objects.filter(status="completed").count() == 0
    assert find_differences() == []


# --- (f) a grant expiring while a relationship holding on it is written ------------------------


@pytest.mark.parametrize("writer", ["cancel", "log"])
def test_grant_expiry_racing_a_write_on_a_relationship_holding_on_it(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """The expiry locks the grant and writes release entries naming the relationship, whose
    foreign-key check (KEY SHARE on the relationship) runs at commit; the cancel (or the
    session log) locks the relationship and then waits for the grant. The relationship is
    locked FOR NO KEY UPDATE, which lets that check through: with FOR UPDATE the two
    deadlocked. The timing is forced: the expiry sleeps after writing its entries, before
    committing, and the writer starts only once they are written."""
    expiring = make_grant(
        student=tenant_a.student,
        minutes=300,
        valid_from=timezone.now() - timedelta(days=30),
        expires_at=timezone.now() + timedelta(days=1),
    )
    lasting = make_grant(
        student=tenant_a.student, minutes=900, valid_from=timezone.now() - timedelta(days=30)
    )
    rel = paired(tenant_a, minutes=600)
    # Soonest expiry first: all of the expiring grant, the rest from the lasting one.
    assert balance(expiring) == (300, 0, 300)
    assert balance(lasting) == (900, 0, 300)

    written = threading.Event()
    expiry_thread: list[int] = []
    real_write = posting.Posting.write

    def write(self):  # type: ignore[no-untyped-def]
        rows = real_write(self)
        if expiry_thread and threading.get_ident() == expiry_thread[0]:
            written.set()
            time.sleep(1)  # still inside the expiry's transaction: the grant stays locked
        return rows

    monkeypatch.setattr(posting.Posting, "write", write)

    def expire() -> Grant:
        expiry_thread.append(threading.get_ident())
        return ledger.grant_expire(actor=None, grant=Grant(pk=expiring.pk))

    def cancel() -> Relationship:
        assert written.wait(10)
        return relationships.relationship_cancel(
            membership=member(tenant_a.admin),
            relationship=Relationship.objects.get(pk=rel.pk),
            reason="Moved away",
        )

    def log() -> Session:
        assert written.wait(10)
        return services.session_log(
            membership=member(tenant_a.provider_user),
            relationship=Relationship.objects.get(pk=rel.pk),
            starts_at=hours_ago(2),
            duration=60,
        )

    outcomes = run_together(expire, cancel if writer == "cancel" else log)

    assert [status for status, _ in outcomes] == ["ok", "ok"], outcomes
    expiring.refresh_from_db()
    assert expiring.status == "expired"
    assert balance(expiring) == (300, 0, 0)
    rel.refresh_from_db()
    if writer == "cancel":
        assert rel.status == "cancelled"
        assert balance(lasting) == (900, 0, 0)
        assert allocated(rel) == {"held": 0, "consumed": 0, "allocated": 0}
    else:
        # The expired grant's hold was gone: the hour came out of the lasting one.
        session = outcomes[1][1]
        assert rel.status == "paired"
        assert session.charged_minutes == 60 == ledger_net(session)
        assert GrantEntry.objects.filter(session=session, grant=expiring).count() == 0
        assert balance(lasting) == (900, 60, 240)
        assert allocated(rel) == {"held": 240, "consumed": 60, "allocated": 300}
    assert_reconciled()
