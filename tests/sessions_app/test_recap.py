"""The student's recap with the confirmation (docs/scheduling.md, "Student recap")."""

import pytest
from django.urls import reverse

from sessions_app import services
from tests.support import Tenant, client_for, fresh, log, member, messages_of, refused, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def confirming(tenant_a: Tenant) -> None:
    set_policy(
        tenant_a.organization,
        require_student_confirmation=True,
        student_recap="required",
        student_recap_min_length=20,
    )


def test_a_required_recap_shorter_than_the_minimum_is_refused(
    tenant_a: Tenant, rel, grant, confirming
) -> None:
    session = log(tenant_a, rel)

    refused(
        lambda: services.session_confirm(
            membership=member(tenant_a.student_user), session=session, recap="Fractions"
        ),
        "Write a recap of at least 20 characters to confirm the session (9 so far).",
    )
    assert fresh(session).student_confirmed_at is None
    assert not fresh(session).counts_for_earnings


def test_the_recap_is_kept_and_the_session_counts_after_it(
    tenant_a: Tenant, rel, grant, confirming
) -> None:
    session = log(tenant_a, rel)
    path = reverse("sessions_app:confirm", args=[tenant_a.organization.slug, session.public_id])

    client = client_for(tenant_a.student_user)
    short = client.post(path, {"recap": "Too short"})
    assert messages_of(short) == [
        "Write a recap of at least 20 characters to confirm the session (9 so far)."
    ]
    response = client.post(path, {"recap": "  We practised adding fractions.  "})

    assert response.status_code == 302
    session = fresh(session)
    assert session.student_recap == "We practised adding fractions."
    assert session.counts_for_earnings
    assert session.money().paid_minutes == 60


def test_without_the_setting_a_recap_is_neither_asked_nor_kept(
    tenant_a: Tenant, rel, grant
) -> None:
    set_policy(tenant_a.organization, require_student_confirmation=True)
    session = log(tenant_a, rel)

    services.session_confirm(
        membership=member(tenant_a.student_user), session=session, recap="Anything"
    )

    assert (fresh(session).student_recap, fresh(session).counts_for_earnings) == ("", True)
