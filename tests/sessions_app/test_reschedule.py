"""Rescheduling a scheduled session, correcting a completed one's date, and the sessions list's
"Schedule a session" and "Log a session" (docs/sessions.md, "Rescheduling")."""

import pytest
from django.urls import reverse

from grants.reconcile import find_differences
from matchpal.bounds import out_of_range
from matchpal.models import Notification
from relationships import services as rel_services
from relationships.models import Relationship
from sessions_app import services
from sessions_app.models import Session, SessionChange
from sessions_app.selectors import PICK_ROWS, change_window_passed
from sessions_app.services import (
    REDATE_ADMINS_ONLY,
    REDATE_GRANT_NOT_VALID,
    RESCHEDULE_NOT_PAIRED,
)
from tests.support import (
    NOW,
    Tenant,
    at,
    balance,
    client_for,
    entries,
    fresh,
    log,
    mails,
    member,
    paired,
    past_grant,
    refused,
    set_policy,
)
from tests.test_query_counts import grow_relationships

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="session_rescheduled")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_a_provider_reschedules_a_scheduled_session_and_both_sides_are_told(
    tenant_a: Tenant, rel, grant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.session_reschedule(
            membership=member(tenant_a.provider_user),
            session=session,
            starts_at=at(14, 11),
            reason="Exam",
        )
    session = fresh(session)
    assert (session.starts_at, session.status, session.charged_minutes) == (
        at(14, 11),
        "scheduled",
        0,
    )
    change = SessionChange.objects.get(session=session)
    assert (change.kind, change.actor, change.reason, change.changes) == (
        "rescheduled",
        tenant_a.provider_user,
        "Exam",
        [
            {
                "field": "starts_at",
                "label": "Start",
                "from": "Jun 13, 2025 10:00",
                "to": "Jun 14, 2025 11:00",
            }
        ],
    )
    text = (
        f"The session of {tenant_a.student.name} with {tenant_a.provider.name} on Jun 13, 10:00 "
        "moved to Saturday Jun 14, 11:00."
    )
    # The student is told; the provider made the change.
    assert mails(mailoutbox, "session_rescheduled") == [
        (
            "[Matchpal] Session moved to Jun 14, 11:00",
            text,
            sorted([tenant_a.student.email, tenant_a.student.guardian_email]),
        )
    ]
    assert "Why: Exam" in mailoutbox[0].body
    link = reverse("sessions_app:detail", args=[tenant_a.organization.slug, session.public_id])
    assert list(TOLD.values_list("user", "text", "link")) == [
        (tenant_a.student_user.pk, text, link)
    ]
    assert balance(grant) == (900, 0, 600)


def test_an_admins_move_tells_the_student_and_the_provider(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.session_reschedule(
            membership=member(tenant_a.admin), session=session, starts_at=at(13, 16)
        )
    assert [to for _, _, to in mails(mailoutbox, "session_rescheduled")] == [
        sorted([tenant_a.student.email, tenant_a.student.guardian_email, tenant_a.provider.email])
    ]
    assert sorted(TOLD.values_list("user", flat=True)) == sorted(
        [tenant_a.student_user.pk, tenant_a.provider_user.pk]
    )
    # The same start again changes nothing and tells nobody.
    services.session_reschedule(
        membership=member(tenant_a.admin), session=session, starts_at=at(13, 16)
    )
    assert SessionChange.objects.filter(session=session).count() == 1


def test_every_rule_is_checked_again_for_the_new_start(tenant_a: Tenant, rel, clock) -> None:
    set_policy(tenant_a.organization, max_sessions_per_pair_per_day=1)
    log(tenant_a, rel, starts_at=at(14, 9), scheduled=True)
    session = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    refused(
        lambda: services.session_reschedule(
            membership=member(tenant_a.provider_user), session=session, starts_at=at(14, 15)
        ),
        "At most 1 session(s) per student and provider per day.",
    )
    set_policy(tenant_a.organization, weekly_max_minutes_per_provider=90)
    refused(
        lambda: services.session_reschedule(
            membership=member(tenant_a.provider_user), session=session, starts_at=at(12, 15)
        ),
        f"This week {tenant_a.provider.name} already has 1 h; the weekly maximum is 1 h 30 min.",
    )
    refused(
        lambda: services.session_reschedule(
            membership=member(tenant_a.provider_user),
            session=session,
            starts_at=NOW.replace(year=1999),
        ),
        out_of_range(),
    )
    # Next week is another week.
    services.session_reschedule(
        membership=member(tenant_a.provider_user), session=session, starts_at=at(16, 15)
    )
    assert fresh(session).starts_at == at(16, 15)
    # Past its start plus the window the provider may no longer move it.
    clock.move_to(at(19, 15, 1))
    refused(
        lambda: services.session_reschedule(
            membership=member(tenant_a.provider_user), session=session, starts_at=at(20, 15)
        ),
        change_window_passed(tenant_a.organization),
    )


def test_a_completed_sessions_date_is_corrected_by_an_admin_only(
    tenant_a: Tenant, rel, grant
) -> None:
    session = log(tenant_a, rel, starts_at=at(10, 15))
    refused(
        lambda: services.session_reschedule(
            membership=member(tenant_a.provider_user), session=session, starts_at=at(9, 15)
        ),
        REDATE_ADMINS_ONLY,
    )
    refused(
        lambda: services.session_reschedule(
            membership=member(tenant_a.admin), session=session, starts_at=at(12, 15)
        ),
        "A session in the future cannot be logged as completed; schedule it instead.",
    )
    before = entries(session=session)
    services.session_reschedule(
        membership=member(tenant_a.admin), session=session, starts_at=at(9, 15)
    )
    session = fresh(session)
    assert (session.starts_at, session.status, session.charged_minutes) == (
        at(9, 15),
        "completed",
        60,
    )
    # The ledger keeps its entries as they are.
    assert entries(session=session) == before
    assert balance(grant) == (900, 60, 540)
    assert find_differences() == []


def test_a_date_correction_the_grants_do_not_cover_is_refused(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600, valid_from=at(10, 9))
    rel = paired(tenant_a, quantity=300)
    session = log(tenant_a, rel, starts_at=at(10, 15))
    refused(
        lambda: services.session_reschedule(
            membership=member(tenant_a.admin), session=session, starts_at=at(9, 15)
        ),
        REDATE_GRANT_NOT_VALID.format(date="Jun 09, 2025"),
    )
    # Earlier the day the grant began: still valid (a grant covers its whole first day).
    services.session_reschedule(
        membership=member(tenant_a.admin), session=session, starts_at=at(10, 8)
    )
    assert fresh(session).starts_at == at(10, 8)
    assert balance(grant) == (600, 60, 240)


def test_a_cancelled_session_or_an_ended_pairing_is_not_rescheduled(tenant_a: Tenant, rel) -> None:
    session = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    rel_services.relationship_complete(
        membership=member(tenant_a.admin), relationship=rel, reason="Done"
    )
    due = Session.objects.create(
        organization=tenant_a.organization,
        relationship=rel,
        calendar_provider=rel.provider,
        starts_at=at(11, 8),
        duration_minutes=60,
        status="scheduled",
    )
    refused(
        lambda: services.session_reschedule(
            membership=member(tenant_a.admin), session=due, starts_at=at(12, 8)
        ),
        RESCHEDULE_NOT_PAIRED,
    )
    with pytest.raises(services.ConflictError) as error:
        services.session_reschedule(
            membership=member(tenant_a.admin), session=session, starts_at=at(14, 8)
        )
    assert error.value.message == "A cancelled session cannot be rescheduled."


def test_the_reschedule_page(tenant_a: Tenant, rel, provider_client_a, admin_client_a) -> None:
    session = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/reschedule/"
    detail = provider_client_a.get(url.replace("reschedule/", "")).content.decode()
    assert f'href="{url}">Reschedule</a>' in detail
    form = provider_client_a.get(url).context["form"]
    assert (str(form["date"].value()), str(form["time"].value())) == ("2025-06-13", "10:00:00")
    response = provider_client_a.post(url, {"date": "0001-01-01", "time": "10:00"})
    assert response.context["form"].errors["date"] == [
        f"Enter a date between 1 Jan 2000 and 31 Dec {NOW.year + 10}."
    ]
    response = provider_client_a.post(url, {"date": "2025-06-14", "time": "09:30", "reason": ""})
    assert response.status_code == 302
    assert fresh(session).starts_at == at(14, 9, 30)

    completed = log(tenant_a, rel, starts_at=at(10, 15))
    url = f"/o/{tenant_a.organization.slug}/sessions/{completed.public_id}/"
    assert "reschedule/" not in provider_client_a.get(url).content.decode()
    assert (
        f'href="{url}reschedule/">Correct the date</a>' in admin_client_a.get(url).content.decode()
    )


# --- Schedule a session, log a session ----------------------------------------------------------


def test_admins_log_or_schedule_from_the_sessions_list(
    tenant_a: Tenant, rel, admin_client_a, provider_client_a
) -> None:
    org = tenant_a.organization
    html = admin_client_a.get(f"/o/{org.slug}/sessions/").content.decode()
    new = f"/o/{org.slug}/sessions/new/"
    assert f'href="{new}?then=schedule">Schedule a session</a>' in html
    assert f'href="{new}">Log a session</a>' in html
    assert new not in provider_client_a.get(f"/o/{org.slug}/sessions/").content.decode()
    assert provider_client_a.get(new).status_code == 403

    page = admin_client_a.get(new + "?then=schedule&q=" + tenant_a.student.name[:4])
    assert [r.pk for r in page.context["rows"]] == [rel.pk]
    assert f'value="{rel.public_id}"' in page.content.decode()
    assert admin_client_a.get(new + "?q=nobody-by-that-name").context["rows"] == []
    response = admin_client_a.post(
        new + "?then=schedule", {"relationship": str(rel.public_id), "then": "schedule"}
    )
    log_url = f"/o/{org.slug}/relationships/{rel.public_id}/log/"
    assert response["Location"] == log_url + "?schedule=1"
    assert admin_client_a.get(log_url + "?schedule=1").context["form"]["schedule"].value() is True
    response = admin_client_a.post(new, {"relationship": str(rel.public_id), "then": "log"})
    assert response["Location"] == log_url
    # An integer key is not an id; an ended pairing cannot be logged.
    response = admin_client_a.post(new, {"relationship": str(rel.pk), "then": "log"})
    assert response.context["form"].errors["relationship"] == ["Enter a valid UUID."]
    rel_services.relationship_complete(
        membership=member(tenant_a.admin), relationship=rel, reason="Done"
    )
    response = admin_client_a.post(new, {"relationship": str(rel.public_id), "then": "log"})
    assert response.context["form"].non_field_errors() == [services.LOG_NOT_PAIRED]


def test_the_choice_page_shows_a_bounded_number_whatever_the_data(
    tenant_a: Tenant, django_assert_num_queries
) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/sessions/new/"
    for n in (3, PICK_ROWS + 5):
        grow_relationships(tenant_a, n)
        Relationship.objects.filter(organization=tenant_a.organization).update(status="paired")
        client.get(url)
        # The user with its membership, one statement (the web session is read from the
        # cache), the bound on the students, the rows.
        with django_assert_num_queries(3):
            response = client.get(url)
        assert len(response.context["rows"]) == min(n, PICK_ROWS)
        assert response.context["more"] is (n > PICK_ROWS)
