"""The pages around sessions: provider and student home, the sessions list, the log form, and
pinned query counts (DESIGN §7) of the relationship and session pages and the home pages."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils.html import escape

from grants.reconcile import find_differences
from grants.services import hold
from matchpal.models import Organization, ServiceType
from relationships import services as rel_services
from relationships.models import Relationship
from reports import selectors as report_selectors
from sessions_app import selectors, services
from sessions_app.forms import duration_choices
from sessions_app.models import Session
from tests.factories import ProviderFactory, RelationshipFactory, StudentFactory
from tests.support import (
    NOW,
    Tenant,
    at,
    balance,
    client_for,
    log_as_admin,
    member,
    other_provider,
    paired,
    past_grant,
    propose,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def home(org: Organization) -> str:
    return f"/o/{org.slug}/"


# --- Provider home ---------------------------------------------------------------------------


def test_provider_home(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 900)
    ann = StudentFactory(organization=org, name="Ann Proposed")
    bob = StudentFactory(organization=org, name="Bob Proposed")
    cal = StudentFactory(organization=org, name="Cal Paired")
    for student in (ann, bob, cal):
        past_grant(student, 600)
    set_policy(org, proposal_response_days=5)
    later = propose(tenant_a, quantity=120, student=ann)
    set_policy(org, proposal_response_days=3)
    sooner = propose(tenant_a, quantity=90, student=bob)
    mine = paired(tenant_a, quantity=300)
    cals = paired(tenant_a, quantity=300, student=cal)
    other_user, other = other_provider(tenant_a)
    not_mine = propose(tenant_a, quantity=60, provider=other)
    past_due = log_as_admin(tenant_a, mine, at(11, 9), scheduled=True)
    log_as_admin(tenant_a, mine, at(12, 9), scheduled=True)  # still to come
    log_as_admin(tenant_a, cals, at(10, 15), 90)

    response = provider_client_a.get(home(org))
    assert response.status_code == 200
    context = response.context
    assert context["provider"] == tenant_a.provider
    assert [r.pk for r in context["proposals"]] == [sooner.pk, later.pk]  # answer soonest first
    assert not_mine.pk not in [r.pk for r in context["proposals"]]
    assert sorted(r.pk for r in context["paired"]) == sorted([mine.pk, cals.pk])
    assert [s.pk for s in context["to_log"]] == [past_due.pk]
    html = response.content.decode()
    assert "Proposals awaiting your answer" in html
    assert f"{bob.name}</a> · Tutoring · 1 h 30 min reserved" in html
    assert "answer by Jun 14" in html
    assert "answer by Jun 16" in html
    for proposal in (sooner, later):
        assert f'action="/o/{org.slug}/relationships/{proposal.public_id}/accept/"' in html
    for rel in (mine, cals):
        assert f'href="/o/{org.slug}/relationships/{rel.public_id}/log/">Log session</a>' in html
    assert f'{cal.name}</a> · Tutoring · <span class="text-secondary">3 h 30 min reserved' in html
    assert "Past sessions still to log" in html
    assert f'href="/o/{org.slug}/sessions/{past_due.public_id}/complete/">Log it</a>' in html
    # Another provider sees their own proposal and nothing of these.
    other_home = client_for(other_user).get(home(org)).context
    assert [r.pk for r in other_home["proposals"]] == [not_mine.pk]
    assert (other_home["paired"], other_home["to_log"]) == ([], [])


def test_provider_home_lists_no_session_of_an_ended_relationship_to_log(
    tenant_a: Tenant, provider_client_a
) -> None:
    """A scheduled session of a relationship that ended can no longer be logged (only on a
    paired relationship), so it is not offered as "still to log"."""
    org = tenant_a.organization
    past_grant(tenant_a.student, 900)
    ended = paired(tenant_a, quantity=300)
    orphan = log_as_admin(tenant_a, ended, at(11, 9), scheduled=True)
    rel_services.relationship_cancel(
        membership=member(tenant_a.admin), relationship=ended, reason="Moved away"
    )
    other_student = StudentFactory(organization=org)
    past_grant(other_student, 300)
    running = paired(tenant_a, quantity=120, student=other_student)
    due = log_as_admin(tenant_a, running, at(11, 10), scheduled=True)
    response = provider_client_a.get(home(org))
    assert [s.pk for s in response.context["to_log"]] == [due.pk]
    assert f"/sessions/{orphan.public_id}/complete/" not in response.content.decode()
    # It is still in the sessions list, where it can be cancelled.
    response = provider_client_a.get(sessions_url(org), {"status": "scheduled"})
    assert sorted(s.pk for s in response.context["page"]) == sorted([orphan.pk, due.pk])


def test_provider_home_hours_paid_this_week_and_month(tenant_a: Tenant, clock) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 1200, valid_from=NOW - timedelta(days=60))
    rel = paired(tenant_a, quantity=900, paired_at=NOW - timedelta(days=40))
    log_as_admin(tenant_a, rel, at(30, 10, month=5), 30)  # last month
    log_as_admin(tenant_a, rel, at(2, 10), 60)  # this month, last week
    log_as_admin(tenant_a, rel, at(8, 23, 30), 15)  # Sunday night: last week in New York
    log_as_admin(tenant_a, rel, at(9, 0, 0), 90)  # Monday midnight: this week
    log_as_admin(tenant_a, rel, at(11, 9), 45)
    cancelled = log_as_admin(tenant_a, rel, at(10, 9), 60)
    services.session_cancel(membership=member(tenant_a.admin), session=cancelled, reason="Sick")
    absent = log_as_admin(tenant_a, rel, at(10, 13), 60)
    services.session_no_show(membership=member(tenant_a.admin), session=absent, party="student")
    log_as_admin(tenant_a, rel, at(11, 8), 60, scheduled=True)
    # Another provider's hours are theirs.
    _, other = other_provider(tenant_a)
    log_as_admin(tenant_a, paired(tenant_a, quantity=120, provider=other), at(10, 10), 120)

    def figures() -> tuple[int, int, str]:
        # A new sign-in each time: the clock moves past the sign-in's expiry.
        response = client_for(tenant_a.provider_user).get(home(org))
        return (
            response.context["week_minutes"],
            response.context["month_minutes"],
            response.content.decode(),
        )

    week, month, html = figures()
    assert (week, month) == (135, 210)
    assert 'Paid this week</div><div class="mp-stat">2 h 15 min</div>' in html
    assert 'Paid this month</div><div class="mp-stat">3 h 30 min</div>' in html

    clock.move_to(at(16, 9))  # next Monday
    assert figures()[:2] == (0, 210)
    clock.move_to(at(1, 9, month=7))
    assert figures()[:2] == (0, 0)


def test_provider_home_counts_confirmed_sessions_when_the_center_asks(
    tenant_a: Tenant, provider_client_a
) -> None:
    org = set_policy(tenant_a.organization, require_student_confirmation=True)
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    first = log_as_admin(tenant_a, rel, at(10, 9), 60)
    log_as_admin(tenant_a, rel, at(10, 15), 45)
    assert provider_client_a.get(home(org)).context["week_minutes"] == 0
    services.session_confirm(membership=member(tenant_a.student_user), session=first)
    response = provider_client_a.get(home(org))
    assert (response.context["week_minutes"], response.context["month_minutes"]) == (60, 60)


# --- Student home ----------------------------------------------------------------------------


def test_student_home_sessions_running_total_and_balance(
    tenant_a: Tenant, student_client_a
) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    first = log_as_admin(tenant_a, rel, at(9, 10), 60)
    cancelled = log_as_admin(tenant_a, rel, at(10, 10), 90)
    services.session_cancel(membership=member(tenant_a.admin), session=cancelled, reason="Sick")
    last = log_as_admin(tenant_a, rel, at(11, 9), 45)
    ahead = log_as_admin(tenant_a, rel, at(13, 9), 60, scheduled=True)
    # Another student's session is not on this page.
    someone = StudentFactory(organization=org)
    past_grant(someone, 300)
    log_as_admin(tenant_a, paired(tenant_a, quantity=120, student=someone), at(10, 9), 60)
    assert balance(grant) == (900, 105, 495)

    response = student_client_a.get(home(org))
    assert response.status_code == 200
    rows = [(s.pk, s.charged_minutes, s.running) for s in response.context["sessions"]]
    assert rows == [
        (ahead.pk, 0, 105),
        (last.pk, 45, 105),
        (cancelled.pk, 0, 60),
        (first.pk, 60, 60),
    ]
    html = response.content.decode()
    assert "45 min used · Used after it: 1 h 45 min" in html
    assert "1 h used · Used after it: 1 h" in html
    # The balance: 15 h bought, 1 h 45 min used, 8 h 15 min reserved, 5 h free.
    assert '<div class="mp-stat" data-testid="available-tutoring">5 h</div>' in html
    assert '<span data-testid="total-tutoring">15 h</span>' in html
    assert '<span data-testid="used-tutoring">1 h 45 min</span>' in html
    assert 'Reserved <span data-testid="held-tutoring">8 h 15 min</span>' in html
    assert f"Reserved for {escape(tenant_a.provider.name)}: 8 h 15 min" in html
    # A completed session not yet confirmed has its Dispute link; Confirm only where the
    # center counts confirmed sessions alone.
    assert f'href="/o/{org.slug}/sessions/{last.public_id}/dispute/">Dispute</a>' in html
    assert f"/sessions/{last.public_id}/confirm/" not in html
    set_policy(org, require_student_confirmation=True)
    html = student_client_a.get(home(org)).content.decode()
    assert f'action="/o/{org.slug}/sessions/{last.public_id}/confirm/"' in html
    assert f'href="/o/{org.slug}/sessions/{last.public_id}/dispute/">Dispute</a>' in html
    for other in (ahead, cancelled):
        assert f"/sessions/{other.public_id}/confirm/" not in html
        assert f"/sessions/{other.public_id}/dispute/" not in html
    assert find_differences() == []


def test_student_home_dispute_for_completed_sessions_not_yet_disputed(
    tenant_a: Tenant, student_client_a
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    confirmed = log_as_admin(tenant_a, rel, at(9, 10), 60)
    services.session_confirm(membership=member(tenant_a.student_user), session=confirmed)
    open_ = log_as_admin(tenant_a, rel, at(10, 10), 60)
    disputed = log_as_admin(tenant_a, rel, at(10, 14), 60)
    services.session_dispute(
        membership=member(tenant_a.student_user), session=disputed, reason="Shorter"
    )
    ahead = log_as_admin(tenant_a, rel, at(13, 9), 60, scheduled=True)

    html = student_client_a.get(home(org)).content.decode()
    dispute = f"/o/{org.slug}/sessions/{{}}/dispute/"
    # A confirmed session can still be disputed inside the window (docs/rules.md).
    for session in (open_, confirmed):
        assert f'href="{dispute.format(session.public_id)}">Dispute</a>' in html
    for session in (disputed, ahead):
        assert dispute.format(session.public_id) not in html
    assert 'data-testid="session-disputed">Disputed</span>' in html

    # The link leads to the dispute form; a session not completed cannot be disputed.
    response = student_client_a.post(dispute.format(open_.public_id), {"reason": "Not 1 h"})
    assert response.status_code == 302
    response = student_client_a.post(dispute.format(ahead.public_id), {"reason": "Never booked"})
    assert response.context["form"].non_field_errors() == [selectors.DISPUTE_NOT_COMPLETED]
    ahead.refresh_from_db()
    assert (ahead.disputed_at, ahead.dispute_reason) == (None, "")


def test_student_home_running_totals_per_unit(tenant_a: Tenant, student_client_a) -> None:
    """Minutes and whole sessions never add up: one running total for each."""
    org = tenant_a.organization
    past_grant(tenant_a.student, 900)
    past_grant(tenant_a.student, 10, unit="sessions", service_types=("Advising",))
    tenant_a.provider.service_types.add(
        ServiceType.objects.get(organization=org, name="Advising"),
        through_defaults={"organization": org},
    )
    minutes = paired(tenant_a, quantity=600)
    counted = paired(tenant_a, quantity=4, unit="sessions", service_type="Advising")
    first = log_as_admin(tenant_a, minutes, at(9, 10), 60)
    one = log_as_admin(tenant_a, counted, at(9, 14), 90)
    second = log_as_admin(tenant_a, minutes, at(10, 10), 45)
    two = log_as_admin(tenant_a, counted, at(10, 14), 30)

    response = student_client_a.get(home(org))
    rows = [(s.pk, s.charged_minutes, s.running) for s in response.context["sessions"]]
    assert rows == [(two.pk, 1, 2), (second.pk, 45, 105), (one.pk, 1, 1), (first.pk, 60, 60)]
    html = response.content.decode()
    assert "1 session used · Used after it: 2 sessions" in html
    assert "45 min used · Used after it: 1 h 45 min" in html
    # Cut shorter, the rows shown still count every session before them, of their unit.
    for limit in (1, 2, 3):
        cut = report_selectors.student_sessions(
            organization=org, membership=member(tenant_a.student_user), limit=limit
        )
        assert [(s.pk, s.charged_minutes, s.running) for s in cut] == rows[:limit]
    assert find_differences() == []


def test_student_home_without_a_record(tenant_a: Tenant) -> None:
    tenant_a.student.user = None
    tenant_a.student.save()
    response = client_for(tenant_a.student_user).get(home(tenant_a.organization))
    assert response.status_code == 200
    assert "No student record is linked to your login yet." in response.content.decode()


# --- Admin sessions list ---------------------------------------------------------------------


def sessions_url(org: Organization) -> str:
    return f"/o/{org.slug}/sessions/"


def listed(client: Client, org: Organization, **params: str) -> list[int]:
    response = client.get(sessions_url(org), params)
    assert response.status_code == 200
    return [s.pk for s in response.context["page"]]


def test_admin_sessions_list_filters(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 900)
    zed = StudentFactory(organization=org)
    past_grant(zed, 900)
    other_user, other = other_provider(tenant_a)
    ann_paul = paired(tenant_a, quantity=600)
    zed_other = paired(tenant_a, quantity=600, student=zed, provider=other)
    s = {
        "a": log_as_admin(tenant_a, ann_paul, at(2, 10), 60),
        "b": log_as_admin(tenant_a, ann_paul, at(9, 10), 30, kind="revision"),
        "c": log_as_admin(tenant_a, zed_other, at(9, 23, 30), 60),  # June 10 in UTC
        "d": log_as_admin(tenant_a, zed_other, at(10, 9), 45, kind="advising"),
        "e": log_as_admin(tenant_a, ann_paul, at(13, 9), 60, scheduled=True),
    }
    services.session_cancel(membership=member(tenant_a.admin), session=s["d"], reason="Sick")
    pk = {key: session.pk for key, session in s.items()}

    assert listed(admin_client_a, org) == [pk[k] for k in "edcba"]
    assert listed(admin_client_a, org, student=str(zed.public_id)) == [pk["d"], pk["c"]]
    assert listed(admin_client_a, org, provider=str(tenant_a.provider.public_id)) == [
        pk["e"],
        pk["b"],
        pk["a"],
    ]
    assert listed(admin_client_a, org, status="cancelled") == [pk["d"]]
    assert listed(admin_client_a, org, status="scheduled") == [pk["e"]]
    assert listed(admin_client_a, org, kind="revision") == [pk["b"]]
    # Dates are the center's days: 23:30 on June 9 in New York is June 9.
    assert listed(admin_client_a, org, date_from="2025-06-09", date_to="2025-06-09") == [
        pk["c"],
        pk["b"],
    ]
    assert listed(admin_client_a, org, date_from="2025-06-10") == [pk["e"], pk["d"]]
    assert listed(admin_client_a, org, date_to="2025-06-08") == [pk["a"]]
    assert listed(admin_client_a, org, student=str(zed.public_id), status="completed") == [pk["c"]]
    # A provider sees only their own sessions, whatever the filter asks.
    assert listed(client_for(other_user), org) == [pk["d"], pk["c"]]
    # Someone else's student is not one of their choices: the filter is refused, not obeyed.
    response = client_for(other_user).get(
        sessions_url(org), {"student": str(tenant_a.student.public_id)}
    )
    assert "student" in response.context["filter"].errors
    assert {s.pk for s in response.context["page"]} == {pk["d"], pk["c"]}


def test_admin_sessions_list_paginates(tenant_a: Tenant, admin_client_a, settings) -> None:
    settings.MATCHPAL_PAGE_SIZE = 3
    org = tenant_a.organization
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    made = [log_as_admin(tenant_a, rel, NOW - timedelta(hours=2 + i), 30).pk for i in range(7)]
    first = admin_client_a.get(sessions_url(org), {"kind": "tutoring"})
    assert [s.pk for s in first.context["page"]] == made[:3]
    assert first.context["page"].paginator.num_pages == 3
    html = first.content.decode()
    assert "Page 1 of 3" in html
    assert "?kind=tutoring&page=2" in html
    assert listed(admin_client_a, org, kind="tutoring", page="2") == made[3:6]
    assert listed(admin_client_a, org, page="3") == made[6:]


def test_the_sessions_list_offers_no_show_only_once_a_session_has_started(
    tenant_a: Tenant, admin_client_a
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    started = log_as_admin(tenant_a, rel, NOW - timedelta(hours=2), 30)
    ahead = log_as_admin(tenant_a, rel, NOW + timedelta(days=1), 30, scheduled=True)
    html = admin_client_a.get(sessions_url(org)).content.decode()
    assert f"/o/{org.slug}/sessions/{started.public_id}/no-show/" in html
    assert f"/o/{org.slug}/sessions/{ahead.public_id}/no-show/" not in html
    assert f"/o/{org.slug}/sessions/{ahead.public_id}/cancel/" in html


def test_students_may_not_list_sessions(tenant_a: Tenant, student_client_a, admin_client_b) -> None:
    org = tenant_a.organization
    assert student_client_a.get(sessions_url(org)).status_code == 403
    assert admin_client_b.get(sessions_url(org)).status_code == 404


def test_filter_choices_show_a_provider_only_their_own_people(
    tenant_a: Tenant, provider_client_a, admin_client_a
) -> None:
    """A provider sees their own students, not every student of the center (DESIGN §2)."""
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    stranger = StudentFactory(organization=org, name="Stranger Danger")
    past_grant(stranger, 600)
    _, other = other_provider(tenant_a)
    other.name = "Other Tutor"
    other.save()
    paired(tenant_a, quantity=60)
    paired(tenant_a, quantity=60, student=stranger, provider=other)
    for path in ("relationships/", "sessions/"):
        form = provider_client_a.get(f"/o/{org.slug}/{path}").context["filter"].form
        assert [s.pk for s in form.fields["student"].queryset] == [tenant_a.student.pk]
        assert [p.pk for p in form.fields["provider"].queryset] == [tenant_a.provider.pk]
        html = provider_client_a.get(f"/o/{org.slug}/{path}").content.decode()
        assert "Stranger Danger" not in html
        assert "Other Tutor" not in html
        form = admin_client_a.get(f"/o/{org.slug}/{path}").context["filter"].form
        assert len(form.fields["student"].queryset) == 2
        assert len(form.fields["provider"].queryset) == 2


# --- The log form ----------------------------------------------------------------------------


def log_url(org: Organization, rel: Relationship) -> str:
    return f"/o/{org.slug}/relationships/{rel.public_id}/log/"


def test_the_log_form_offers_the_policys_durations(tenant_a: Tenant, provider_client_a) -> None:
    org = set_policy(
        tenant_a.organization,
        duration_step_minutes=15,
        min_session_minutes=15,
        max_session_minutes=120,
        notes_min_length=150,
    )
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    response = provider_client_a.get(log_url(org, rel))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.fields["duration"].choices == [
        (15, "15 min"),
        (30, "30 min"),
        (45, "45 min"),
        (60, "1 h"),
        (75, "1 h 15 min"),
        (90, "1 h 30 min"),
        (105, "1 h 45 min"),
        (120, "2 h"),
    ]
    assert form["duration"].value() == 60
    assert form["date"].value() == NOW.date()
    assert form["time"].value().isoformat() == "12:00:00"
    html = response.content.decode()
    assert '<option value="15">15 min</option>' in html
    assert '<option value="120">2 h</option>' in html
    assert '<option value="135">' not in html
    assert '<option value="60" selected>1 h</option>' in html
    assert 'data-min-length="150"' in html
    assert 'minlength="150"' in html
    assert "At least 150 characters." in html


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            {"duration_step_minutes": 20, "min_session_minutes": 30, "max_session_minutes": 100},
            [40, 60, 80, 100],
        ),
        (
            {"duration_step_minutes": 25, "min_session_minutes": 25, "max_session_minutes": 100},
            [25, 50, 75, 100],
        ),
        (
            {"duration_step_minutes": 5, "min_session_minutes": 5, "max_session_minutes": 20},
            [5, 10, 15, 20],
        ),
    ],
)
def test_duration_choices_start_at_the_first_step_above_the_minimum(
    tenant_a: Tenant, policy: dict[str, int], expected: list[int]
) -> None:
    org = set_policy(tenant_a.organization, **policy)
    assert [m for m, _ in duration_choices(org)] == expected


def test_the_log_form_without_a_notes_minimum(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    html = provider_client_a.get(log_url(org, rel)).content.decode()
    assert "minlength=" not in html
    assert "At least" not in html


def test_an_invalid_log_form_rerenders_with_its_messages(
    tenant_a: Tenant, provider_client_a
) -> None:
    org = set_policy(
        tenant_a.organization,
        duration_step_minutes=15,
        min_session_minutes=15,
        max_session_minutes=120,
        notes_min_length=20,
    )
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    response = provider_client_a.post(
        log_url(org, rel),
        {"date": "", "time": "25:00", "duration": "50", "kind": "chat", "notes": "Kept"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["date"] == ["This field is required."]
    assert errors["time"] == ["Enter a valid time."]
    assert errors["duration"] == ["Select a valid choice. 50 is not one of the available choices."]
    assert errors["kind"] == ["Select a valid choice. chat is not one of the available choices."]
    html = response.content.decode()
    assert "This field is required." in html
    assert "Kept</textarea>" in html

    # Valid as a form, refused by a rule of the center: shown at the top of the form.
    response = provider_client_a.post(
        log_url(org, rel),
        {
            "date": "2025-06-10",
            "time": "15:00",
            "duration": "60",
            "kind": "tutoring",
            "notes": "Too short",
        },
    )
    assert response.status_code == 200
    message = "The notes need at least 20 characters (9 so far)."
    assert response.context["form"].non_field_errors() == [message]
    assert message in response.content.decode()
    assert not Session.objects.exists()
    assert balance(grant) == (600, 0, 300)


def test_the_log_form_logs_and_schedules(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    response = provider_client_a.post(
        log_url(org, rel),
        {
            "date": "2025-06-10",
            "time": "15:30",
            "duration": "90",
            "kind": "tutoring",
            "mode": "Online",
            "notes": "Quadratics",
            "internal_note": "Tired",
        },
        follow=True,
    )
    logged = Session.objects.get()
    assert response.redirect_chain == [(logged.get_absolute_url(), 302)]
    assert [str(m) for m in response.context["messages"]] == ["Session logged."]
    assert logged.starts_at == at(10, 15, 30)
    assert (logged.status, logged.charged_minutes, logged.internal_note) == (
        "completed",
        90,
        "Tired",
    )
    response = provider_client_a.post(
        log_url(org, rel),
        {
            "date": "2025-06-13",
            "time": "10:00",
            "duration": "60",
            "kind": "tutoring",
            "schedule": "on",
        },
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["Session scheduled."]
    scheduled = Session.objects.get(status="scheduled")
    assert scheduled.starts_at == at(13, 10)
    assert balance(grant) == (600, 90, 210)
    assert find_differences() == []


def test_the_log_page_of_a_relationship_not_paired(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    response = admin_client_a.post(
        log_url(org, rel),
        {"date": "2025-06-10", "time": "15:00", "duration": "60", "kind": "tutoring"},
    )
    assert response.context["form"].non_field_errors() == [
        "Sessions can be logged only on a paired relationship."
    ]


# --- Pinned query counts ---------------------------------------------------------------------


SIZES = (3, 30)


def _tutoring(org: Organization) -> ServiceType:
    return ServiceType.objects.get(organization=org, name="Tutoring")


def _student_with_hours(tenant: Tenant, minutes: int = 600):  # type: ignore[no-untyped-def]
    student = StudentFactory(organization=tenant.organization)
    past_grant(student, minutes)
    return student


def grow_relationships(tenant: Tenant, n: int) -> str:
    org = tenant.organization
    for _ in range(org.relationships.count(), n):
        rel = RelationshipFactory(
            organization=org,
            student=_student_with_hours(tenant),
            provider=ProviderFactory(organization=org),
        )
        hold(actor=None, relationship=rel, quantity=60)
    return f"/o/{org.slug}/relationships/"


def grow_sessions(tenant: Tenant, n: int) -> str:
    grow_relationships(tenant, n)
    for rel in tenant.organization.relationships.filter(sessions=None):
        log_as_admin(tenant, rel, NOW - timedelta(hours=3), 30)
    return f"/o/{tenant.organization.slug}/sessions/"


def _the_relationship(tenant: Tenant) -> Relationship:
    rel = Relationship.objects.filter(student=tenant.student).first()
    if rel is None:
        past_grant(tenant.student, 6000)
        rel = paired(tenant, quantity=3000)
    return rel


def grow_relationship_detail(tenant: Tenant, n: int) -> str:
    """One relationship with n sessions, logged alternately by its provider and an admin."""
    rel = _the_relationship(tenant)
    for i in range(rel.sessions.count(), n):
        actor = tenant.admin if i % 2 else tenant.provider_user
        log_as_admin(tenant, rel, NOW - timedelta(hours=2 + i), 30, membership=member(actor))
    return f"/o/{tenant.organization.slug}/relationships/{rel.public_id}/"


def grow_provider_home(tenant: Tenant, n: int) -> str:
    """n proposals, n paired students each with a session delivered and one still to log."""
    org, provider = tenant.organization, tenant.provider
    for _ in range(provider.relationships.filter(status="proposed").count(), n):
        rel = RelationshipFactory(
            organization=org,
            provider=provider,
            status="proposed",
            student=_student_with_hours(tenant),
        )
        hold(actor=None, relationship=rel, quantity=30)
    for _ in range(provider.relationships.filter(status="paired").count(), n):
        rel = RelationshipFactory(
            organization=org,
            provider=provider,
            service_type=_tutoring(org),
            student=_student_with_hours(tenant),
        )
        hold(actor=None, relationship=rel, quantity=180)
        log_as_admin(tenant, rel, NOW - timedelta(hours=1), 60)
        # Each still to log at an hour of its own: one provider's live sessions never overlap.
        k = provider.relationships.filter(status="paired").count()
        log_as_admin(tenant, rel, NOW - timedelta(hours=1 + k), 60, scheduled=True)
    return f"/o/{org.slug}/"


def grow_student_home(tenant: Tenant, n: int) -> str:
    """n grants, n relationships (each of its own provider) with a session each."""
    org, student = tenant.organization, tenant.student
    for i in range(student.grants.count(), n):
        name = ("Tutoring", "Advising")[i % 2]
        past_grant(student, 120, service_types=(name,))
        rel = RelationshipFactory(
            organization=org,
            student=student,
            provider=ProviderFactory(organization=org, services=[name]),
            service_type=ServiceType.objects.get(organization=org, name=name),
        )
        hold(actor=None, relationship=rel, quantity=60)
        log_as_admin(tenant, rel, NOW - timedelta(hours=1 + i), 30)
    return f"/o/{org.slug}/"


PAGES: dict[str, tuple[str, Callable[[Tenant, int], str], int]] = {
    # the user with its membership, one statement (the web session comes from the cache); the
    # filter's service types (students and providers are searched, not listed); the count and
    # the page of rows (holds summed in the same query).
    "relationships list": ("admin", grow_relationships, 4),
    "relationships list (provider)": ("provider", grow_provider_home, 4),
    # the user with its membership, one statement (the web session comes from the cache);
    # count; page.
    "sessions list": ("admin", grow_sessions, 3),
    # the user with its membership, one statement (the web session comes from the cache); the
    # relationship with its holds; count and page of sessions; its history.
    "relationship detail": ("admin", grow_relationship_detail, 5),
    # The provider's record is read without its service types (9, was 10: the home shows none),
    # and the user with its membership in one statement (8); its six lists in one round trip
    # (3: tests/test_query_counts.py says which).
    "provider home": ("provider", grow_provider_home, 3),
    "student home": ("student", grow_student_home, 8),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_query_counts_do_not_grow_with_rows(
    tenant_a: Tenant, page: str, django_assert_num_queries
) -> None:
    role, grow, pinned = PAGES[page]
    user = {
        "admin": tenant_a.admin,
        "provider": tenant_a.provider_user,
        "student": tenant_a.student_user,
    }[role]
    client = client_for(user)
    for n in SIZES:
        url = grow(tenant_a, n)
        if page == "relationships list (provider)":
            url = f"/o/{tenant_a.organization.slug}/relationships/"
        # Warm the session up: the pinned count is that of the same request each time.
        assert client.get(url).status_code == 200
        with django_assert_num_queries(pinned):
            response = client.get(url)
        assert response.status_code == 200
        if "page" in response.context:
            assert response.context["page"].paginator.count >= n
            assert len(response.context["page"].object_list) == min(
                response.context["page"].paginator.count, django_settings.MATCHPAL_PAGE_SIZE
            )
        if page == "relationship detail":
            assert response.context["sessions"].paginator.count == n
        if page == "provider home":
            assert len(response.context["proposals"]) == n
            assert len(response.context["to_log"]) == min(n, 20)
        if page == "student home":
            assert len(response.context["sessions"]) == min(n, 20)
    assert find_differences() == []
