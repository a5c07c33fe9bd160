"""The scheduling pages of sessions (docs/scheduling.md): messages on a session, check-in, the
center's check-in questions, the week view and the private calendar feed."""

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from matchpal.actions import action_page, run_action
from matchpal.models import Role
from matchpal.tenancy import TenantRequest, guard_exempt, tenant_view
from providers.models import Provider
from sessions_app import calendar, checkin, selectors, session_messages, week_summary
from sessions_app.forms import (
    ATTENDED,
    CheckInForm,
    FeedbackQuestionForm,
    MessageForm,
    WeekProviderForm,
)
from sessions_app.models import FeedbackQuestion, Session

STAFF = (Role.ADMIN, Role.PROVIDER)


def _session(request: TenantRequest, public_id: uuid.UUID) -> Session:
    return selectors.session_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )


# --- Messages ----------------------------------------------------------------------------------


@require_POST
@tenant_view()
def message_post(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    form = MessageForm(request.POST)
    body = form.cleaned_data["body"] if form.is_valid() else request.POST.get("body", "")
    return run_action(
        request,
        lambda: session_messages.message_post(
            membership=request.membership, session=session, body=str(body)
        ),
        success="Message sent.",
        then=session.get_absolute_url() + "#conversation",
    )


# --- Check-in ----------------------------------------------------------------------------------


@tenant_view(*STAFF)
@guard_exempt
def check_ins(request: TenantRequest) -> HttpResponse:
    """The sessions the member may check in now, oldest first (at most `CHECK_IN_ROWS`)."""
    rows, more = checkin.check_in_rows(
        organization=request.organization, membership=request.membership
    )
    overdue_after = timezone.now() - timedelta(hours=request.organization.checkin_overdue_hours)
    return render(
        request,
        "sessions_app/check_ins.html",
        {"rows": rows, "more": more, "overdue_after": overdue_after},
    )


@tenant_view(*STAFF)
@guard_exempt
def session_check_in(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    questions = checkin.questions(organization=request.organization)
    form = CheckInForm(
        request.POST or None,
        organization=request.organization,
        session=session,
        questions=questions,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        attended = data["attended"] == ATTENDED
        done = run_action(
            request,
            lambda: checkin.session_check_in(
                membership=request.membership,
                session=session,
                attended=attended,
                duration=data.get("duration"),
                notes=data.get("notes", ""),
                answers=form.answers(),
            ),
            form=form,
            success="Checked in." if attended else "No-show recorded.",
            then=reverse("sessions_app:check_ins", args=[request.organization.slug]),
        )
        if done is not None:
            return done
    return render(
        request,
        "sessions_app/check_in.html",
        {"form": form, "session": session, "back_url": session.get_absolute_url()},
    )


# --- The center's check-in questions (admins) ---------------------------------------------------


@tenant_view(Role.ADMIN)
def feedback_questions(request: TenantRequest) -> HttpResponse:
    return render(
        request,
        "sessions_app/feedback_questions.html",
        {"questions": list(checkin.question_list(organization=request.organization))},
    )


def _question_page(
    request: TenantRequest, question: FeedbackQuestion | None, initial: dict[str, Any]
) -> HttpResponse:
    form = FeedbackQuestionForm(request.POST or None, initial=initial)
    return action_page(
        request,
        form=form,
        action=lambda data: checkin.question_save(
            membership=request.membership,
            question=question,
            fields=checkin.QuestionFields(
                text=data["text"],
                kind=data["kind"],
                required=data["required"],
                is_session_rating=data["is_session_rating"],
                position=data["position"],
                is_active=data["is_active"],
            ),
        ),
        success="Question saved.",
        then=reverse("sessions_app:feedback_questions", args=[request.organization.slug]),
        context={
            "title": "New check-in question" if question is None else "Edit the question",
            "submit": "Save",
            "back_url": reverse(
                "sessions_app:feedback_questions", args=[request.organization.slug]
            ),
        },
    )


@tenant_view(Role.ADMIN)
def feedback_question_create(request: TenantRequest) -> HttpResponse:
    return _question_page(request, None, {"required": True, "is_active": True, "position": 0})


@tenant_view(Role.ADMIN)
def feedback_question_edit(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    question = checkin.question_get(organization=request.organization, public_id=public_id)
    initial = {
        name: getattr(question, name)
        for name in ("text", "kind", "required", "is_session_rating", "position", "is_active")
    }
    return _question_page(request, question, initial)


# --- The week ----------------------------------------------------------------------------------


def _week_start(raw: str, today: date) -> date:
    """Monday of the week holding `raw` (YYYY-MM-DD); this week for anything else."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = today
    if not 2000 <= day.year <= today.year + 10:
        day = today
    return day - timedelta(days=day.weekday())


@tenant_view()
def week(request: TenantRequest) -> HttpResponse:
    """A week of sessions, Monday to Sunday in the center's time zone: a provider's own, a
    student's own, an admin's whole center or one provider's (`?provider=<id>`, or typed in
    the picker). Above `week_summary.SUMMARY_ABOVE` sessions, the admin's whole center is a
    summary by day (sessions_app/week_summary.py). On a phone the seven columns become a day
    list (the stylesheet's `.mp-week`)."""
    org = request.organization
    tz = org.tz
    today = timezone.localtime(timezone.now(), tz).date()
    monday = _week_start(request.GET.get("week", ""), today)
    dates = [monday + timedelta(days=n) for n in range(7)]
    form: WeekProviderForm | None = None
    provider: Provider | None = None
    if request.membership.is_admin:
        form = WeekProviderForm(request.GET, organization=org, membership=request.membership)
        provider = form.chosen()
    start = datetime.combine(monday, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), datetime.min.time(), tzinfo=tz)
    base = reverse("sessions_app:week", args=[org.slug])
    summary, summary_html = None, ""
    if request.membership.is_admin and provider is None:
        links = {
            "today": today,
            "provider_week_url": f"{base}?week={monday}",
            "day_list_url": reverse("sessions_app:list", args=[org.slug]),
        }
        summary, summary_html = week_summary.week_summary(
            org,
            start,
            end,
            dates,
            today=today,
            render=lambda counted: render_to_string(
                "sessions_app/week.html#summary", {"summary": counted, **links}
            ),
        )
    days = None
    if not summary_html:
        days = selectors.week_days(
            organization=org,
            membership=request.membership,
            start=start,
            end=end,
            provider=provider,
        )
    keep = f"&provider={provider.public_id}" if provider else ""
    return render(
        request,
        "sessions_app/week.html",
        {
            "week": days,
            "summary": summary if summary_html else None,
            "summary_html": SafeString(summary_html),
            "form": form,
            "monday": monday,
            "sunday": monday + timedelta(days=6),
            "today": today,
            "provider": provider,
            "previous_url": f"{base}?week={monday - timedelta(days=7)}{keep}",
            "next_url": f"{base}?week={monday + timedelta(days=7)}{keep}",
            "this_week_url": f"{base}?week={today}{keep}" if keep else base,
        },
    )


# --- The private calendar feed ------------------------------------------------------------------


@tenant_view()
def calendar_feed(request: TenantRequest) -> HttpResponse:
    """The member's feed URL; POST creates it, or replaces it (the old URL stops working)."""
    if request.method == "POST":
        return run_action(
            request,
            lambda: calendar.feed_regenerate(membership=request.membership),
            success="Your calendar link is ready. Any earlier link no longer works.",
            then=reverse("sessions_app:calendar_feed", args=[request.organization.slug]),
        )
    feed = calendar.feed_get(membership=request.membership)
    url = request.build_absolute_uri(reverse("calendar:feed", args=[feed.token])) if feed else None
    return render(request, "sessions_app/calendar_feed.html", {"feed_url": url})


def calendar_feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The feed itself: no sign-in (calendar apps fetch it), the token is the only key. An
    unknown or revoked token is a 404, like any other wrong address."""
    feed = calendar.feed_for_token(token)
    if feed is None:
        raise Http404("No such calendar.")
    response = HttpResponse(
        calendar.feed(membership=feed.membership), content_type="text/calendar; charset=utf-8"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
