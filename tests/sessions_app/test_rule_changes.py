"""A rule change never rewrites history: a stored session keeps its values on its forms, and a
change meets only the rules of what it changes (docs/rules.md, "Changing logged sessions")."""

import pytest

from grants.reconcile import find_differences
from sessions_app import services
from sessions_app.forms import duration_choices
from tests.support import Tenant, at, balance, fresh, log, member, refused, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_the_edit_form_keeps_a_duration_the_new_steps_no_longer_include(
    tenant_a: Tenant, rel, grant, provider_client_a
) -> None:
    session = log(tenant_a, rel, notes="Fractions", mode="Online")
    org = set_policy(
        tenant_a.organization,
        duration_step_minutes=7,
        min_session_minutes=7,
        max_session_minutes=175,
    )
    url = f"/o/{org.slug}/sessions/{session.public_id}/edit/"
    form = provider_client_a.get(url).context["form"]
    assert form["duration"].value() == 60
    choices = form.fields["duration"].choices
    assert (60, "1 h (as recorded)") in choices
    assert (56, "56 min") in choices
    assert (63, "1 h 3 min") in choices
    assert [m for m, _ in choices] == sorted(m for m, _ in choices)
    assert '<option value="60" selected>1 h (as recorded)</option>' in form["duration"].as_widget()

    # Saved unchanged: nothing changes.
    response = provider_client_a.post(
        url, {"duration": "60", "mode": "Online", "notes": "Fractions"}
    )
    assert response.status_code == 302
    session = fresh(session)
    assert (session.duration_minutes, session.charged_minutes) == (60, 60)
    assert balance(grant) == (900, 60, 540)
    # A new value meets the new steps.
    response = provider_client_a.post(url, {"duration": "63", "notes": "Fractions"})
    assert response.status_code == 302
    assert fresh(session).duration_minutes == 63
    assert balance(grant) == (900, 63, 537)
    assert find_differences() == []


def test_duration_choices_add_the_stored_value_only_when_missing(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    assert duration_choices(org, current=60) == duration_choices(org)
    assert (61, "1 h 1 min (as recorded)") in duration_choices(org, current=61)


def test_a_change_meets_only_the_rules_of_what_it_changes(tenant_a: Tenant, rel, grant) -> None:
    session = log(tenant_a, rel, notes="Short")
    org = set_policy(
        tenant_a.organization,
        duration_step_minutes=7,
        min_session_minutes=7,
        max_session_minutes=175,
        notes_min_length=20,
        weekly_max_minutes_per_provider=30,
    )
    # Where it took place only: the short notes, the duration off the new steps and the week
    # over the new maximum all stand.
    services.session_edit(membership=member(tenant_a.provider_user), session=session, mode="Online")
    assert (fresh(session).mode, fresh(session).notes) == ("Online", "Short")
    # Shortening adds nothing to the week: not refused by its maximum.
    services.session_edit(membership=member(tenant_a.provider_user), session=session, duration=56)
    assert fresh(session).duration_minutes == 56
    refused(
        lambda: services.session_edit(
            membership=member(tenant_a.provider_user), session=session, duration=58
        ),
        "Durations are counted in steps of 7 minutes; 58 minutes is not one of them.",
    )
    refused(
        lambda: services.session_edit(
            membership=member(tenant_a.provider_user), session=session, duration=63
        ),
        f"This week {tenant_a.provider.name} already has 0 min; the weekly maximum is 30 min.",
    )
    refused(
        lambda: services.session_edit(
            membership=member(tenant_a.provider_user), session=session, notes="Too short"
        ),
        "The notes need at least 20 characters (9 so far).",
    )
    assert (fresh(session).duration_minutes, fresh(session).notes) == (56, "Short")
    assert balance(grant) == (900, 56, 544)
    assert org.duration_step_minutes == 7
    assert find_differences() == []


def test_completing_keeps_a_scheduled_duration_the_new_steps_no_longer_include(
    tenant_a: Tenant, rel, grant, clock
) -> None:
    session = log(tenant_a, rel, starts_at=at(11, 9), scheduled=True)
    set_policy(
        tenant_a.organization,
        duration_step_minutes=7,
        min_session_minutes=7,
        max_session_minutes=175,
        notes_min_length=10,
    )
    # Logging it checks what logging checks: the notes.
    refused(
        lambda: services.session_complete(
            membership=member(tenant_a.provider_user), session=session
        ),
        "The notes need at least 10 characters (0 so far).",
    )
    services.session_complete(
        membership=member(tenant_a.provider_user), session=session, notes="Linear equations"
    )
    session = fresh(session)
    assert (session.status, session.duration_minutes, session.charged_minutes) == (
        "completed",
        60,
        60,
    )
    assert balance(grant) == (900, 60, 540)
