"""The session forms: the internal note (admins and its author only), a revision's review time
on the log, complete and edit pages, and the live notes counter's script (static/js/)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from grants.reconcile import find_differences
from relationships.models import Relationship
from sessions_app import services
from sessions_app.models import Session
from sessions_app.rules import (
    REVIEW_TIME_ONLY_FOR_REVISIONS,
    SessionRuleError,
    review_time_out_of_range,
)
from sessions_app.services import INTERNAL_NOTE_NOT_YOURS
from tests.support import Tenant, at, balance, client_for, fresh, member, paired, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

SECRET = "Parents separating; go gently"


def page(tenant: Tenant, session: Session, action: str = "") -> str:
    return f"/o/{tenant.organization.slug}/sessions/{session.public_id}/{action}"


def log_url(tenant: Tenant, rel: Relationship) -> str:
    return f"/o/{tenant.organization.slug}/relationships/{rel.public_id}/log/"


# --- Internal note -------------------------------------------------------------------------


def test_the_author_of_the_internal_note_is_whoever_wrote_it(tenant_a: Tenant, rel) -> None:
    by_provider = services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 9),
        duration=60,
        internal_note="Tired",
    )
    without = services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 11),
        duration=60,
    )
    assert fresh(by_provider).internal_note_author == tenant_a.provider_user
    assert fresh(without).internal_note_author is None
    # An admin rewriting it becomes its author; clearing it leaves none.
    services.session_edit(
        membership=member(tenant_a.admin), session=by_provider, internal_note=SECRET
    )
    assert (fresh(by_provider).internal_note, by_provider.internal_note_author) == (
        SECRET,
        tenant_a.admin,
    )
    # The same text again (a form saved unchanged) keeps the author.
    services.session_edit(
        membership=member(tenant_a.admin), session=by_provider, internal_note=SECRET
    )
    assert fresh(by_provider).internal_note_author == tenant_a.admin
    services.session_edit(membership=member(tenant_a.admin), session=by_provider, internal_note="")
    assert (fresh(by_provider).internal_note, by_provider.internal_note_author) == ("", None)


def test_a_provider_cannot_overwrite_a_note_they_did_not_write(tenant_a: Tenant, rel) -> None:
    session = services.session_log(
        membership=member(tenant_a.admin),
        relationship=rel,
        starts_at=at(10, 9),
        duration=60,
        internal_note=SECRET,
    )
    for change in (
        lambda: services.session_edit(
            membership=member(tenant_a.provider_user), session=session, internal_note="Mine now"
        ),
        lambda: services.session_edit(
            membership=member(tenant_a.provider_user), session=session, internal_note=""
        ),
    ):
        with pytest.raises(SessionRuleError) as refused:
            change()
        assert refused.value.message == INTERNAL_NOTE_NOT_YOURS
    assert (fresh(session).internal_note, session.internal_note_author) == (
        SECRET,
        tenant_a.admin,
    )


def test_an_admins_note_is_hidden_from_the_sessions_provider(
    tenant_a: Tenant, rel, grant, admin_client_a, provider_client_a, student_client_a
) -> None:
    session = services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 9),
        duration=60,
    )
    # The admin writes the note through the edit page.
    response = admin_client_a.post(
        page(tenant_a, session, "edit/"),
        {"duration": "60", "mode": "", "notes": "Recap", "internal_note": SECRET},
    )
    assert response.status_code == 302
    assert (fresh(session).internal_note, session.internal_note_author) == (
        SECRET,
        tenant_a.admin,
    )

    for client, sees in (
        (admin_client_a, True),
        (provider_client_a, False),
        (student_client_a, False),
    ):
        response = client.get(page(tenant_a, session))
        html = response.content.decode()
        assert response.context["can_see_internal_note"] is sees
        assert (SECRET in html) is sees
        assert ("Internal note" in html) is sees
        assert "Recap" in html

    # The admin's form shows it; the provider's has no such field, not even pre-filled.
    form = admin_client_a.get(page(tenant_a, session, "edit/")).context["form"]
    assert form["internal_note"].value() == SECRET
    response = provider_client_a.get(page(tenant_a, session, "edit/"))
    assert "internal_note" not in response.context["form"].fields
    assert SECRET not in response.content.decode()

    # Posting one anyway changes nothing of it; the rest of the edit is saved.
    response = provider_client_a.post(
        page(tenant_a, session, "edit/"),
        {"duration": "45", "mode": "", "notes": "Recap, shorter", "internal_note": "Overwritten"},
    )
    assert response.status_code == 302
    session = fresh(session)
    assert (session.internal_note, session.internal_note_author) == (SECRET, tenant_a.admin)
    assert (session.duration_minutes, session.notes) == (45, "Recap, shorter")
    assert balance(grant) == (900, 45, 555)


def test_a_providers_own_note_is_theirs_to_see_and_edit(
    tenant_a: Tenant, rel, admin_client_a, provider_client_a
) -> None:
    session = services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 9),
        duration=60,
        internal_note="Bring the mock exam",
    )
    for client in (admin_client_a, provider_client_a):
        assert "Bring the mock exam" in client.get(page(tenant_a, session)).content.decode()
    form = provider_client_a.get(page(tenant_a, session, "edit/")).context["form"]
    assert form["internal_note"].value() == "Bring the mock exam"
    provider_client_a.post(
        page(tenant_a, session, "edit/"),
        {"duration": "60", "mode": "", "notes": "", "internal_note": "Mock exam next week"},
    )
    assert (fresh(session).internal_note, session.internal_note_author) == (
        "Mock exam next week",
        tenant_a.provider_user,
    )


def test_the_complete_form_hides_someone_elses_note(
    tenant_a: Tenant, rel, grant, admin_client_a, provider_client_a
) -> None:
    session = services.session_log(
        membership=member(tenant_a.admin),
        relationship=rel,
        starts_at=at(11, 9),
        duration=60,
        internal_note=SECRET,
        scheduled=True,
    )
    url = page(tenant_a, session, "complete/")
    assert admin_client_a.get(url).context["form"]["internal_note"].value() == SECRET
    response = provider_client_a.get(url)
    assert "internal_note" not in response.context["form"].fields
    assert SECRET not in response.content.decode()
    response = provider_client_a.post(
        url, {"duration": "60", "mode": "", "notes": "Done", "internal_note": "Gone"}
    )
    assert response.status_code == 302
    session = fresh(session)
    assert (session.status, session.internal_note, session.internal_note_author) == (
        "completed",
        SECRET,
        tenant_a.admin,
    )
    assert balance(grant) == (900, 60, 540)


def test_a_provider_may_write_a_note_where_there_is_none(
    tenant_a: Tenant, rel, provider_client_a
) -> None:
    session = services.session_log(
        membership=member(tenant_a.admin),
        relationship=rel,
        starts_at=at(11, 9),
        duration=60,
        scheduled=True,
    )
    url = page(tenant_a, session, "complete/")
    assert provider_client_a.get(url).context["form"]["internal_note"].value() == ""
    provider_client_a.post(
        url, {"duration": "60", "mode": "", "notes": "Done", "internal_note": "Quiet today"}
    )
    assert (fresh(session).internal_note, session.internal_note_author) == (
        "Quiet today",
        tenant_a.provider_user,
    )


# --- A revision's review time ------------------------------------------------------------


def _log_form(**fields: str) -> dict[str, str]:
    return {"date": "2025-06-10", "time": "15:00", "duration": "30", "mode": "", **fields}


def test_the_log_page_records_a_revisions_review_time(
    tenant_a: Tenant, rel, grant, provider_client_a
) -> None:
    set_policy(tenant_a.organization, revision_minutes=45)
    html = provider_client_a.get(log_url(tenant_a, rel)).content.decode()
    assert 'data-kind-only="revision"' in html
    assert "Blank: the center&#x27;s fixed 45 min." in html

    provider_client_a.post(
        log_url(tenant_a, rel), _log_form(kind="revision", review_minutes="25", time="15:00")
    )
    reviewed = Session.objects.get(starts_at=at(10, 15))
    assert (reviewed.review_minutes, reviewed.charged_minutes) == (25, 25)
    # Blank: the policy's fixed value.
    provider_client_a.post(
        log_url(tenant_a, rel), _log_form(kind="revision", review_minutes="", time="16:00")
    )
    fixed = Session.objects.get(starts_at=at(10, 16))
    assert (fixed.review_minutes, fixed.charged_minutes) == (None, 45)
    # Another kind ignores a review time left in the (hidden) field.
    provider_client_a.post(
        log_url(tenant_a, rel), _log_form(kind="tutoring", review_minutes="25", time="17:00")
    )
    tutoring = Session.objects.get(starts_at=at(10, 17))
    assert (tutoring.review_minutes, tutoring.charged_minutes) == (None, 30)
    assert balance(grant) == (900, 100, 500)
    assert find_differences() == []


def test_the_review_time_has_bounds(tenant_a: Tenant, rel, grant, provider_client_a) -> None:
    org = set_policy(tenant_a.organization, max_session_minutes=120)
    response = provider_client_a.post(
        log_url(tenant_a, rel), _log_form(kind="revision", review_minutes="121")
    )
    assert response.context["form"].non_field_errors() == [review_time_out_of_range(org)]
    assert review_time_out_of_range(org) == "A review time is between 1 minute and 2 h."
    response = provider_client_a.post(
        log_url(tenant_a, rel), _log_form(kind="revision", review_minutes="0")
    )
    assert response.context["form"].errors["review_minutes"] == [
        "Ensure this value is greater than or equal to 1."
    ]
    with pytest.raises(SessionRuleError) as refused:
        services.session_log(
            membership=member(tenant_a.admin),
            relationship=rel,
            starts_at=at(10, 9),
            duration=30,
            kind="tutoring",
            review_minutes=20,
        )
    assert refused.value.message == REVIEW_TIME_ONLY_FOR_REVISIONS
    assert not Session.objects.exists()
    assert balance(grant) == (900, 0, 600)


def test_completing_a_revision_from_its_page_with_its_review_time(
    tenant_a: Tenant, rel, grant, provider_client_a
) -> None:
    revision = services.session_log(
        membership=member(tenant_a.admin),
        relationship=rel,
        starts_at=at(11, 9),
        duration=30,
        kind="revision",
        scheduled=True,
    )
    tutoring = services.session_log(
        membership=member(tenant_a.admin),
        relationship=rel,
        starts_at=at(11, 10),
        duration=30,
        scheduled=True,
    )
    assert "review_minutes" not in (
        provider_client_a.get(page(tenant_a, tutoring, "complete/")).context["form"].fields
    )
    url = page(tenant_a, revision, "complete/")
    assert provider_client_a.get(url).context["form"]["review_minutes"].value() is None
    response = provider_client_a.post(
        url, {"duration": "30", "review_minutes": "40", "mode": "", "notes": "Essay reviewed"}
    )
    assert response.status_code == 302
    revision = fresh(revision)
    assert (revision.status, revision.review_minutes, revision.charged_minutes) == (
        "completed",
        40,
        40,
    )
    assert balance(grant) == (900, 40, 560)
    assert find_differences() == []


def test_editing_a_revisions_review_time_reprices_it(
    tenant_a: Tenant, rel, grant, admin_client_a
) -> None:
    revision = services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 9),
        duration=30,
        kind="revision",
        review_minutes=40,
    )
    url = page(tenant_a, revision, "edit/")
    assert admin_client_a.get(url).context["form"]["review_minutes"].value() == 40
    admin_client_a.post(url, {"duration": "30", "review_minutes": "25", "mode": "", "notes": ""})
    assert (fresh(revision).review_minutes, revision.charged_minutes) == (25, 25)
    assert balance(grant) == (900, 25, 575)
    # Blank goes back to the policy's 1 h.
    admin_client_a.post(url, {"duration": "30", "review_minutes": "", "mode": "", "notes": ""})
    assert (fresh(revision).review_minutes, revision.charged_minutes) == (None, 60)
    assert balance(grant) == (900, 60, 540)
    # Its duration alone does not change what it costs.
    admin_client_a.post(url, {"duration": "90", "review_minutes": "", "mode": "", "notes": ""})
    assert (fresh(revision).duration_minutes, revision.charged_minutes) == (90, 60)
    html = admin_client_a.get(page(tenant_a, revision)).content.decode()
    assert (
        '<dt class="col-sm-3">Review time</dt><dd class="col-sm-9">the center\'s fixed 1 h</dd>'
        in html
    )
    assert balance(grant) == (900, 60, 540)
    assert find_differences() == []


# --- The live notes counter -----------------------------------------------------------------


SCRIPT = '<script src="/static/js/notes-counter.js" defer></script>'


def test_the_counter_is_a_static_script_on_every_notes_form(
    tenant_a: Tenant, rel, provider_client_a
) -> None:
    set_policy(tenant_a.organization, notes_min_length=150)
    path = finders.find("js/notes-counter.js")
    assert path is not None
    assert Path(path).parent == Path(settings.BASE_DIR) / "static" / "js"
    assert "data-min-length" in Path(path).read_text()

    log_page = provider_client_a.get(log_url(tenant_a, rel)).content.decode()
    assert SCRIPT in log_page
    assert "<script>" not in log_page  # nothing inline any more

    scheduled = services.session_log(
        membership=member(tenant_a.admin),
        relationship=rel,
        starts_at=at(11, 9),
        duration=60,
        scheduled=True,
    )
    for action in ("complete/", "edit/"):
        html = provider_client_a.get(page(tenant_a, scheduled, action)).content.decode()
        assert SCRIPT in html
        assert "<script>" not in html
    # Completing needs the notes; editing a session still to be logged does not yet.
    complete = provider_client_a.get(page(tenant_a, scheduled, "complete/")).content.decode()
    assert 'data-min-length="150"' in complete
    assert "At least 150 characters." in complete
    edit = provider_client_a.get(page(tenant_a, scheduled, "edit/")).content.decode()
    assert 'data-min-length="0"' in edit
    # A form without notes does not load it.
    cancel = provider_client_a.get(page(tenant_a, scheduled, "cancel/")).content.decode()
    assert SCRIPT not in cancel


# --- Default start time --------------------------------------------------------------------


def test_the_log_forms_default_start_is_accepted_right_after_pairing(
    tenant_a: Tenant, grant, clock
) -> None:
    rel = paired(tenant_a, quantity=600, paired_at=at(11, 11, 40))
    clock.move_to(at(11, 11, 55))  # the hour began before the pairing was accepted
    client = client_for(tenant_a.provider_user)

    form = client.get(log_url(tenant_a, rel)).context["form"]
    data = {name: form[name].value() for name in ("date", "time", "duration")}
    data["kind"] = "tutoring"
    data["notes"] = "Worked through fractions and ratios together." * 3
    response = client.post(log_url(tenant_a, rel), data)

    assert response.status_code == 302, response.context["form"].errors
    assert Session.objects.get().starts_at == at(11, 11, 40)
