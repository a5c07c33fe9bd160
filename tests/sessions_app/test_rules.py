"""Each center's session rules (DESIGN §5, docs/sessions.md), each with its exact message.

The clock is pinned at Wednesday June 11, 2025, 12:00 in New York (the factories' time zone);
the week runs from Monday June 9 to Sunday June 15.
"""

from datetime import timedelta

import pytest
from django.urls import reverse

from grants.models import EntryKind, GrantEntry
from grants.reconcile import find_differences
from grants.services import InsufficientHours
from matchpal.errors import ConflictError
from matchpal.models import Notification
from relationships import services as rel_services
from relationships.models import Relationship
from sessions_app import selectors, services
from sessions_app.models import Session
from tests.factories import ProviderFactory, StudentFactory
from tests.support import (
    NOW,
    Tenant,
    at,
    balance,
    client_for,
    entries,
    holds,
    log,
    mails,
    member,
    other_provider,
    pair,
    paired,
    past_grant,
    propose,
    refused,
    second_admin,
    set_policy,
)

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="hours_short")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

CONSUME = EntryKind.CONSUME


def nothing_logged(grant, held: int = 600) -> None:  # type: ignore[no-untyped-def]
    assert not Session.objects.exists()
    assert balance(grant) == (900, 0, held)
    assert entries(kind=CONSUME) == []


# --- Durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        (50, "Durations are counted in steps of 15 minutes; 50 minutes is not one of them."),
        (1, "Durations are counted in steps of 15 minutes; 1 minutes is not one of them."),
        (15, "A session lasts at least 30 minutes."),
        (135, "A session lasts at most 2 h."),
        (125, "Durations are counted in steps of 15 minutes; 125 minutes is not one of them."),
    ],
)
@pytest.mark.parametrize("scheduled", [False, True])
def test_duration_rules(
    tenant_a: Tenant, rel, grant, duration: int, message: str, scheduled: bool
) -> None:
    set_policy(
        tenant_a.organization,
        duration_step_minutes=15,
        min_session_minutes=30,
        max_session_minutes=120,
    )
    starts_at = at(12, 15) if scheduled else at(10, 15)
    refused(lambda: log(tenant_a, rel, starts_at, duration, scheduled=scheduled), message)
    nothing_logged(grant)


def test_durations_at_the_bounds_are_allowed(tenant_a: Tenant, rel, grant) -> None:
    set_policy(
        tenant_a.organization,
        duration_step_minutes=15,
        min_session_minutes=30,
        max_session_minutes=120,
    )
    log(tenant_a, rel, at(9, 10), 30)
    log(tenant_a, rel, at(10, 10), 120)
    assert balance(grant) == (900, 150, 450)
    assert find_differences() == []


def test_the_maximum_reads_in_hours_and_minutes(tenant_a: Tenant, rel) -> None:
    set_policy(tenant_a.organization, max_session_minutes=100)
    refused(lambda: log(tenant_a, rel, at(10, 10), 105), "A session lasts at most 1 h 40 min.")


def test_completing_and_editing_follow_the_duration_rules(tenant_a: Tenant, rel, grant) -> None:
    set_policy(
        tenant_a.organization,
        duration_step_minutes=15,
        min_session_minutes=30,
        max_session_minutes=120,
    )
    scheduled = log(tenant_a, rel, at(11, 9), 60, scheduled=True)
    refused(
        lambda: services.session_complete(
            membership=member(tenant_a.provider_user), session=scheduled, duration=20
        ),
        "Durations are counted in steps of 15 minutes; 20 minutes is not one of them.",
    )
    done = log(tenant_a, rel, at(10, 9), 60)
    refused(
        lambda: services.session_edit(
            membership=member(tenant_a.provider_user), session=done, duration=150
        ),
        "A session lasts at most 2 h.",
    )
    scheduled.refresh_from_db()
    done.refresh_from_db()
    assert (scheduled.status, done.duration_minutes) == ("scheduled", 60)
    assert balance(grant) == (900, 60, 540)


def test_the_duration_is_checked_first(tenant_a: Tenant, rel) -> None:
    set_policy(tenant_a.organization, duration_step_minutes=15, notes_min_length=10)
    # In the future, without notes and off-step: the duration rule speaks first.
    refused(
        lambda: log(tenant_a, rel, NOW + timedelta(hours=1), 50),
        "Durations are counted in steps of 15 minutes; 50 minutes is not one of them.",
    )


# --- Notes -----------------------------------------------------------------------------------


def test_notes_minimum_length(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, notes_min_length=150)
    refused(
        lambda: log(tenant_a, rel, at(10, 15), notes="   Short recap   "),
        "The notes need at least 150 characters (11 so far).",
    )
    refused(
        lambda: log(tenant_a, rel, at(10, 15)), "The notes need at least 150 characters (0 so far)."
    )
    refused(
        lambda: log(tenant_a, rel, at(10, 15), notes="x" * 149 + "   "),
        "The notes need at least 150 characters (149 so far).",
    )
    nothing_logged(grant)
    session = log(tenant_a, rel, at(10, 15), notes="x" * 150)
    assert session.status == "completed"
    assert balance(grant) == (900, 60, 540)
    assert find_differences() == []


def test_notes_are_needed_to_complete_not_to_schedule(tenant_a: Tenant, rel, grant, clock) -> None:
    set_policy(tenant_a.organization, notes_min_length=20)
    session = log(tenant_a, rel, at(12, 10), scheduled=True)
    assert session.status == "scheduled"
    clock.move_to(at(12, 12))
    refused(
        lambda: services.session_complete(
            membership=member(tenant_a.provider_user), session=session, notes="Fractions"
        ),
        "The notes need at least 20 characters (9 so far).",
    )
    session.refresh_from_db()
    assert (session.status, session.notes, session.charged_minutes) == ("scheduled", "", 0)
    services.session_complete(
        membership=member(tenant_a.provider_user), session=session, notes="Fractions and decimals"
    )
    assert balance(grant) == (900, 60, 540)
    assert find_differences() == []


# --- Grace period ----------------------------------------------------------------------------


def test_grace_period(tenant_a: Tenant, rel, grant) -> None:
    message = (
        "Sessions can be logged up to 72 hours after they start; ask an admin to log this one."
    )
    refused(lambda: log(tenant_a, rel, NOW - timedelta(hours=72, minutes=5)), message)
    nothing_logged(grant)
    on_the_limit = log(tenant_a, rel, NOW - timedelta(hours=72))
    by_admin = log(tenant_a, rel, NOW - timedelta(hours=96), membership=member(tenant_a.admin))
    assert by_admin.logged_by == tenant_a.admin
    assert on_the_limit.logged_by == tenant_a.provider_user
    assert balance(grant) == (900, 120, 480)
    assert find_differences() == []


def test_grace_period_of_the_center(tenant_a: Tenant, rel) -> None:
    set_policy(tenant_a.organization, logging_grace_hours=24)
    refused(
        lambda: log(tenant_a, rel, NOW - timedelta(hours=25)),
        "Sessions can be logged up to 24 hours after they start; ask an admin to log this one.",
    )
    log(tenant_a, rel, NOW - timedelta(hours=23))


def test_grace_period_applies_to_completing_a_scheduled_session(
    tenant_a: Tenant, rel, grant, clock
) -> None:
    session = log(tenant_a, rel, at(12, 10), scheduled=True)
    clock.move_to(at(15, 11))  # 73 hours later
    refused(
        lambda: services.session_complete(
            membership=member(tenant_a.provider_user), session=session
        ),
        "Sessions can be logged up to 72 hours after they start; ask an admin to log this one.",
    )
    services.session_complete(membership=member(tenant_a.admin), session=session)
    session.refresh_from_db()
    assert (session.status, session.logged_by) == ("completed", tenant_a.admin)
    assert balance(grant) == (900, 60, 540)


# --- Sessions per pair per day ---------------------------------------------------------------


def test_sessions_per_pair_per_local_day(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, max_sessions_per_pair_per_day=1)
    message = "At most 1 session(s) per student and provider per day."
    # 21:00 on Monday and 09:00 on Tuesday in New York are the same day in UTC (June 10).
    log(tenant_a, rel, at(9, 21))
    tuesday = log(tenant_a, rel, at(10, 9))
    refused(lambda: log(tenant_a, rel, at(10, 23, 30)), message)
    refused(lambda: log(tenant_a, rel, at(10, 0, 0)), message)
    # Scheduled sessions count too.
    refused(lambda: log(tenant_a, rel, at(10, 18), scheduled=True), message)
    assert Session.objects.count() == 2
    # A cancelled one does not.
    services.session_cancel(
        membership=member(tenant_a.provider_user), session=tuesday, reason="Sick"
    )
    log(tenant_a, rel, at(10, 23, 30))
    assert balance(grant) == (900, 120, 480)
    assert find_differences() == []


def test_sessions_per_pair_count_every_relationship_of_the_pair(
    tenant_a: Tenant, rel, grant
) -> None:
    set_policy(tenant_a.organization, max_sessions_per_pair_per_day=2)
    tenant_a.provider.service_types.add(
        tenant_a.organization.service_types.get(name="Advising"),
        through_defaults={"organization": tenant_a.organization},
    )
    past_grant(tenant_a.student, 300, service_types=("Advising",))
    advising = paired(tenant_a, quantity=120, service_type="Advising")
    log(tenant_a, rel, at(10, 9))
    log(tenant_a, advising, at(10, 11))
    refused(
        lambda: log(tenant_a, rel, at(10, 15)),
        "At most 2 session(s) per student and provider per day.",
    )
    # The same student with another provider, and another day, are fine.
    other_user, other = other_provider(tenant_a)
    with_other = paired(tenant_a, quantity=120, provider=other)
    log(tenant_a, with_other, at(10, 15), membership=member(other_user))
    log(tenant_a, rel, at(11, 9))
    assert find_differences() == []


# --- Weekly maximums -------------------------------------------------------------------------


def test_weekly_maximum_per_student_and_service(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, weekly_max_minutes_per_student_service=120)
    # Sunday 23:30 in New York is already Monday in UTC: it belongs to the week before.
    log(tenant_a, rel, at(8, 23, 30), 120)
    log(tenant_a, rel, at(9, 10), 90)
    refused(
        lambda: log(tenant_a, rel, at(11, 9), 60),
        "This week the student already has 1 h 30 min of tutoring; the weekly maximum is 2 h.",
    )
    refused(
        lambda: log(tenant_a, rel, at(15, 23), 45, scheduled=True),
        "This week the student already has 1 h 30 min of tutoring; the weekly maximum is 2 h.",
    )
    log(tenant_a, rel, at(11, 9), 30)  # exactly the maximum
    # Another provider's tutoring of the same student counts toward the same maximum.
    other_user, other = other_provider(tenant_a)
    with_other = paired(tenant_a, quantity=120, provider=other)
    refused(
        lambda: log(tenant_a, with_other, at(11, 10), 15, membership=member(other_user)),
        "This week the student already has 2 h of tutoring; the weekly maximum is 2 h.",
    )
    # Next week starts afresh.
    log(tenant_a, rel, at(16, 9), 120, scheduled=True)
    assert balance(grant) == (900, 240, 600 - 240 + 120)  # with_other holds 2 h too
    assert find_differences() == []


def test_weekly_maximum_counts_one_service_only(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, weekly_max_minutes_per_student_service=60)
    tenant_a.provider.service_types.add(
        tenant_a.organization.service_types.get(name="Advising"),
        through_defaults={"organization": tenant_a.organization},
    )
    past_grant(tenant_a.student, 300, service_types=("Advising",))
    advising = paired(tenant_a, quantity=120, service_type="Advising")
    log(tenant_a, rel, at(9, 10), 60)
    log(tenant_a, advising, at(10, 10), 60)
    refused(
        lambda: log(tenant_a, advising, at(11, 9), 30),
        "This week the student already has 1 h of advising; the weekly maximum is 1 h.",
    )


def test_weekly_maximum_per_provider(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, weekly_max_minutes_per_provider=180)
    other_student = StudentFactory(organization=tenant_a.organization)
    past_grant(other_student, 600)
    second = paired(tenant_a, quantity=300, student=other_student)
    log(tenant_a, rel, at(9, 10), 90)
    log(tenant_a, second, at(10, 10), 60)
    cancelled = log(tenant_a, second, at(10, 14), 30)
    services.session_cancel(membership=member(tenant_a.admin), session=cancelled, reason="Ill")
    message = (
        f"This week {tenant_a.provider.name} already has 2 h 30 min; the weekly maximum is 3 h."
    )
    refused(lambda: log(tenant_a, rel, at(11, 9), 60), message)
    refused(lambda: log(tenant_a, second, at(13, 9), 45, scheduled=True), message)
    log(tenant_a, second, at(11, 9), 30)
    # Another provider has their own week.
    other_user, other = other_provider(tenant_a)
    with_other = paired(tenant_a, quantity=120, provider=other)
    log(tenant_a, with_other, at(11, 10), 60, membership=member(other_user))
    assert find_differences() == []


def test_editing_longer_respects_the_weekly_maximum(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, weekly_max_minutes_per_student_service=120)
    first = log(tenant_a, rel, at(9, 10), 60)
    log(tenant_a, rel, at(10, 10), 30)
    # Its own minutes are not counted twice: 30 + 90 fits.
    services.session_edit(membership=member(tenant_a.provider_user), session=first, duration=90)
    refused(
        lambda: services.session_edit(
            membership=member(tenant_a.provider_user), session=first, duration=105
        ),
        "This week the student already has 30 min of tutoring; the weekly maximum is 2 h.",
    )
    assert balance(grant) == (900, 120, 480)
    assert find_differences() == []


# --- Dates -----------------------------------------------------------------------------------


def test_a_completed_session_cannot_be_in_the_future(tenant_a: Tenant, rel, grant) -> None:
    message = "A session in the future cannot be logged as completed; schedule it instead."
    refused(lambda: log(tenant_a, rel, NOW + timedelta(minutes=1)), message)
    nothing_logged(grant)
    ahead = log(tenant_a, rel, NOW + timedelta(minutes=1), scheduled=True)
    refused(
        lambda: services.session_complete(membership=member(tenant_a.admin), session=ahead), message
    )
    ahead.refresh_from_db()
    assert ahead.status == "scheduled"
    log(tenant_a, rel, NOW)  # starting right now is not the future
    assert balance(grant) == (900, 60, 540)


def test_a_session_cannot_start_before_the_pairing(tenant_a: Tenant, grant) -> None:
    rel = pair(tenant_a, propose(tenant_a, quantity=300), paired_at=at(10, 12))
    refused(
        lambda: log(tenant_a, rel, at(10, 11, 59)),
        "This session starts before the relationship was paired (Jun 10, 2025 12:00).",
    )
    refused(
        lambda: log(tenant_a, rel, at(9, 12), membership=member(tenant_a.admin)),
        "This session starts before the relationship was paired (Jun 10, 2025 12:00).",
    )
    assert not Session.objects.exists()
    log(tenant_a, rel, at(10, 12))
    assert balance(grant) == (900, 60, 240)


def test_the_pairing_time_is_shown_in_the_centers_time_zone(tenant_a: Tenant, grant) -> None:
    # 02:30 UTC on June 10 is 22:30 on June 9 in New York.
    rel = pair(tenant_a, propose(tenant_a, quantity=300), paired_at=at(9, 22, 30))
    refused(
        lambda: log(tenant_a, rel, at(9, 20)),
        "This session starts before the relationship was paired (Jun 09, 2025 22:30).",
    )


# --- Duplicates ------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_the_same_start_cannot_be_logged_twice(tenant_a: Tenant, rel, grant) -> None:
    message = "A session of this relationship at this start time already exists."
    first = log(tenant_a, rel, at(10, 15))
    refused(lambda: log(tenant_a, rel, at(10, 15), 30), message)
    refused(lambda: log(tenant_a, rel, at(10, 15), 30, membership=member(tenant_a.admin)), message)
    ahead = log(tenant_a, rel, at(13, 15), scheduled=True)
    refused(lambda: log(tenant_a, rel, at(13, 15), scheduled=True), message)
    assert Session.objects.count() == 2
    assert balance(grant) == (900, 60, 540)
    # Once cancelled, the start is free again.
    services.session_cancel(membership=member(tenant_a.admin), session=first, reason="Logged twice")
    services.session_cancel(membership=member(tenant_a.admin), session=ahead, reason="Moved")
    log(tenant_a, rel, at(10, 15), 45)
    assert balance(grant) == (900, 45, 555)
    assert find_differences() == []


def test_another_relationship_may_meet_at_the_same_time(tenant_a: Tenant, rel) -> None:
    other_student = StudentFactory(organization=tenant_a.organization)
    past_grant(other_student, 300)
    group = paired(tenant_a, quantity=120, student=other_student)
    log(tenant_a, rel, at(10, 15))
    log(tenant_a, group, at(10, 15))
    assert Session.objects.count() == 2


# --- Who, and on which relationship ----------------------------------------------------------


@pytest.mark.parametrize("status", ["proposed", "declined", "cancelled", "completed"])
def test_sessions_only_on_a_paired_relationship(tenant_a: Tenant, grant, status: str) -> None:
    rel = propose(tenant_a, quantity=300)
    admin = tenant_a.admin
    if status == "completed":
        pair(tenant_a, rel)
        rel_services.relationship_complete(membership=member(admin), relationship=rel)
    elif status == "cancelled":
        rel_services.relationship_cancel(membership=member(admin), relationship=rel, reason="Stop")
    elif status == "declined":
        rel_services.relationship_decline(membership=member(admin), relationship=rel)
    rel.refresh_from_db()
    message = "Sessions can be logged only on a paired relationship."
    refused(lambda: log(tenant_a, rel, at(10, 15)), message)
    refused(
        lambda: log(tenant_a, rel, at(12, 15), scheduled=True, membership=member(admin)), message
    )
    assert not Session.objects.exists()
    assert entries(kind=CONSUME) == []


def test_a_scheduled_session_of_an_ended_relationship_cannot_be_completed(
    tenant_a: Tenant, rel, grant
) -> None:
    session = log(tenant_a, rel, at(11, 9), scheduled=True)
    rel_services.relationship_complete(membership=member(tenant_a.admin), relationship=rel)
    refused(
        lambda: services.session_complete(membership=member(tenant_a.admin), session=session),
        "Sessions can be logged only on a paired relationship.",
    )
    assert balance(grant) == (900, 0, 0)


def test_only_the_relationships_provider_or_an_admin_logs(
    tenant_a: Tenant, tenant_b: Tenant, rel, grant
) -> None:
    message = "Only this relationship's provider or an admin can log its sessions."
    other_user, _ = other_provider(tenant_a)
    for actor in (other_user, tenant_a.student_user, tenant_b.admin, tenant_b.provider_user):
        refused(
            lambda actor=actor: log(tenant_a, rel, at(10, 15), membership=member(actor)), message
        )
    nothing_logged(grant)
    session = log(tenant_a, rel, at(10, 15))
    refused(
        lambda: services.session_send_report(membership=member(other_user), session=session),
        message,
    )
    for act in (
        lambda: services.session_edit(membership=member(other_user), session=session, duration=30),
        lambda: services.session_cancel(membership=member(other_user), session=session, reason="x"),
        lambda: services.session_no_show(
            membership=member(other_user), session=session, party="student"
        ),
    ):
        refused(act, selectors.CHANGE_ONLY_OWN)
    assert balance(grant) == (900, 60, 540)


def test_a_provider_cannot_log_for_another_providers_relationship_by_url(
    tenant_a: Tenant, rel
) -> None:
    other_user, _ = other_provider(tenant_a)
    response = client_for(other_user).post(
        f"/o/{tenant_a.organization.slug}/relationships/{rel.public_id}/log/",
        {"date": "2025-06-10", "time": "15:00", "duration": "60", "kind": "tutoring"},
    )
    assert response.status_code == 404
    assert not Session.objects.exists()


# --- Insufficient hours ----------------------------------------------------------------------


@pytest.fixture
def short_rel(tenant_a: Tenant, grant) -> Relationship:  # type: ignore[no-untyped-def]
    """Holding only 1 h of the student's 15 h."""
    return paired(tenant_a, quantity=60)


def shortfall_notice(tenant: Tenant, message: str) -> str:
    return (
        f"Not enough hours for a session of {tenant.student.name} with "
        f"{tenant.provider.name}: {message}"
    )


def assert_admins_told(
    tenant: Tenant,
    admins,
    relationship: Relationship,
    message: str,  # type: ignore[no-untyped-def]
    outbox,
) -> None:  # type: ignore[no-untyped-def]
    text = shortfall_notice(tenant, message)
    link = reverse("relationships:detail", args=[tenant.organization.slug, relationship.public_id])
    assert sorted(TOLD.values_list("organization", "user", "text", "link")) == sorted(
        (tenant.organization.pk, admin.pk, text, link) for admin in admins
    )
    assert mails(outbox) == [
        (f"[Matchpal] {text[:120]}", text, sorted(admin.email for admin in admins))
    ]


def test_insufficient_hours_refused_and_the_admins_told(
    tenant_a: Tenant,
    tenant_b: Tenant,
    short_rel,
    grant,
    django_capture_on_commit_callbacks,
    mailoutbox,
) -> None:
    admins = [tenant_a.admin, second_admin(tenant_a)]
    message = "Only 1 h are reserved for this relationship; the session needs 1 h 30 min."
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(InsufficientHours) as raised,
    ):
        log(tenant_a, short_rel, at(10, 15), 90, notes="Essay plan")
    assert raised.value.message == message
    # Nothing of the session was kept...
    assert not Session.objects.exists()
    assert balance(grant) == (900, 0, 60)
    assert holds(short_rel) == [(grant.pk, 60, 0)]
    assert entries(kind=CONSUME) == []
    # ...but the notice was: every admin of this organization, nobody else.
    assert_admins_told(tenant_a, admins, short_rel, message, mailoutbox)
    assert not TOLD.filter(user__in=[tenant_a.provider_user, tenant_a.student_user, tenant_b.admin])
    assert find_differences() == []


@pytest.mark.django_db(transaction=True)
def test_the_shortfall_notice_outlives_the_real_rollback(tenant_a: Tenant, mailoutbox) -> None:
    """With real transactions (no test wrapper): the session's transaction rolls back, the
    notice commits on its own and its email goes out when it does."""
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=60)
    mailoutbox.clear()  # the proposal's and acceptance's, sent on their commits
    message = "Only 1 h are reserved for this relationship; the session needs 2 h."
    refused(lambda: log(tenant_a, rel, at(10, 15), 120), message, InsufficientHours)
    assert not Session.objects.exists()
    assert balance(grant) == (900, 0, 60)
    assert_admins_told(tenant_a, [tenant_a.admin], rel, message, mailoutbox)
    assert find_differences() == []


def test_insufficient_hours_when_completing_or_lengthening(
    tenant_a: Tenant, short_rel, grant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    scheduled = log(tenant_a, short_rel, at(11, 9), 75, scheduled=True)
    with django_capture_on_commit_callbacks(execute=True):
        refused(
            lambda: services.session_complete(
                membership=member(tenant_a.provider_user), session=scheduled
            ),
            "Only 1 h are reserved for this relationship; the session needs 1 h 15 min.",
            InsufficientHours,
        )
    scheduled.refresh_from_db()
    assert (scheduled.status, scheduled.charged_minutes, scheduled.logged_by) == (
        "scheduled",
        0,
        None,
    )
    assert_admins_told(
        tenant_a,
        [tenant_a.admin],
        short_rel,
        "Only 1 h are reserved for this relationship; the session needs 1 h 15 min.",
        mailoutbox,
    )

    done = log(tenant_a, short_rel, at(10, 9), 45)
    with django_capture_on_commit_callbacks(execute=True):
        refused(
            lambda: services.session_edit(
                membership=member(tenant_a.provider_user), session=done, duration=75
            ),
            "Only 15 min are reserved for this relationship; the session needs 30 min.",
            InsufficientHours,
        )
    done.refresh_from_db()
    assert (done.duration_minutes, done.charged_minutes) == (45, 45)
    assert balance(grant) == (900, 45, 15)
    assert TOLD.filter(user=tenant_a.admin).count() == 2
    assert sum(len(to) for _, _, to in mails(mailoutbox, "hours_short")) == 2
    assert find_differences() == []


def test_insufficient_hours_on_the_log_page(
    tenant_a: Tenant, short_rel, grant, provider_client_a
) -> None:
    response = provider_client_a.post(
        f"/o/{tenant_a.organization.slug}/relationships/{short_rel.public_id}/log/",
        {
            "date": "2025-06-10",
            "time": "15:00",
            "duration": "90",
            "kind": "tutoring",
            "notes": "Essay plan",
        },
    )
    message = "Only 1 h are reserved for this relationship; the session needs 1 h 30 min."
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [message]
    assert not Session.objects.exists()
    assert TOLD.get().text == shortfall_notice(tenant_a, message)


def test_a_grant_counts_only_from_the_day_it_is_valid(tenant_a: Tenant) -> None:
    """Bought this morning: it covers a session earlier today, not one yesterday."""
    today = past_grant(tenant_a.student, 300, valid_from=at(11, 8))
    rel = paired(tenant_a, quantity=300)
    log(tenant_a, rel, at(11, 7))
    refused(
        lambda: log(tenant_a, rel, at(10, 15)),
        "Only 0 min are reserved for this relationship; the session needs 1 h.",
        InsufficientHours,
    )
    assert balance(today) == (300, 60, 240)
    assert Session.objects.count() == 1
    assert find_differences() == []


def test_policy_draw_takes_the_shortfall_from_the_available_balance(
    tenant_a: Tenant, short_rel, grant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    set_policy(tenant_a.organization, insufficient_hours="draw")
    with django_capture_on_commit_callbacks(execute=True):
        session = log(tenant_a, short_rel, at(10, 15), 90)
    assert session.charged_minutes == 90
    assert balance(grant) == (900, 90, 0)
    assert holds(short_rel) == [(grant.pk, 0, 90)]
    assert entries(session=session) == [(CONSUME, 0, 60, -60), (CONSUME, 0, 30, 0)]
    assert set(GrantEntry.objects.filter(session=session).values_list("reason", flat=True)) == {
        "Drawn from the hours free to book"
    }
    assert not TOLD.exists()
    assert mails(mailoutbox, "hours_short") == []
    # Cancelling gives back exactly what was consumed: the hold's 60 min to the hold, the
    # 30 min drawn to the available balance (grants.services.restore).
    services.session_cancel(membership=member(tenant_a.admin), session=session, reason="Wrong day")
    assert balance(grant) == (900, 0, 60)
    assert holds(short_rel) == [(grant.pk, 60, 0)]
    assert find_differences() == []


def test_policy_draw_across_grants(tenant_a: Tenant) -> None:
    set_policy(tenant_a.organization, insufficient_hours="draw")
    first = past_grant(tenant_a.student, 60, expires_at=NOW + timedelta(days=5))
    second = past_grant(tenant_a.student, 300)
    rel = paired(tenant_a, quantity=60)
    assert (balance(first), balance(second)) == ((60, 0, 60), (300, 0, 0))
    session = log(tenant_a, rel, at(10, 15), 100)
    assert (balance(first), balance(second)) == ((60, 60, 0), (300, 40, 0))
    assert holds(rel) == [(first.pk, 0, 60), (second.pk, 0, 40)]
    services.session_edit(membership=member(tenant_a.provider_user), session=session, duration=80)
    # The last consumed goes back first: minutes drawn from the balance, back to the balance.
    assert (balance(first), balance(second)) == ((60, 60, 0), (300, 20, 0))
    assert find_differences() == []


def test_policy_draw_still_refuses_beyond_the_balance(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    set_policy(tenant_a.organization, insufficient_hours="draw")
    grant = past_grant(tenant_a.student, 100)
    rel = paired(tenant_a, quantity=60)
    message = (
        "The relationship's reserved hours and the student's hours free to book cover "
        "1 h 40 min; the session needs 2 h."
    )
    with django_capture_on_commit_callbacks(execute=True):
        refused(lambda: log(tenant_a, rel, at(10, 15), 120), message, InsufficientHours)
    assert not Session.objects.exists()
    assert balance(grant) == (100, 0, 60)
    assert_admins_told(tenant_a, [tenant_a.admin], rel, message, mailoutbox)
    assert find_differences() == []


def test_a_conflict_is_not_a_shortfall(tenant_a: Tenant, rel) -> None:
    session = log(tenant_a, rel, at(10, 15))
    services.session_cancel(membership=member(tenant_a.admin), session=session, reason="Sick")
    refused(
        lambda: services.session_cancel(
            membership=member(tenant_a.admin), session=session, reason="Again"
        ),
        "This session is already cancelled.",
        ConflictError,
    )
    assert not TOLD.exists()


def test_sessions_of_providers_without_a_login_are_logged_by_admins(tenant_a: Tenant) -> None:
    provider = ProviderFactory(organization=tenant_a.organization, user=None)
    past_grant(tenant_a.student, 300)
    rel = paired(tenant_a, quantity=120, provider=provider)
    refused(
        lambda: log(tenant_a, rel, at(10, 15)),
        "Only this relationship's provider or an admin can log its sessions.",
    )
    session = log(tenant_a, rel, at(10, 15), membership=member(tenant_a.admin))
    assert session.charged_minutes == 60
