"""Who may change a logged session and when, and the history every change leaves
(docs/sessions.md, "Changing a session"; docs/rules.md)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from grants.reconcile import find_differences
from matchpal.models import Notification
from relationships import services as rel_services
from sessions_app import services
from sessions_app.models import Session, SessionChange
from sessions_app.selectors import CHANGE_NOT_PAIRED, CHANGE_ONLY_OWN, change_window_passed
from tests.support import (
    NOW,
    Tenant,
    at,
    balance,
    client_for,
    fresh,
    log,
    mails,
    member,
    other_provider,
    refused,
    second_admin,
    set_policy,
)

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="hours_given_back")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def history(session: Session) -> list[tuple[str, object, str, list[dict[str, str]], bool]]:
    return [
        (c.kind, c.actor, c.reason, c.changes, c.gave_back_after_window)
        for c in SessionChange.objects.filter(session=session).order_by("id")
    ]


def change(field: str, label: str, old: str, new: str) -> dict[str, str]:
    return {"field": field, "label": label, "from": old, "to": new}


# --- Who and when ----------------------------------------------------------------------------


def test_a_provider_changes_their_sessions_only_within_the_grace_window(
    tenant_a: Tenant, rel, grant, clock
) -> None:
    provider = tenant_a.provider_user
    session = log(tenant_a, rel, starts_at=at(10, 15))  # Tuesday 15:00
    clock.move_to(at(13, 15))  # 72 hours after its start: still inside
    services.session_edit(membership=member(provider), session=session, duration=45)
    clock.move_to(at(13, 15, 1))
    message = change_window_passed(tenant_a.organization)
    assert message == (
        "Sessions can be changed up to 72 hours after they start; ask an admin to change this one."
    )
    refused(
        lambda: services.session_edit(membership=member(provider), session=session, duration=30),
        message,
    )
    refused(
        lambda: services.session_cancel(membership=member(provider), session=session, reason="No"),
        message,
    )
    refused(
        lambda: services.session_no_show(
            membership=member(provider), session=session, party="student"
        ),
        message,
    )
    assert (fresh(session).status, fresh(session).duration_minutes) == ("completed", 45)
    assert balance(grant) == (900, 45, 555)
    # A scheduled session far ahead is inside the window until its start plus the window.
    ahead = log(tenant_a, rel, starts_at=at(20, 10), scheduled=True)
    services.session_edit(membership=member(provider), session=ahead, duration=90)
    assert find_differences() == []


def test_a_provider_changes_only_their_own_sessions_of_a_paired_relationship(
    tenant_a: Tenant, rel, grant
) -> None:
    session = log(tenant_a, rel, starts_at=at(11, 9))
    stranger, _ = other_provider(tenant_a)
    refused(
        lambda: services.session_edit(membership=member(stranger), session=session, duration=30),
        CHANGE_ONLY_OWN,
    )
    refused(
        lambda: services.session_cancel(
            membership=member(tenant_a.student_user), session=session, reason="x"
        ),
        CHANGE_ONLY_OWN,
    )
    rel_services.relationship_complete(
        membership=member(tenant_a.admin), relationship=rel, reason="Done"
    )
    refused(
        lambda: services.session_cancel(
            membership=member(tenant_a.provider_user), session=session, reason="Wrong"
        ),
        CHANGE_NOT_PAIRED,
    )
    # An admin still may; within the window nobody is told.
    services.session_cancel(
        membership=member(tenant_a.admin), session=session, reason="Logged twice"
    )
    assert fresh(session).status == "cancelled"
    assert not TOLD.exists()
    assert balance(grant) == (900, 0, 0)
    assert find_differences() == []


def test_hours_given_back_after_the_window_tell_the_admins(
    tenant_a: Tenant, rel, grant, clock, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    admins = [tenant_a.admin, second_admin(tenant_a)]
    session = log(tenant_a, rel, starts_at=at(10, 15), duration=90)
    clock.move_to(at(20, 9))
    with django_capture_on_commit_callbacks(execute=True):
        services.session_edit(
            membership=member(tenant_a.admin), session=session, duration=60, reason="Typo"
        )
    text = (
        f"Hours given back after the 72-hour window: {tenant_a.admin} edited "
        f"{tenant_a.student.name}'s session of Jun 10 with {tenant_a.provider.name} "
        "(30 min given back)."
    )
    link = reverse("sessions_app:detail", args=[tenant_a.organization.slug, session.public_id])
    assert sorted(TOLD.values_list("user", "text", "link")) == sorted(
        (admin.pk, text, link) for admin in admins
    )
    assert mails(mailoutbox, "hours_given_back") == [
        (f"[Matchpal] {text[:120]}", text, sorted(a.email for a in admins))
    ]
    # Lengthening gives nothing back: nobody is told.
    services.session_edit(membership=member(tenant_a.admin), session=session, duration=75)
    assert TOLD.count() == 2
    services.session_cancel(
        membership=member(tenant_a.admin), session=session, reason="Never happened"
    )
    assert TOLD.count() == 4
    assert [(kind, gave_back) for kind, _, _, _, gave_back in history(session)] == [
        ("edited", True),
        ("edited", False),
        ("cancelled", True),
    ]
    assert balance(grant) == (900, 0, 600)
    assert find_differences() == []


# --- History ---------------------------------------------------------------------------------


def test_every_change_is_kept_with_each_field_from_and_to(tenant_a: Tenant, rel, clock) -> None:
    provider, admin = tenant_a.provider_user, tenant_a.admin
    session = log(tenant_a, rel, starts_at=at(11, 11), scheduled=True, mode="Online")
    clock.move_to(at(11, 13))
    services.session_complete(
        membership=member(provider), session=session, duration=75, notes="Fractions"
    )
    # Saved unchanged: nothing is written.
    services.session_edit(
        membership=member(provider), session=session, duration=75, notes="Fractions"
    )
    services.session_edit(
        membership=member(provider),
        session=session,
        mode="At the center",
        internal_note="Tired",
        reason="Room change",
    )
    services.session_no_show(
        membership=member(admin), session=session, party="provider", explanation="Tutor was ill"
    )
    services.session_cancel(membership=member(admin), session=session, reason="Rebooked")
    assert history(session) == [
        (
            "completed",
            provider,
            "",
            [
                change("duration_minutes", "Duration", "1 h", "1 h 15 min"),
                change("notes", "Notes", "", "Fractions"),
                change("status", "Status", "Scheduled", "Completed"),
                change("charged_minutes", "Hours used", "0 min", "1 h 15 min"),
            ],
            False,
        ),
        (
            "edited",
            provider,
            "Room change",
            [
                change("mode", "Where", "Online", "At the center"),
                change("internal_note", "Internal note", "", "Tired"),
            ],
            False,
        ),
        (
            "no_show",
            admin,
            "Tutor was ill",
            [
                change("status", "Status", "Completed", "No-show"),
                change("no_show_party", "No-show", "", "The provider"),
                change("charged_minutes", "Hours used", "1 h 15 min", "0 min"),
            ],
            False,
        ),
        (
            "cancelled",
            admin,
            "Rebooked",
            [change("status", "Status", "No-show", "Cancelled")],
            False,
        ),
    ]


def test_ending_a_relationship_records_the_cancelled_sessions(tenant_a: Tenant, rel) -> None:
    ahead = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    rel_services.relationship_cancel(
        membership=member(tenant_a.admin), relationship=rel, reason="Moved away"
    )
    assert history(ahead) == [
        (
            "cancelled",
            tenant_a.admin,
            "The relationship was cancelled: Moved away",
            [change("status", "Status", "Scheduled", "Cancelled")],
            False,
        )
    ]


def test_the_session_page_shows_the_history_and_only_the_buttons_that_work(
    tenant_a: Tenant, rel, clock, provider_client_a, admin_client_a, student_client_a
) -> None:
    session = log(tenant_a, rel, starts_at=at(10, 15), internal_note="Tired")
    services.session_edit(
        membership=member(tenant_a.admin),
        session=session,
        duration=45,
        internal_note="Secret",
        reason="Typo",
    )
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/"
    buttons = [url + action for action in ("edit/", "cancel/", "no-show/")]
    html = provider_client_a.get(url).content.decode()
    assert all(f'href="{b}"' in html for b in buttons)
    assert "Duration: 1 h → 45 min" in html
    assert "Typo" in html
    # The internal note is the admin's now: its change is not shown to the provider or student.
    assert "Secret" not in html
    student_html = student_client_a.get(url).content.decode()
    assert "Duration: 1 h → 45 min" in student_html
    assert "Internal note:" not in student_html
    assert not any(f'href="{b}"' in student_html for b in buttons)
    assert "Internal note: Tired → Secret" in admin_client_a.get(url).content.decode()

    clock.move_to(at(13, 16))
    html = provider_client_a.get(url).content.decode()
    assert not any(f'href="{b}"' in html for b in buttons)
    list_html = provider_client_a.get(f"/o/{tenant_a.organization.slug}/sessions/").content
    assert not any(f'href="{b}"' in list_html.decode() for b in buttons)
    html = admin_client_a.get(url).content.decode()
    assert all(f'href="{b}"' in html for b in buttons)
    # The form says the same as the page.
    response = provider_client_a.post(url + "cancel/", {"reason": "Late"})
    assert response.context["form"].non_field_errors() == [
        change_window_passed(tenant_a.organization)
    ]


def test_the_edit_page_records_the_reason(tenant_a: Tenant, rel, provider_client_a) -> None:
    session = log(tenant_a, rel, starts_at=NOW - timedelta(hours=2), notes="Algebra")
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/edit/"
    response = provider_client_a.post(
        url, {"duration": "30", "notes": "Algebra", "reason": "Ended early"}
    )
    assert response.status_code == 302
    assert history(session) == [
        (
            "edited",
            tenant_a.provider_user,
            "Ended early",
            [
                change("duration_minutes", "Duration", "1 h", "30 min"),
                change("charged_minutes", "Hours used", "1 h", "30 min"),
            ],
            False,
        )
    ]
    assert client_for(tenant_a.admin).get(url).status_code == 200


def test_the_provider_home_offers_log_it_only_within_the_window(
    tenant_a: Tenant, rel, clock, provider_client_a
) -> None:
    session = log(tenant_a, rel, starts_at=at(10, 15), scheduled=True)
    home = f"/o/{tenant_a.organization.slug}/"
    complete = f'href="/o/{tenant_a.organization.slug}/sessions/{session.public_id}/complete/"'
    assert complete in provider_client_a.get(home).content.decode()
    clock.move_to(at(13, 15, 1))
    html = provider_client_a.get(home).content.decode()
    assert complete not in html
    assert "Past the 72-hour window: an admin logs it" in html


def test_a_completed_session_marked_a_student_no_show_keeps_its_charge_after_the_pairing(
    tenant_a: Tenant, rel, grant
) -> None:
    set_policy(tenant_a.organization, no_show_charge="full")
    session = log(tenant_a, rel, starts_at=at(10, 15))
    rel_services.relationship_complete(
        membership=member(tenant_a.admin), relationship=rel, reason="Done"
    )
    services.session_no_show(membership=member(tenant_a.admin), session=session, party="student")
    session = fresh(session)
    assert (session.status, session.charged_minutes) == ("no_show", 60)
    assert balance(grant) == (900, 60, 0)
    assert find_differences() == []
