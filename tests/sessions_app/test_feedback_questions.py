"""The center's check-in questions, kept by its admins (docs/scheduling.md, "Check-in")."""

import pytest
from django.urls import reverse

from sessions_app import checkin
from sessions_app.models import FeedbackQuestion
from tests.support import Tenant, client_for, member, refused

pytestmark = pytest.mark.django_db


def _fields(**overrides: object) -> checkin.QuestionFields:
    values: dict[str, object] = {
        "text": "How did it go?",
        "kind": "rating",
        "required": True,
        "is_session_rating": True,
        "position": 0,
        "is_active": True,
    }
    values.update(overrides)
    return checkin.QuestionFields(**values)  # type: ignore[arg-type]


def test_an_admin_adds_a_question_on_its_page(tenant_a: Tenant) -> None:
    slug = tenant_a.organization.slug
    client = client_for(tenant_a.admin)

    response = client.post(
        reverse("sessions_app:feedback_question_create", args=[slug]),
        {
            "text": "Homework set?",
            "kind": "yes_no",
            "required": "on",
            "position": "2",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    question = FeedbackQuestion.objects.get()
    assert (question.text, question.kind, question.required, question.position) == (
        "Homework set?",
        "yes_no",
        True,
        2,
    )
    page = client.get(reverse("sessions_app:feedback_questions", args=[slug]))
    assert "Homework set?" in page.content.decode()


def test_one_live_question_is_the_sessions_rating(tenant_a: Tenant) -> None:
    admin = member(tenant_a.admin)
    checkin.question_save(membership=admin, question=None, fields=_fields())

    refused(
        lambda: checkin.question_save(membership=admin, question=None, fields=_fields()),
        checkin.SESSION_RATING_TAKEN,
    )
    refused(
        lambda: checkin.question_save(
            membership=admin, question=None, fields=_fields(kind="text", text="Topic")
        ),
        checkin.SESSION_RATING_NOT_RATING,
    )
    # A retired one leaves the place free.
    first = FeedbackQuestion.objects.get()
    checkin.question_save(membership=admin, question=first, fields=_fields(is_active=False))
    checkin.question_save(membership=admin, question=None, fields=_fields(text="Rate it"))
    assert FeedbackQuestion.objects.filter(is_active=True).get().text == "Rate it"


def test_a_provider_cannot_change_the_questions(tenant_a: Tenant) -> None:
    refused(
        lambda: checkin.question_save(
            membership=member(tenant_a.provider_user), question=None, fields=_fields()
        ),
        "Only an admin can change the check-in questions.",
    )
