"""The booking pages (docs/scheduling.md): a student (or an admin for a student) picks a
service type and a free slot of the week, then a provider free at that time; the provider
answers requests; staff cancel the rest of a weekly series; admins see the center's week."""

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from matchpal.actions import FROM_ERROR, action_page, run_action
from matchpal.bounds import in_range
from matchpal.models import Role, ServiceType
from matchpal.quantities import format_quantity
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from relationships.models import Relationship, RelationshipStatus, Unit
from sessions_app import booking, selectors, slots
from sessions_app.booking_forms import BookingForm, DeclineForm
from sessions_app.forms import CancelForm
from sessions_app.models import Session, SessionStatus
from sessions_app.rules import SessionRuleError, charge_for
from students import selectors as students
from students.models import Student


def _uuid(value: str | None) -> uuid.UUID | None:
    """A public id from the query string; a malformed one is a 404, like a malformed path."""
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise Http404("No such object.") from exc


def _student(request: TenantRequest) -> Student | None:
    """The student booked for: one's own record, or, for an admin, `?student=`."""
    org = request.organization
    if request.membership.is_admin:
        public_id = _uuid(request.GET.get("student"))
        return students.student_get(organization=org, public_id=public_id) if public_id else None
    student = students.student_for_user(organization=org, user=request.user)
    if student is None:
        raise PermissionDenied
    return student


def _week(request: TenantRequest) -> date:
    today = timezone.localdate(timezone=request.organization.tz)
    try:
        day = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = today
    if not in_range(day):
        day = today
    return slots.week_start(request.organization, day)


def _paired(request: TenantRequest, student: Student) -> list[Relationship]:
    return list(
        Relationship.objects.filter(
            organization=request.organization,
            student=student,
            status=RelationshipStatus.PAIRED,
            provider__status="active",
        )
        .select_related("provider", "student", "service_type")
        .order_by("service_type__name", "provider__name", "id")
    )


def _service(
    request: TenantRequest, paired: list[Relationship]
) -> tuple[ServiceType | None, list[ServiceType]]:
    """The service types the student has pairings for, and the chosen one (`?service=`, else
    the first)."""
    offered: dict[int, ServiceType] = {}
    for relationship in paired:
        offered.setdefault(relationship.service_type_id, relationship.service_type)
    types = list(offered.values())
    wanted = _uuid(request.GET.get("service"))
    if wanted is None:
        return (types[0] if types else None), types
    chosen = next((t for t in types if t.public_id == wanted), None)
    if chosen is None:
        raise Http404("No such service.")
    return chosen, types


def _may_book(request: TenantRequest) -> bool:
    return request.membership.is_admin or request.organization.booking_students_may_request


@tenant_view(Role.ADMIN, Role.STUDENT)
def book(request: TenantRequest) -> HttpResponse:
    """Pick a service type and a free slot of the week."""
    org = request.organization
    student = _student(request)
    context: dict[str, object] = {"student": student, "may_book": _may_book(request)}
    if student is None or not context["may_book"]:
        return render(request, "sessions_app/book.html", context)
    paired = _paired(request, student)
    service, types = _service(request, paired)
    monday = _week(request)
    relationships = [r for r in paired if service and r.service_type_id == service.pk]
    found = slots.free_slots(
        organization=org,
        relationships=relationships,
        first_day=monday,
        admin=request.membership.is_admin,
    )
    by_day: dict[date, list[slots.Slot]] = defaultdict(list)
    for slot in found:
        by_day[timezone.localtime(slot.start, org.tz).date()].append(slot)
    query = {"service": str(service.public_id)} if service else {}
    if request.membership.is_admin:
        query["student"] = str(student.public_id)
    context.update(
        {
            "service": service,
            "service_types": types,
            "relationships": relationships,
            "days": [
                (monday + timedelta(days=n), by_day.get(monday + timedelta(days=n), []))
                for n in range(7)
            ],
            "monday": monday,
            "previous": monday - timedelta(days=7),
            "next": monday + timedelta(days=7),
            "query": urlencode(query),
        }
    )
    return render(request, "sessions_app/book.html", context)


def _moment(value: str | None) -> datetime | None:
    """`?at=`: an aware moment in ISO form; anything else is None."""
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    if moment.tzinfo is None or not in_range(moment):
        return None
    return moment


@tenant_view(Role.ADMIN, Role.STUDENT)
def book_confirm(request: TenantRequest) -> HttpResponse:
    """Who is free at the chosen time, with their profiles; pick one, a topic, how it repeats;
    send."""
    org = request.organization
    student = _student(request)
    starts_at = _moment(request.GET.get("at"))
    back = reverse("sessions_app:book", args=[org.slug])
    query = urlencode({k: v for k, v in request.GET.items() if k in ("student", "service", "week")})
    if student is None or starts_at is None or not _may_book(request):
        # No time chosen (or nobody to book for): the page says so and leads back.
        return render(
            request,
            "sessions_app/book_confirm.html",
            {"student": student, "offers": [], "back_url": f"{back}?{query}"},
        )
    paired = _paired(request, student)
    service, _ = _service(request, paired)
    relationships = [r for r in paired if service and r.service_type_id == service.pk]
    offers = slots.offers_at(
        organization=org,
        relationships=relationships,
        starts_at=starts_at,
        admin=request.membership.is_admin,
    )
    form = BookingForm(request.POST or None, offers=offers)
    if request.method == "POST" and form.is_valid():
        offer = form.offer
        done = run_action(
            request,
            lambda: booking.session_book(
                membership=request.membership,
                relationship=offer.relationship,
                starts_at=starts_at,
                mode=form.cleaned_data["mode"],
                topic=form.cleaned_data["topic"],
                series=form.series,
            ),
            form=form,
            field=FROM_ERROR,
            success=_booked_message,
            then=lambda booked: booked[0].get_absolute_url(),
        )
        if done is not None:
            return done
    warning = None
    if len(offers) == 1 or (form.is_bound and form.is_valid()):
        chosen = form.offer if form.is_bound and form.is_valid() else offers[0]
        count = _series_count(form, starts_at, org.time_zone)
        if count > 1:
            warning = booking.series_warning(
                chosen.relationship, minutes=org.booking_slot_minutes, count=count
            )
    return render(
        request,
        "sessions_app/book_confirm.html",
        {
            "student": student,
            "service": service,
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=org.booking_slot_minutes),
            "offers": offers,
            "form": form,
            "warning": warning,
            "back_url": f"{back}?{query}",
        },
    )


def _series_count(form: BookingForm, starts_at: datetime, time_zone: str) -> int:
    """How many sessions the form asks for (1 until it is valid, or when the series itself is
    refused: the booking will say why)."""
    if not form.is_bound or not form.is_valid():
        return 1
    try:
        return len(booking.occurrences(starts_at, form.series, time_zone))
    except SessionRuleError:
        return 1


def _booked_message(booked: list[Session]) -> str:
    first = booked[0]
    what = "requested" if first.status == "pending" else "booked"
    more = f" ({len(booked)} weekly sessions)" if len(booked) > 1 else ""
    return f"Session {what}{more}."


def _session(request: TenantRequest, public_id: uuid.UUID) -> Session:
    return selectors.session_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )


@require_POST
@tenant_view(Role.ADMIN, Role.PROVIDER)
def session_accept(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return run_action(
        request,
        lambda: booking.session_accept(membership=request.membership, session=session),
        success="Request accepted: the session is scheduled.",
        then=session.get_absolute_url(),
    )


@tenant_view(Role.ADMIN, Role.PROVIDER)
def session_decline(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return action_page(
        request,
        form=DeclineForm(request.POST or None),
        action=lambda data: booking.session_decline(
            membership=request.membership, session=session, message=data["message"]
        ),
        success="Request declined; the student was told.",
        then=reverse("org_home", args=[request.organization.slug]),
        field=FROM_ERROR,
        context={
            "title": "Decline the request",
            "submit": "Decline",
            "session": session,
            "back_url": session.get_absolute_url(),
        },
    )


@tenant_view(Role.ADMIN, Role.PROVIDER)
def session_cancel_following(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    if session.series is None:
        raise Http404("This session is not part of a weekly series.")
    return action_page(
        request,
        form=CancelForm(request.POST or None),
        action=lambda data: booking.series_cancel_following(
            membership=request.membership, session=session, reason=data["reason"]
        ),
        success=lambda cancelled: f"{len(cancelled)} sessions of the series cancelled.",
        then=session.get_absolute_url(),
        field=FROM_ERROR,
        context={
            "title": "Cancel this and the following sessions",
            "submit": "Cancel them",
            "session": session,
            "back_url": session.get_absolute_url(),
        },
    )


@tenant_view(Role.STUDENT)
def session_cancel_booking(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    """The student cancels their own request or booked session, with a reason; the page says
    beforehand whether the center's late-cancellation rule charges it."""
    session = _session(request, public_id)
    return action_page(
        request,
        form=CancelForm(request.POST or None),
        action=lambda data: booking.session_cancel_booking(
            membership=request.membership, session=session, reason=data["reason"]
        ),
        success="Session cancelled; your provider was told.",
        then=session.get_absolute_url(),
        field=FROM_ERROR,
        context={
            "title": "Cancel the request"
            if session.status == SessionStatus.PENDING
            else "Cancel the session",
            "submit": "Cancel it",
            "back_label": "Keep it",
            "session": session,
            "warning": _cancel_warning(request, session),
            "back_url": session.get_absolute_url(),
        },
    )


def _cancel_warning(request: TenantRequest, session: Session) -> str:
    org = request.organization
    if selectors.cancel_booking_refusal(session) is not None:
        return ""
    if selectors.late_cancellation_charged(session, session.relationship):
        unit = session.relationship.unit
        charge = (
            1
            if unit == Unit.SESSIONS
            else charge_for(
                organization=org,
                kind=session.kind,
                duration=session.duration_minutes,
                review_minutes=session.review_minutes,
            )
        )
        return (
            f"It starts in less than {org.late_cancellation_window_hours} hours: the center "
            "charges a cancellation this late in full, "
            f"{format_quantity(charge, unit)} of your hours."
        )
    return "Nothing is charged: the hours go back to your reservation."


@admin_required
def center_week(request: TenantRequest) -> HttpResponse:
    """How many providers are open, and free for a booking, in each hour of the week."""
    monday = _week(request)
    week = slots.center_week(organization=request.organization, first_day=monday)
    hours = [hour.start for hour in week[0].hours] if week else []
    rows = [(hour, [day.hours[n] for day in week]) for n, hour in enumerate(hours)]
    context = {
        "week": week,
        "rows": rows,
        "monday": monday,
        "previous": monday - timedelta(days=7),
        "next": monday + timedelta(days=7),
    }
    return render(request, "sessions_app/center_week.html", context)
