"""The admins' digests with the clock moved: the weekly one of idle pairings (each linked, once
per admin per week, none when nothing is idle) and the daily one of what needs attention
(opt-in, once per admin per day, none when all is quiet)."""

from datetime import timedelta

import pytest

from matchpal.models import Membership
from notifications.models import Dispatch, EmailDelivery
from notifications.services import center_defaults_save, preferences_save
from reports.digests import send_admin_digests
from sessions_app import services as session_services
from tests.notifications.support import email_to, html_of, inbox, told
from tests.support import (
    NOW,
    Tenant,
    client_for,
    log,
    member,
    other_provider,
    paired,
    past_grant,
    propose,
    second_admin,
)

pytestmark = pytest.mark.usefixtures("clock")

SITE = "http://testserver"


@pytest.fixture
def run_job(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return send_admin_digests()

    return run


@pytest.fixture
def idle_pairs(tenant_a: Tenant):  # type: ignore[no-untyped-def]
    """Three paired relationships: one never met (paired 30 days ago), one whose last session
    was 25 days ago (a long gap; the center's gap is 21 days), one that met 2 days ago."""
    past_grant(tenant_a.student, 3000)
    never = paired(tenant_a, quantity=600)
    _, provider_2 = other_provider(tenant_a)
    gap = paired(tenant_a, quantity=600, provider=provider_2)
    log(
        tenant_a,
        gap,
        NOW - timedelta(days=25),
        membership=member(tenant_a.admin, tenant_a.organization),
    )
    _, provider_3 = other_provider(tenant_a, email="third.provider@alpha.example")
    active = paired(tenant_a, quantity=600, provider=provider_3)
    log(
        tenant_a,
        active,
        NOW - timedelta(days=2),
        membership=member(tenant_a.admin, tenant_a.organization),
    )
    return never, gap, active


def digests(outbox, word: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(a, s) for a, s in told(outbox) if word in s]


def test_the_weekly_digest_links_each_idle_pairing_once_per_admin_per_week(
    tenant_a: Tenant, idle_pairs, mailoutbox, run_job, time_machine, settings
) -> None:
    settings.MATCHPAL_SITE_URL = SITE
    never, gap, active = idle_pairs
    admin_2 = second_admin(tenant_a)
    org = tenant_a.organization

    assert run_job() == 2  # Wednesday noon: this week's is due
    assert run_job() == 0  # a second run tells nobody

    subject = "[Matchpal] Weekly digest: 2 idle pairings"
    assert digests(mailoutbox, "Weekly") == sorted(
        [(tenant_a.admin.email, subject), (admin_2.email, subject)]
    )
    email = email_to(mailoutbox, tenant_a.admin.email)
    detail = f"{SITE}/o/{org.slug}/relationships/{{}}/"
    assert f"{never.student.name} with {never.provider.name} (Tutoring): paired May 12, 2025" in (
        email.body
    )
    assert f"{gap.provider.name} (Tutoring): last session May 17, 2025: " in email.body
    assert detail.format(never.public_id) in email.body
    assert detail.format(gap.public_id) in email.body
    assert str(active.public_id) not in email.body
    assert email.body.index(str(never.public_id)) < email.body.index(str(gap.public_id))
    assert "Long gaps: 1\nNever met: 1\n" in email.body
    html = html_of(email)
    assert f'<a href="{detail.format(gap.public_id)}">' in html
    assert f"{SITE}/o/{org.slug}/notifications/preferences/" in html
    assert inbox(tenant_a.admin, org)[0] == (
        "idle_digest",
        f"2 paired relationships have had no session at {org.name} for 21 days or more.",
    )
    dispatch = Dispatch.objects.get(
        kind="idle_digest",
        object_key__endswith=str(Membership.objects.get(user=tenant_a.admin).public_id),
    )
    assert dispatch.occasion == "2025-W24"

    mailoutbox.clear()
    time_machine.move_to(NOW + timedelta(days=4))  # Sunday: the same week
    assert run_job() == 0
    time_machine.move_to(NOW + timedelta(days=7))  # next Wednesday
    assert run_job() == 2
    assert len(digests(mailoutbox, "Weekly")) == 2


def test_the_weekly_digest_waits_for_monday_7_oclock(
    tenant_a: Tenant, idle_pairs, mailoutbox, run_job, time_machine
) -> None:
    monday = NOW + timedelta(days=5)
    time_machine.move_to(monday.replace(hour=6, minute=45))
    assert run_job() == 0
    time_machine.move_to(monday.replace(hour=7, minute=45))
    assert run_job() == 1
    assert Dispatch.objects.get(kind="idle_digest").occasion == "2025-W25"


def test_no_weekly_digest_when_no_pairing_is_idle(tenant_a: Tenant, mailoutbox, run_job) -> None:
    past_grant(tenant_a.student, 1200)
    relationship = paired(tenant_a, quantity=600)
    log(
        tenant_a,
        relationship,
        NOW - timedelta(days=3),
        membership=member(tenant_a.admin, tenant_a.organization),
    )

    assert run_job() == 0
    assert digests(mailoutbox, "digest") == []
    assert not Dispatch.objects.filter(kind="idle_digest").exists()


def test_the_daily_digest_is_opt_in_and_links_what_needs_attention(
    tenant_a: Tenant, idle_pairs, mailoutbox, run_job, time_machine, settings
) -> None:
    settings.MATCHPAL_SITE_URL = SITE
    org = tenant_a.organization
    admin_2 = second_admin(tenant_a)
    _, provider_4 = other_provider(tenant_a, email="fourth.provider@alpha.example")
    proposal = propose(tenant_a, quantity=60, provider=provider_4)

    run_job()
    assert digests(mailoutbox, "Daily") == []  # nobody turned it on
    assert not Dispatch.objects.filter(kind="attention_digest").exists()

    preferences_save(membership=member(admin_2, org), choices={"attention_digest": True})
    mailoutbox.clear()
    assert run_job() == 1
    assert run_job() == 0

    assert digests(mailoutbox, "Daily") == [
        (admin_2.email, "[Matchpal] Daily digest: 3 things to look at")
    ]
    email = email_to(mailoutbox, admin_2.email)
    slug = org.slug
    for line in (
        "Needs attention\n"
        f"- Proposals awaiting an answer: 1: {SITE}/o/{slug}/relationships/?status=proposed\n",
        "Warning signs\n"
        f"- Pairings with a long gap: 1: {SITE}/o/{slug}/warnings/long-gap/\n"
        f"- Idle pairings: 1: {SITE}/o/{slug}/warnings/idle/\n",
        "Oldest unanswered proposals\n"
        f"- {proposal.student.name} with {provider_4.name}, answer by Jun 18: "
        f"{SITE}/o/{slug}/relationships/{proposal.public_id}/\n",
        f"Open the admin home: {SITE}/o/{slug}/\n",
    ):
        assert line in email.body
    assert "Disputed sessions" not in email.body  # zero figures are left out
    assert f'<a href="{SITE}/o/{slug}/warnings/idle/">Idle pairings: 1</a>' in html_of(email)
    assert inbox(admin_2, org)[0] == (
        "attention_digest",
        f"What needs attention at {org.name} today.",
    )
    assert [k for k, _ in inbox(tenant_a.admin, org) if "digest" in k] == ["idle_digest"]

    # The center's default turns it on for the admin who has not chosen.
    center_defaults_save(membership=member(tenant_a.admin, org), choices={"attention_digest": True})
    mailoutbox.clear()
    assert run_job() == 1
    assert digests(mailoutbox, "Daily") == [
        (tenant_a.admin.email, "[Matchpal] Daily digest: 3 things to look at")
    ]

    mailoutbox.clear()
    time_machine.move_to(NOW + timedelta(hours=20))  # 08:00 the next day
    assert run_job() == 2
    assert len(digests(mailoutbox, "Daily")) == 2
    assert sorted(
        Dispatch.objects.filter(kind="attention_digest").values_list("occasion", flat=True)
    ) == ["2025-06-11", "2025-06-11", "2025-06-12", "2025-06-12"]


def test_the_daily_digest_waits_for_7_oclock(
    tenant_a: Tenant, idle_pairs, mailoutbox, run_job, time_machine
) -> None:
    org = tenant_a.organization
    preferences_save(membership=member(tenant_a.admin, org), choices={"attention_digest": True})
    time_machine.move_to(NOW + timedelta(hours=18, minutes=30))  # 06:30 the next day
    run_job()
    assert not Dispatch.objects.filter(kind="attention_digest", occasion="2025-06-12").exists()


def test_no_daily_digest_when_nothing_needs_attention(
    tenant_a: Tenant, mailoutbox, run_job
) -> None:
    org = tenant_a.organization
    preferences_save(membership=member(tenant_a.admin, org), choices={"attention_digest": True})

    assert run_job() == 0
    assert mailoutbox == []
    assert not Dispatch.objects.filter(kind="attention_digest").exists()
    assert [k for k, _ in inbox(tenant_a.admin, org) if "digest" in k] == []


def test_a_disputed_session_is_in_the_daily_digest(
    tenant_a: Tenant, mailoutbox, run_job, settings
) -> None:
    settings.MATCHPAL_SITE_URL = SITE
    org = tenant_a.organization
    past_grant(tenant_a.student, 1200)
    relationship = paired(tenant_a, quantity=600)
    session = log(tenant_a, relationship, NOW - timedelta(days=1))
    session_services.session_dispute(
        membership=member(tenant_a.student_user, org), session=session, reason="Never happened"
    )
    preferences_save(membership=member(tenant_a.admin, org), choices={"attention_digest": True})
    mailoutbox.clear()

    assert run_job() == 1
    body = email_to([m for m in mailoutbox if "Daily" in m.subject], tenant_a.admin.email).body
    assert f"- Disputed sessions: 1: {SITE}/o/{org.slug}/\n" in body
    assert (
        f"- {tenant_a.student.name} with {tenant_a.provider.name}, Jun 10 (1 h): "
        f"{SITE}/o/{org.slug}/sessions/{session.public_id}/\n"
    ) in body


def test_the_preferences_page_offers_the_daily_digest_to_admins_unticked(
    tenant_a: Tenant,
) -> None:
    org = tenant_a.organization
    admin_page = client_for(tenant_a.admin).get(f"/o/{org.slug}/notifications/preferences/")
    provider_page = client_for(tenant_a.provider_user).get(
        f"/o/{org.slug}/notifications/preferences/"
    )
    page = admin_page.content.decode()
    assert "Daily digest of what needs attention" in page
    assert 'name="attention_digest" id="id_attention_digest"' in page
    assert 'name="attention_digest" id="id_attention_digest" checked' not in page
    assert 'name="idle_digest" id="id_idle_digest" checked' in page
    assert "digest" not in provider_page.content.decode()
    assert EmailDelivery.objects.count() == 0


def test_the_beat_schedule_runs_the_digest_job_hourly() -> None:
    from celery.schedules import crontab

    from matchpal.celery import app
    from reports.tasks import send_admin_digests as task

    [entry] = [e for e in app.conf.beat_schedule.values() if e["task"] == task.name]
    assert entry["schedule"] == crontab(minute=45)
    assert task.name == "reports.tasks.send_admin_digests"
    assert task.name in app.tasks
