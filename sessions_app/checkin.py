"""Check-in (docs/scheduling.md, "Check-in"): once a session has started its provider (or an
admin) says who came. "The student attended": the session is completed with the duration
checked in (the booked one, adjusted) and the center's feedback questions answered, its hours
consumed by the logging service, all in one transaction. "No one showed up": a student no-show,
charged per the center's policy (`services.session_no_show`).

Where the center requires it (`checkin_required`), a provider with a check-in overdue (a
session of theirs still scheduled `checkin_overdue_hours` after its start) sees only the
check-in pages until none is: `overdue_guard`, run before every tenant view.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from django.contrib import messages
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone

from matchpal.compiled import Compiled, Rows, stand_in
from matchpal.models import Membership, Organization, Role
from matchpal.tenancy import TenantRequest
from relationships.models import RelationshipStatus
from sessions_app import services
from sessions_app.models import (
    FeedbackAnswer,
    FeedbackQuestion,
    NoShowParty,
    QuestionKind,
    Session,
    SessionStatus,
)
from sessions_app.rules import SessionRuleError
from sessions_app.selectors import home_sessions, session_list

NO_ONE_CAME: Final = "No one showed up (check-in)."
CHECK_IN_FIRST: Final = (
    "Check in your past sessions first: the center asks for it before other work."
)
ANSWER_REQUIRED: Final = "Answer this question."
CHECK_IN_ROWS: Final = 50

Answer = int | bool | str | None


# --- Questions ---------------------------------------------------------------------------------


def questions(*, organization: Organization) -> list[FeedbackQuestion]:
    """The center's live questions, in their order: what a check-in asks."""
    return list(FeedbackQuestion.objects.filter(organization=organization, is_active=True))


def question_list(*, organization: Organization) -> QuerySet[FeedbackQuestion]:
    return FeedbackQuestion.objects.filter(organization=organization).order_by(
        "-is_active", "position", "id"
    )


SESSION_RATING_TAKEN: Final = "Another live question is already the session's rating."
SESSION_RATING_NOT_RATING: Final = "Only a rating question can be the session's rating."


@dataclass(frozen=True)
class QuestionFields:
    text: str
    kind: str
    required: bool
    is_session_rating: bool
    position: int
    is_active: bool


def question_save(
    *, membership: Membership, question: FeedbackQuestion | None, fields: QuestionFields
) -> FeedbackQuestion:
    """Create (`question` None) or change one of the center's check-in questions: admins only.
    Answers already given keep the question they answered; retire a question (not live) rather
    than delete it."""
    if not membership.is_admin:
        raise SessionRuleError("Only an admin can change the check-in questions.")
    if fields.is_session_rating and fields.kind != QuestionKind.RATING:
        raise SessionRuleError(SESSION_RATING_NOT_RATING)
    org = membership.organization
    with transaction.atomic():
        if question is None:
            question = FeedbackQuestion(organization=org)
        if fields.is_session_rating and fields.is_active:
            taken = FeedbackQuestion.objects.filter(
                organization=org, is_session_rating=True, is_active=True
            ).exclude(pk=question.pk)
            if taken.exists():
                raise SessionRuleError(SESSION_RATING_TAKEN)
        for name, value in vars(fields).items():
            setattr(question, name, value)
        question.save()
    return question


def question_get(*, organization: Organization, public_id: uuid.UUID) -> FeedbackQuestion:
    question = FeedbackQuestion.objects.filter(
        organization=organization, public_id=public_id
    ).first()
    if question is None:
        raise Http404("No such question.")
    return question


# --- Overdue check-ins and the guard -------------------------------------------------------------


def overdue(*, organization: Organization, membership: Membership) -> QuerySet[Session]:
    """The member's sessions whose check-in is overdue: scheduled, on a paired relationship,
    started more than `checkin_overdue_hours` ago (not yet missed: the missed-session job
    takes them out of the provider's hands)."""
    cutoff = timezone.now() - timedelta(hours=organization.checkin_overdue_hours)
    return (
        session_list(organization=organization, membership=membership)
        .filter(
            status=SessionStatus.SCHEDULED,
            starts_at__lte=cutoff,
            relationship__status=RelationshipStatus.PAIRED,
        )
        .order_by("starts_at", "id")
    )


def to_check_in(
    *, organization: Organization, membership: Membership, now: datetime | None = None
) -> QuerySet[Session]:
    """Sessions the member may check in `now` (the present moment unless given): scheduled
    (an admin: or missed), started, on a paired relationship."""
    return (
        session_list(organization=organization, membership=membership)
        .filter(
            Q(status__in=(SessionStatus.SCHEDULED, SessionStatus.MISSED))
            if membership.is_admin
            else Q(status=SessionStatus.SCHEDULED),
            starts_at__lte=timezone.now() if now is None else now,
            relationship__status=RelationshipStatus.PAIRED,
        )
        .order_by("starts_at", "id")
    )


class CheckInRow(NamedTuple):
    """What the check-in list shows of a session: read as values, not models (fifty sessions
    with their relationship, student and provider were two hundred model instances a page)."""

    pk: int
    public_id: uuid.UUID
    starts_at: datetime
    duration_minutes: int
    status: str
    student: str
    provider: str


_ROW_VALUES = (
    "pk",
    "public_id",
    "starts_at",
    "duration_minutes",
    "status",
    "relationship__student__name",
    "relationship__provider__name",
)


def open_check_ins(organization: int, now: datetime) -> QuerySet[Session]:
    """On PostgreSQL, an admin's `to_check_in` from the sessions alone: those the database
    keeps open to check in (`Session.check_in_open`, sessions_app 0020) that have started,
    oldest first (then by key)."""
    return Session.objects.filter(
        organization_id=organization,
        check_in_open=True,
        status__in=(SessionStatus.SCHEDULED, SessionStatus.MISSED),
        starts_at__lte=now,
    ).order_by("starts_at", "id")


def _check_in_rows(organization: int, now: datetime, limit: int) -> QuerySet[Any]:
    """An admin's `to_check_in`, its first `limit` rows read ids first; then only those rows,
    joined to the student and provider the page shows. Built from values, for the statement
    compiled below.

    On PostgreSQL the keys come in order from the open check-ins' covering index
    `session_org_check_in_open` alone (an index-only scan cut at `limit`): its entries are the
    sessions whose `check_in_open` the database keeps true, scheduled or missed on a paired
    relationship (sessions_app 0020), which is `to_check_in`'s filter but for the start. The
    walk of every scheduled or missed session it replaces passed those left on ended pairings
    first, each probed for its relationship's status (about 2,000 at the large center, and
    growing with its history). Elsewhere (SQLite, no trigger) `to_check_in` itself."""
    if connection.vendor == "postgresql":
        listed = open_check_ins(organization, now)
    else:
        admin = stand_in(Membership, 0, organization_id=organization, role=Role.ADMIN)
        listed = to_check_in(
            organization=stand_in(Organization, organization), membership=admin, now=now
        )
    return (
        Session.objects.filter(pk__in=listed.values("pk")[:limit])
        .order_by("starts_at", "id")
        .values_list(*_ROW_VALUES)
    )


# Compiled once, prepared per connection (docs/performance.md, "The check-in list and the
# warning lists").
_ADMIN_ROWS = Compiled(_check_in_rows, organization=int, now=datetime, limit=Rows)


def _provider_check_in_rows(organization: int, user: int, now: datetime) -> QuerySet[Any]:
    """A provider's `to_check_in`, its first `CHECK_IN_ROWS` and one: read by the session's own
    provider column (`home_sessions`, `own_provider_id`), so the partial index of a provider's
    live sessions by start (`session_org_provider_live`) finds the few scheduled ones already
    started, where `session_list`'s join through the relationships' provider read every session
    of theirs (2,396 for the large center's busiest, 9.7 ms, and 2.5 ms of planning on each
    request: docs/performance.md, "The pairing's page and the homes' rows"). Built from values,
    for the statement compiled below."""
    provider = stand_in(
        Membership, 0, organization_id=organization, user_id=user, role=Role.PROVIDER
    )
    return (
        home_sessions(organization=stand_in(Organization, organization), membership=provider)
        .filter(
            status=SessionStatus.SCHEDULED,
            starts_at__lte=now,
            relationship__status=RelationshipStatus.PAIRED,
        )
        .select_related(None)
        .order_by("starts_at", "id")
        .values_list(*_ROW_VALUES)[: CHECK_IN_ROWS + 1]
    )


_PROVIDER_ROWS = Compiled(_provider_check_in_rows, organization=int, user=int, now=datetime)


def check_in_rows(
    *, organization: Organization, membership: Membership
) -> tuple[list[CheckInRow], bool]:
    """The page's sessions to check in (`to_check_in`, at most `CHECK_IN_ROWS`, oldest first)
    and whether there are more. One query."""
    if membership.is_admin:
        rows = _ADMIN_ROWS.rows(
            organization=organization.pk, now=timezone.now(), limit=CHECK_IN_ROWS + 1
        )
    elif membership.is_provider:
        rows = _PROVIDER_ROWS.rows(
            organization=organization.pk, user=membership.user_id, now=timezone.now()
        )
    else:
        listed = to_check_in(organization=organization, membership=membership)
        rows = list(listed.select_related(None).values_list(*_ROW_VALUES)[: CHECK_IN_ROWS + 1])
    return [CheckInRow(*row) for row in rows[:CHECK_IN_ROWS]], len(rows) > CHECK_IN_ROWS


def overdue_guard(request: TenantRequest) -> HttpResponseBase | None:
    """A provider of a center that requires check-ins first, with one overdue, goes to the
    check-in list. One EXISTS query, and only then: no query at all when the setting is off or
    the member is not a provider."""
    org, membership = request.organization, request.membership
    if not org.checkin_required or not membership.is_provider:
        return None
    if not overdue(organization=org, membership=membership).exists():
        return None
    messages.warning(request, CHECK_IN_FIRST)
    return redirect("sessions_app:check_ins", org.slug)


# --- Checking a session in -----------------------------------------------------------------------


def _answer(question: FeedbackQuestion, value: Answer) -> FeedbackAnswer | None:
    if value is None or value == "":
        if question.required:
            raise SessionRuleError(f"{question.text}: {ANSWER_REQUIRED.lower()}")
        return None
    answer = FeedbackAnswer(organization_id=question.organization_id, question=question)
    if question.kind == QuestionKind.RATING:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise SessionRuleError(f"{question.text}: give a rating from 1 to 5.")
        answer.rating = value
    elif question.kind == QuestionKind.YES_NO:
        if not isinstance(value, bool):
            raise SessionRuleError(f"{question.text}: answer yes or no.")
        answer.yes_no = value
    else:
        answer.text = str(value).strip()[:500]
    return answer


@services.tells_admins_of_shortfall
def session_check_in(
    *,
    membership: Membership,
    session: Session,
    attended: bool,
    duration: int | None = None,
    notes: str = "",
    answers: Mapping[int, Answer] | None = None,
) -> Session:
    """Check the session in. Attended: complete it with `duration` (the booked one when None)
    and `notes`, consuming its hours, and store the answers (by question id) to the center's
    live questions; the session-rating question's answer becomes `Session.rating`. No one
    came: a student no-show (the no-show charge and rule apply)."""
    if not attended:
        return services.session_no_show(
            membership=membership,
            session=session,
            party=NoShowParty.STUDENT,
            explanation=NO_ONE_CAME,
        )
    answers = answers or {}
    asked = FeedbackQuestion.objects.filter(organization_id=session.organization_id, is_active=True)
    with transaction.atomic():
        session = services.complete_locked(
            membership=membership, session=session, duration=duration, notes=notes
        )
        rows = [a for q in asked if (a := _answer(q, answers.get(q.pk))) is not None]
        for row in rows:
            row.session = session
        FeedbackAnswer.objects.bulk_create(rows)
        rating = next((a.rating for a in rows if a.question.is_session_rating), None)
        if rating is not None:
            session.rating = rating
            session.save(update_fields=["rating"])
    return session


def answers_of(session: Session) -> list[FeedbackAnswer]:
    """A session's check-in answers with their questions, in the questions' order: one query."""
    return list(FeedbackAnswer.objects.filter(session=session).select_related("question"))
