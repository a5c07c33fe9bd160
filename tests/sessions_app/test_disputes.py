"""Disputes end: the window to dispute, Confirm only where it counts, an admin's resolution
(keep, edit or cancel) with a note the student reads, and the Disputed badge on every list."""

import pytest
from django.urls import reverse

from grants.reconcile import find_differences
from matchpal.errors import ConflictError
from matchpal.models import Notification
from relationships.models import Relationship
from sessions_app import services
from sessions_app.models import Session, SessionChange
from sessions_app.selectors import (
    DISPUTE_ALREADY_OPEN,
    DISPUTE_ALREADY_RESOLVED,
    dispute_window_passed,
)
from sessions_app.services import (
    DISPUTE_NOT_OPEN,
    RESOLUTION_EDIT_UNCHANGED,
    RESOLUTION_NOTE_MISSING,
    RESOLVE_ADMINS_ONLY,
)
from tests.support import Tenant, at, balance, fresh, log, mails, member, refused, set_policy

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="dispute_resolved")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def disputed(tenant: Tenant, rel: Relationship, **kwargs: object) -> Session:
    session = log(tenant, rel, **kwargs)
    return services.session_dispute(
        membership=member(tenant.student_user), session=session, reason="Shorter"
    )


# --- Who may dispute, and until when -----------------------------------------------------------


def test_a_session_is_disputed_only_inside_the_centers_window(tenant_a: Tenant, rel, clock) -> None:
    student = tenant_a.student_user
    session = log(tenant_a, rel, starts_at=at(10, 15))
    clock.move_to(at(24, 15, 1))  # 14 days and a minute after it
    message = dispute_window_passed(session, tenant_a.organization)
    assert message == (
        "Sessions can be disputed up to 14 days after they take place; this one was on Jun 10. "
        "Contact the center."
    )
    refused(
        lambda: services.session_dispute(membership=member(student), session=session, reason="x"),
        message,
    )
    set_policy(tenant_a.organization, dispute_window_days=30)
    services.session_dispute(
        membership=member(student), session=session, reason="It was 30 minutes"
    )
    refused(
        lambda: services.session_dispute(
            membership=member(student), session=session, reason="Again"
        ),
        DISPUTE_ALREADY_OPEN,
    )


def test_the_pages_offer_dispute_and_confirm_by_the_same_rules(
    tenant_a: Tenant, rel, clock, student_client_a
) -> None:
    org = tenant_a.organization
    old = log(tenant_a, rel, starts_at=at(10, 15))
    clock.move_to(at(24, 16))
    recent = log(tenant_a, rel, starts_at=at(23, 15))
    open_ = disputed(tenant_a, rel, starts_at=at(22, 15))
    home = student_client_a.get(f"/o/{org.slug}/").content.decode()

    def offered(html: str, session: Session, action: str) -> bool:
        return f"/o/{org.slug}/sessions/{session.public_id}/{action}/" in html

    def page(session: Session) -> str:
        return student_client_a.get(f"/o/{org.slug}/sessions/{session.public_id}/").content.decode()

    for html, session in [(home, recent), (page(recent), recent)]:
        assert offered(html, session, "dispute")
        # Confirming counts for nothing at this center: not offered.
        assert not offered(html, session, "confirm")
    for html, session in [(home, old), (page(old), old), (home, open_), (page(open_), open_)]:
        assert not offered(html, session, "dispute")
    assert 'data-testid="session-disputed">Disputed</span>' in home
    assert home.count(">Disputed</span>") == 1

    set_policy(org, require_student_confirmation=True)
    home = student_client_a.get(f"/o/{org.slug}/").content.decode()
    for html in (home, page(recent)):
        assert offered(html, recent, "confirm")
    # Withdrawing a dispute is confirming it.
    assert offered(home, open_, "confirm")
    services.session_confirm(membership=member(tenant_a.student_user), session=recent)
    assert not offered(student_client_a.get(f"/o/{org.slug}/").content.decode(), recent, "confirm")
    assert not offered(page(recent), recent, "confirm")


# --- Resolving ---------------------------------------------------------------------------------


def test_keeping_a_session_as_logged(
    tenant_a: Tenant, rel, grant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = disputed(tenant_a, rel)
    Notification.objects.all().delete()
    refused(
        lambda: services.session_resolve_dispute(
            membership=member(tenant_a.admin), session=session, resolution="kept", note=" "
        ),
        RESOLUTION_NOTE_MISSING,
    )
    refused(
        lambda: services.session_resolve_dispute(
            membership=member(tenant_a.provider_user),
            session=session,
            resolution="kept",
            note="Fine",
        ),
        RESOLVE_ADMINS_ONLY,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.session_resolve_dispute(
            membership=member(tenant_a.admin),
            session=session,
            resolution="kept",
            note="The log is right.",
        )
    session = fresh(session)
    assert (
        session.dispute_resolution,
        session.dispute_resolution_note,
        session.dispute_resolved_by,
        session.dispute_open,
    ) == ("kept", "The log is right.", tenant_a.admin, False)
    assert session.disputed_at is not None
    assert balance(grant) == (900, 60, 540)
    change = SessionChange.objects.get(session=session)
    assert (change.kind, change.reason, change.changes) == (
        "dispute_resolved",
        "The log is right.",
        [
            {
                "field": "dispute_resolution",
                "label": "Dispute",
                "from": "Open",
                "to": "Kept as logged",
            }
        ],
    )
    text = (
        f"Your dispute of the session of Jun 10 with {tenant_a.provider.name} was resolved. "
        "The session stays as logged. The log is right."
    )
    assert mails(mailoutbox, "dispute_resolved") == [
        (
            "[Matchpal] Your dispute of the session of Jun 10 was resolved",
            text,
            [tenant_a.student.email],
        )
    ]
    link = reverse("sessions_app:detail", args=[tenant_a.organization.slug, session.public_id])
    assert list(TOLD.values_list("user", "text", "link")) == [
        (tenant_a.student_user.pk, text, link)
    ]
    refused(
        lambda: services.session_resolve_dispute(
            membership=member(tenant_a.admin), session=session, resolution="kept", note="Again"
        ),
        DISPUTE_NOT_OPEN,
        ConflictError,
    )
    # Resolved is final for the student; confirming it keeps the record.
    refused(
        lambda: services.session_dispute(
            membership=member(tenant_a.student_user), session=session, reason="Still wrong"
        ),
        DISPUTE_ALREADY_RESOLVED,
    )
    services.session_confirm(membership=member(tenant_a.student_user), session=session)
    assert fresh(session).disputed_at is not None


def test_resolving_by_an_edit_or_a_cancellation_moves_the_hours(
    tenant_a: Tenant, rel, grant
) -> None:
    edited = disputed(tenant_a, rel, starts_at=at(10, 15))
    refused(
        lambda: services.session_resolve_dispute(
            membership=member(tenant_a.admin),
            session=edited,
            resolution="edited",
            note="x",
            duration=60,
        ),
        RESOLUTION_EDIT_UNCHANGED,
    )
    services.session_resolve_dispute(
        membership=member(tenant_a.admin),
        session=edited,
        resolution="edited",
        note="Ended early",
        duration=30,
    )
    edited = fresh(edited)
    assert (edited.duration_minutes, edited.charged_minutes, edited.dispute_resolution) == (
        30,
        30,
        "edited",
    )
    assert SessionChange.objects.get(session=edited).changes == [
        {"field": "duration_minutes", "label": "Duration", "from": "1 h", "to": "30 min"},
        {"field": "charged_minutes", "label": "Hours used", "from": "1 h", "to": "30 min"},
        {"field": "dispute_resolution", "label": "Dispute", "from": "Open", "to": "Edited"},
    ]
    cancelled = disputed(tenant_a, rel, starts_at=at(9, 15))
    services.session_resolve_dispute(
        membership=member(tenant_a.admin),
        session=cancelled,
        resolution="cancelled",
        note="Never took place",
    )
    cancelled = fresh(cancelled)
    assert (cancelled.status, cancelled.charged_minutes, cancelled.cancellation_reason) == (
        "cancelled",
        0,
        "Dispute: Never took place",
    )
    assert balance(grant) == (900, 30, 570)
    assert find_differences() == []


def test_the_resolve_page_and_the_badges(
    tenant_a: Tenant, rel, admin_client_a, provider_client_a
) -> None:
    org = tenant_a.organization
    session = disputed(tenant_a, rel)
    detail = f"/o/{org.slug}/sessions/{session.public_id}/"
    url = detail + "resolve/"
    html = admin_client_a.get(detail).content.decode()
    assert f'href="{url}">Resolve the dispute</a>' in html
    assert url not in provider_client_a.get(detail).content.decode()
    assert provider_client_a.get(url).status_code == 403
    listing = admin_client_a.get(f"/o/{org.slug}/sessions/").content.decode()
    assert '<span class="badge text-bg-danger">Disputed</span>' in listing
    home = admin_client_a.get(f"/o/{org.slug}/")
    assert [s.pk for s in home.context["attention"]["disputed"]] == [session.pk]
    assert '<span class="badge text-bg-danger">Disputed</span>' in home.content.decode()

    form = admin_client_a.get(url).context["form"]
    assert form["duration"].value() == 60
    response = admin_client_a.post(url, {"resolution": "kept", "duration": "60", "note": ""})
    assert response.context["form"].errors["note"] == ["This field is required."]
    response = admin_client_a.post(
        url, {"resolution": "edited", "duration": "45", "note": "Shortened as asked"}
    )
    assert response.status_code == 302
    assert fresh(session).duration_minutes == 45
    html = admin_client_a.get(detail).content.decode()
    assert "Edited: Shortened as asked" in html
    assert url not in html
    assert "Disputed</span>" not in admin_client_a.get(f"/o/{org.slug}/sessions/").content.decode()
    home = admin_client_a.get(f"/o/{org.slug}/")
    assert home.context["attention"]["disputed"] == []
    assert home.context["attention"]["disputed_count"] == 0
