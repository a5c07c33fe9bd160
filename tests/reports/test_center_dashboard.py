"""The admin home's figures for the whole center (reports/dashboard.py): hours per service
type, sessions this week and this month with their rates, the trend of hours delivered, and
the warning signs with their lists; and the summaries they read (`PairingActivity`,
`ShortSession`, `CenterBalance`), kept by the database's triggers, against a rebuild."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from grants import balances
from grants import services as ledger
from grants.models import CenterBalance
from grants.selectors import student_balances
from relationships.models import Relationship
from sessions_app import rollups
from sessions_app import services as session_services
from sessions_app.models import PairingActivity, Session, ShortSession
from students.models import Student
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory, make_grant
from tests.support import (
    Tenant,
    at,
    client_for,
    log,
    member,
    paired,
    past_grant,
    set_policy,
)

pytestmark = pytest.mark.django_db


def home(tenant: Tenant):  # type: ignore[no-untyped-def]
    response = client_for(tenant.admin).get(reverse("org_home", args=[tenant.organization.slug]))
    assert response.status_code == 200
    return response


def assert_summaries_exact() -> None:
    assert rollups.differences() == []
    assert balances.center_differences() == []


# --- The summaries --------------------------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_the_summaries_follow_every_session_change_and_equal_a_rebuild(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    admin = member(tenant_a.admin, org)
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a, quantity=600)
    assert PairingActivity.objects.get(relationship=relationship).status == "paired"
    first = log(tenant_a, relationship, at(9, 23, 30), 60)
    second = log(tenant_a, relationship, at(10, 10), 45)
    third = log(tenant_a, relationship, at(11, 9), 90)
    assert_summaries_exact()

    session_services.session_edit(membership=admin, session=second, duration=20, reason="Short")
    # 20 minutes against a usual (60 + 20 + 90) / 3 = 57: under half of it.
    assert list(ShortSession.objects.values_list("session_id", flat=True)) == [second.pk]
    session_services.session_cancel(membership=admin, session=third, reason="Ill")
    # A write outside the services (a bulk update) is followed too: the triggers are the
    # database's.
    Session.objects.filter(pk=first.pk).update(status="no_show")
    assert_summaries_exact()
    activity = PairingActivity.objects.get(relationship=relationship)
    assert (activity.completed, activity.minutes, activity.last_session_at) == (
        1,
        20,
        second.starts_at,
    )
    assert not ShortSession.objects.exists()  # alone, it is its pairing's usual length
    relationship.status = "completed"
    relationship.save(update_fields=["status"])
    assert PairingActivity.objects.get(relationship=relationship).status == "completed"
    assert_summaries_exact()

    # The rebuild command gives the same rows, and --check agrees.
    kept = sorted(PairingActivity.objects.values_list("relationship_id", "completed", "minutes"))
    call_command("rebuild_rollups")
    assert (
        sorted(PairingActivity.objects.values_list("relationship_id", "completed", "minutes"))
        == kept
    )
    call_command("rebuild_rollups", "--check")


def test_the_center_s_thresholds_re_decide_its_short_sessions(tenant_a: Tenant) -> None:
    """Over the last year of real time: the trigger compares with the database's clock."""
    org = tenant_a.organization
    relationship = RelationshipFactory(organization=org)
    session = SessionFactory(
        relationship=relationship,
        starts_at=timezone.now() - timedelta(days=3),
        duration_minutes=20,
    )
    assert not ShortSession.objects.exists()  # alone, it is its pairing's usual length
    set_policy(org, min_session_minutes=30, max_session_minutes=180)
    assert list(ShortSession.objects.values_list("session_id", flat=True)) == [session.pk]
    set_policy(org, min_session_minutes=5)
    assert not ShortSession.objects.exists()
    assert_summaries_exact()


def test_the_check_names_a_summary_that_drifted(tenant_a: Tenant) -> None:
    SessionFactory(relationship=RelationshipFactory(organization=tenant_a.organization))
    PairingActivity.objects.update(minutes=5)
    assert [d.table for d in rollups.differences()] == ["sessions_app_pairingactivity"] * 2
    with pytest.raises(CommandError):
        call_command("rebuild_rollups", "--check")


def test_the_gap_variation_is_the_spread_of_the_last_five_gaps(tenant_a: Tenant) -> None:
    relationship = RelationshipFactory(organization=tenant_a.organization)
    start = timezone.now() - timedelta(days=60)
    for day in (0, 1, 2):
        SessionFactory(relationship=relationship, starts_at=start + timedelta(days=day))
    assert PairingActivity.objects.get(relationship=relationship).gap_variation is None
    for day in (3, 10, 30, 31):  # gaps of the last six: 1, 1, 7, 20, 1 days
        SessionFactory(relationship=relationship, starts_at=start + timedelta(days=day))
    # mean 6 days, population standard deviation sqrt(((5² + 5² + 1 + 14² + 5²)) / 5) = 7.35
    assert PairingActivity.objects.get(relationship=relationship).gap_variation == 123
    assert_summaries_exact()


# --- Hours per service type -----------------------------------------------------------------


def test_center_hours_per_service_type_agree_with_the_students_hours_pages(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    org = tenant_a.organization
    now = timezone.now()
    other = StudentFactory(organization=org, name="Other")
    # Valid since yesterday: the session logged below (three hours ago) falls on the day before
    # in the center's time zone when the test runs in its first three hours.
    both = make_grant(
        student=tenant_a.student,
        minutes=600,
        service_types=("Tutoring", "Advising"),
        valid_from=now - timedelta(days=1),
    )
    make_grant(student=other, minutes=300)
    make_grant(student=other, minutes=10, unit="sessions", service_types=("Advising",))
    make_grant(student=other, minutes=120, valid_from=now + timedelta(days=3))  # not yet valid
    expiring = make_grant(student=other, minutes=60, expires_at=now + timedelta(days=5))
    ledger.grant_expire(actor=tenant_a.admin, grant=expiring)
    ledger.grant_refund(actor=tenant_a.admin, grant=both, quantity=60, reason="Refund")
    relationship = paired(tenant_a, quantity=240)  # reserves 240 of the Tutoring hours
    log(tenant_a, relationship, now - timedelta(hours=3), 90)
    make_grant(student=tenant_b.student, minutes=999)  # another center

    figures = {
        (h.service_type, h.unit): (h.purchased, h.used, h.reserved, h.free)
        for h in home(tenant_a).context["center_hours"]
    }
    assert figures == {
        ("Advising", "minutes"): (600, 90, 150, 300),
        ("Advising", "sessions"): (10, 0, 0, 10),
        ("Tutoring", "minutes"): (600 + 300 + 120 + 60, 90, 150, 300 + 300),
    }
    # The same as adding up every student's hours page (a grant of two types under each).
    summed: dict[tuple[str, str], list[int]] = {}
    for student in Student.objects.filter(organization=org):
        for b in student_balances(student=student):
            row = summed.setdefault((b.service_type.name, b.unit), [0, 0, 0])
            row[0] += b.used
            row[1] += b.held
            row[2] += b.available
    assert {key: tuple(row) for key, row in summed.items()} == {
        key: value[1:] for key, value in figures.items()
    }
    assert_summaries_exact()
    html = home(tenant_a).content.decode()
    assert "Hours of the whole center" in html
    assert CenterBalance.objects.filter(organization=tenant_b.organization).count() == 1


# --- Sessions this week, this month, and the trend ------------------------------------------


@pytest.mark.usefixtures("clock")
def test_sessions_this_week_and_month_with_their_rates(tenant_a: Tenant, tenant_b: Tenant) -> None:
    """The clock is Wednesday June 11, 2025, noon in New York: the week is June 9 to 15."""
    rel = RelationshipFactory(organization=tenant_a.organization)

    def session(day: int, status: str = "completed", minutes: int = 60, month: int = 6) -> None:
        SessionFactory(
            relationship=rel,
            starts_at=at(day, 10, month=month),
            status=status,
            duration_minutes=minutes,
        )

    session(9, minutes=45)
    session(10, "cancelled")
    session(11, "no_show")
    session(14, "scheduled")
    session(2, minutes=90)  # this month, last week
    session(3, "cancelled")
    session(30, minutes=30, month=5)  # last month
    session(1, minutes=30, month=7)  # next month: in no period shown
    SessionFactory(
        relationship=RelationshipFactory(organization=tenant_b.organization), starts_at=at(10, 9)
    )

    context = home(tenant_a).context
    week, month = context["week"], context["month"]
    assert (week.sessions, week.completed, week.cancelled, week.no_shows, week.scheduled) == (
        4,
        1,
        1,
        1,
        1,
    )
    assert week.delivered_minutes == 45
    assert [round(r, 1) for r in (week.completion_rate, week.cancellation_rate)] == [33.3, 33.3]
    assert (month.sessions, month.ended, month.delivered_minutes) == (6, 5, 135)
    assert month.completion_rate == 40.0

    weekly = context["weekly"]
    assert len(weekly.periods) == 12
    assert [(p.label, p.delivered_minutes) for p in weekly.periods[-3:]] == [
        ("May 26", 30),
        ("Jun 2", 90),
        ("Jun 9", 45),
    ]
    monthly = context["monthly"]
    assert [p.label for p in monthly.periods] == [
        *[f"{m} 2024" for m in ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec")],
        *[f"{m} 2025" for m in ("Jan", "Feb", "Mar", "Apr", "May", "Jun")],
    ]
    assert [p.delivered_minutes for p in monthly.periods[-2:]] == [30, 135]

    html = home(tenant_a).content.decode()
    trend = html[html.index('data-testid="trend-monthly"') :]
    assert '<svg viewBox="0 0 640 220"' in trend
    assert '<td class="text-nowrap">Jun 2025</td><td class="text-end">2</td>' in trend


@pytest.mark.usefixtures("clock")
def test_a_center_without_sessions_shows_no_rates(tenant_a: Tenant) -> None:
    context = home(tenant_a).context
    assert context["week"].sessions == 0
    assert context["week"].completion_rate is None
    assert "—" in home(tenant_a).content.decode()


# --- Warning signs --------------------------------------------------------------------------


def _pairing(tenant: Tenant, name: str, *days_ago: float, minutes: int = 60, **kw: object):  # type: ignore[no-untyped-def]
    now = timezone.now()
    relationship = RelationshipFactory(
        organization=tenant.organization,
        student=StudentFactory(organization=tenant.organization, name=name),
        **{"paired_at": now - timedelta(days=90), **kw},
    )
    for days in days_ago:
        SessionFactory(
            relationship=relationship,
            starts_at=now - timedelta(days=days),
            duration_minutes=minutes,
        )
    return relationship


def _listed(tenant: Tenant, sign: str) -> str:
    url = reverse(f"warning_{sign}", args=[tenant.organization.slug])
    response = client_for(tenant.admin).get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_warning_signs_count_their_rows_and_list_them(tenant_a: Tenant, tenant_b: Tenant) -> None:
    """Defaults: a long gap is 21 days, a very short session under 50 % of the usual length
    (or under the 5-minute minimum) in the last 30 days, irregular from 50 % variation."""
    now = timezone.now()
    _pairing(tenant_a, "Regular", 35, 28, 21, 14, 7, 1)
    _pairing(tenant_a, "Gap", 60, 50, 40, 30)
    _pairing(tenant_a, "Irregular", 60, 59, 58, 40, 39, 2)
    _pairing(tenant_a, "Idle")
    _pairing(tenant_a, "Newly paired", paired_at=now - timedelta(days=3))
    _pairing(tenant_a, "Ended", 90, status="completed")
    short = _pairing(tenant_a, "Short", 20, 13, 6)
    SessionFactory(relationship=short, starts_at=now - timedelta(days=2), duration_minutes=25)
    _pairing(tenant_b, "Other center gap", 60)
    _pairing(tenant_b, "Other center idle")

    warnings = home(tenant_a).context["warnings"]
    assert warnings == {
        "short": 1,
        "long_gap": 1,
        "irregular": 1,
        "idle": 1,
        "repeated_cancellations": 0,
    }
    for sign, name in (
        ("long_gap", "Gap"),
        ("irregular", "Irregular"),
        ("idle", "Idle"),
        ("short", "Short"),
    ):
        rows = _listed(tenant_a, sign).split('data-testid="warning-rows"')[1].split("</table>")[0]
        assert rows.count("<tr>") == 2, sign  # the header and the one row
        assert f">{name}<" in rows or f"<td>{name}</td>" in rows, sign

    # The settings move them: a gap of 10 days, a short session under 45 %, no irregularity
    # under 200 %.
    set_policy(
        tenant_a.organization,
        warning_gap_days=10,
        warning_short_session_percent=40,
        warning_irregular_percent=200,
    )
    moved = home(tenant_a).context["warnings"]
    # "Irregular" (latest 2 days ago) is in, "Short" (latest 2 days ago) too; "Regular" none.
    assert (moved["long_gap"], moved["irregular"], moved["short"]) == (1, 0, 0)
    assert moved["idle"] == 1  # "Newly paired" 3 days ago is not idle yet


def test_the_home_links_each_sign_to_its_list(tenant_a: Tenant) -> None:
    html = home(tenant_a).content.decode()
    section = html[html.index('data-testid="warning-signs"') :].split("</ul>")[0]
    for sign in ("short", "long_gap", "irregular", "idle", "repeated_cancellations"):
        url = reverse(f"warning_{sign}", args=[tenant_a.organization.slug])
        assert f'href="{url}"' in section


def test_a_warning_list_is_for_admins(tenant_a: Tenant) -> None:
    url = reverse("warning_long_gap", args=[tenant_a.organization.slug])
    assert url.endswith("/warnings/long-gap/")
    assert client_for(tenant_a.provider_user).get(url).status_code == 403
    assert client_for(tenant_a.student_user).get(url).status_code == 403


def test_repeated_cancellations_list_the_pairings(tenant_a: Tenant) -> None:
    relationship = _pairing(tenant_a, "Cancelling", 1)
    for days in (2, 3, 4):
        SessionFactory(
            relationship=relationship,
            starts_at=timezone.now() - timedelta(days=days),
            status="cancelled",
        )
    assert Relationship.objects.count() >= 1
    rows = _listed(tenant_a, "repeated_cancellations").split('data-testid="warning-rows"')[1]
    assert "Cancelling" in rows.split("</table>")[0]
    assert Session.objects.filter(status="cancelled").count() == 3
