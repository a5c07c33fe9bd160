"""Check-in (docs/scheduling.md, "Check-in"): who came, the duration adjusted from the booked
one, the center's questions; submitting completes the session and consumes exactly the
checked-in minutes, or records a student no-show."""

import pytest
from django.urls import reverse

from sessions_app import checkin
from sessions_app.models import FeedbackAnswer, FeedbackQuestion, SessionChange
from tests.support import NOW, Tenant, at, balance, client_for, fresh, log, member, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def _path(tenant: Tenant, session) -> str:  # type: ignore[no-untyped-def]
    return reverse("sessions_app:check_in", args=[tenant.organization.slug, session.public_id])


@pytest.fixture
def questions(tenant_a: Tenant) -> list[FeedbackQuestion]:
    org = tenant_a.organization
    return [
        FeedbackQuestion.objects.create(
            organization=org, text="How did it go?", kind="rating", is_session_rating=True
        ),
        FeedbackQuestion.objects.create(
            organization=org, text="Homework set?", kind="yes_no", position=1
        ),
        FeedbackQuestion.objects.create(
            organization=org, text="Next topic", kind="text", required=False, position=2
        ),
    ]


@pytest.mark.parametrize(("adjusted", "minutes"), [("-10", 50), ("-5", 55), ("5", 65), ("10", 70)])
def test_the_adjusted_duration_is_exactly_what_is_consumed(
    tenant_a: Tenant, rel, grant, adjusted: str, minutes: int
) -> None:
    """The buttons add to the booked 60 minutes in the browser; the number posted is what
    counts (the same form works without the script)."""
    session = log(tenant_a, rel, starts_at=at(11, 9), duration=60, scheduled=True)
    before = balance(grant)

    response = client_for(tenant_a.provider_user).post(
        _path(tenant_a, session),
        {"attended": "attended", "duration": str(60 + int(adjusted)), "notes": "Fractions"},
    )

    assert response.status_code == 302
    session = fresh(session)
    assert (session.status, session.duration_minutes, session.charged_minutes) == (
        "completed",
        minutes,
        minutes,
    )
    assert balance(grant) == (before[0], before[1] + minutes, before[2] - minutes)
    assert SessionChange.objects.get(session=session).kind == "completed"


def test_the_answers_are_kept_and_the_rating_is_the_sessions(
    tenant_a: Tenant, rel, grant, questions
) -> None:
    session = log(tenant_a, rel, starts_at=at(11, 9), scheduled=True)
    rating, homework, topic = questions

    response = client_for(tenant_a.provider_user).post(
        _path(tenant_a, session),
        {
            "attended": "attended",
            "duration": "60",
            f"q{rating.pk}": "4",
            f"q{homework.pk}": "no",
            f"q{topic.pk}": "Percentages",
        },
    )

    assert response.status_code == 302
    assert fresh(session).rating == 4
    assert sorted(
        (a.question.text, a.display) for a in FeedbackAnswer.objects.filter(session=session)
    ) == [("Homework set?", "No"), ("How did it go?", "4 / 5"), ("Next topic", "Percentages")]


def test_a_required_answer_missing_is_asked_for_and_nothing_is_logged(
    tenant_a: Tenant, rel, grant, questions
) -> None:
    session = log(tenant_a, rel, starts_at=at(11, 9), scheduled=True)

    response = client_for(tenant_a.provider_user).post(
        _path(tenant_a, session), {"attended": "attended", "duration": "60"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        f"q{questions[0].pk}": ["Answer this question."],
        f"q{questions[1].pk}": ["Answer this question."],
    }
    assert fresh(session).status == "scheduled"


def test_no_one_showed_up_is_a_student_no_show_charged_per_policy(
    tenant_a: Tenant, rel, grant, questions
) -> None:
    set_policy(tenant_a.organization, no_show_charge="full")
    session = log(tenant_a, rel, starts_at=at(11, 9), duration=45, scheduled=True)

    response = client_for(tenant_a.provider_user).post(
        _path(tenant_a, session), {"attended": "no_one", "duration": ""}
    )

    assert response.status_code == 302
    session = fresh(session)
    assert (session.status, session.no_show_party, session.charged_minutes) == (
        "no_show",
        "student",
        45,
    )
    assert session.no_show_explanation == checkin.NO_ONE_CAME
    assert FeedbackAnswer.objects.count() == 0


def test_a_session_not_started_cannot_be_checked_in(tenant_a: Tenant, rel, grant) -> None:
    session = log(tenant_a, rel, starts_at=at(11, 15), scheduled=True)

    response = client_for(tenant_a.provider_user).post(
        _path(tenant_a, session), {"attended": "attended", "duration": "60"}
    )

    assert response.status_code == 200
    assert fresh(session).status == "scheduled"
    assert response.context["form"].non_field_errors()


# --- The center that requires check-ins first ----------------------------------------------------


def _home(tenant: Tenant, user):  # type: ignore[no-untyped-def]
    return client_for(user).get(reverse("org_home", args=[tenant.organization.slug]))


def test_a_provider_with_an_overdue_check_in_sees_only_the_check_in_pages(
    tenant_a: Tenant, rel, grant
) -> None:
    set_policy(tenant_a.organization, checkin_required=True, checkin_overdue_hours=2)
    session = log(tenant_a, rel, starts_at=at(11, 9), scheduled=True)  # 3 hours ago
    check_ins = reverse("sessions_app:check_ins", args=[tenant_a.organization.slug])

    response = _home(tenant_a, tenant_a.provider_user)
    assert (response.status_code, response["Location"]) == (302, check_ins)
    sessions = client_for(tenant_a.provider_user).get(session.get_absolute_url())
    assert sessions.status_code == 302
    assert client_for(tenant_a.provider_user).get(check_ins).status_code == 200
    assert client_for(tenant_a.provider_user).get(_path(tenant_a, session)).status_code == 200
    # Admins and students are never stopped.
    assert _home(tenant_a, tenant_a.admin).status_code == 200
    assert _home(tenant_a, tenant_a.student_user).status_code == 200

    checkin.session_check_in(
        membership=member(tenant_a.provider_user), session=session, attended=True
    )
    assert _home(tenant_a, tenant_a.provider_user).status_code == 200


@pytest.mark.parametrize(
    ("required", "hours_ago", "stopped"),
    [(False, 3, False), (True, 1, False), (True, 2, True), (True, 3, True)],
)
def test_the_guard_stops_only_where_required_and_past_the_overdue_hours(
    tenant_a: Tenant, rel, grant, required: bool, hours_ago: int, stopped: bool
) -> None:
    set_policy(tenant_a.organization, checkin_required=required, checkin_overdue_hours=2)
    log(tenant_a, rel, starts_at=NOW.replace(hour=12 - hours_ago), scheduled=True)

    assert (_home(tenant_a, tenant_a.provider_user).status_code == 302) is stopped
