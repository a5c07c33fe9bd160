import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from matchpal.actions import action_page, run_action
from matchpal.htmx import render_page
from matchpal.models import Role
from matchpal.pagination import only_paged, paginate
from matchpal.tenancy import TenantRequest, tenant_view
from relationships.models import Relationship, RelationshipStatus
from relationships.selectors import relationship_get, relationship_to_act_on
from sessions_app import checkin, selectors, services, session_messages
from sessions_app.filters import SessionFilter
from sessions_app.forms import (
    CancelForm,
    ChooseRelationshipForm,
    DisputeForm,
    EditSessionForm,
    LogSessionForm,
    MessageForm,
    NoShowForm,
    RecapForm,
    RescheduleForm,
    ResolveDisputeForm,
)
from sessions_app.models import Session

STAFF = (Role.ADMIN, Role.PROVIDER)


@tenant_view(*STAFF)
def session_list(request: TenantRequest) -> HttpResponse:
    if not only_paged(request):
        filterset = SessionFilter(
            request.GET,
            organization=request.organization,
            membership=request.membership,
            queryset=selectors.session_rows(
                organization=request.organization, membership=request.membership
            ),
        )
        page = paginate(request, filterset.qs)
    else:
        # Unfiltered, the list's statements are compiled once; the filter set is its form.
        filterset = SessionFilter(
            request.GET,
            organization=request.organization,
            membership=request.membership,
            queryset=Session.objects.none(),
        )
        page = selectors.unfiltered_page(request, membership=request.membership)
    page.object_list = selectors.with_organization(page.object_list, request.organization)
    return render_page(
        request, "sessions_app/list.html", {"filter": filterset, "page": page}, partial="results"
    )


@tenant_view(*STAFF)
def session_log(request: TenantRequest, relationship_id: uuid.UUID) -> HttpResponse:
    if request.method == "POST":
        # The service finds the relationship among the member's own with the statement that
        # locks it (the same scope and 404 as `relationship_to_act_on`): a log reads it once.
        # The pairing's date only presets a form that is shown, never what was posted.
        form = LogSessionForm(request.POST, organization=request.organization)
        if form.is_valid():
            done = _log(request, form, relationship_id)
            if done:
                return done
    relationship = relationship_to_act_on(
        organization=request.organization, membership=request.membership, public_id=relationship_id
    )
    if request.method != "POST":
        # "Schedule a session" on the sessions list comes here with the box already ticked.
        initial = {"schedule": True} if request.GET.get("schedule") else None
        form = LogSessionForm(
            organization=request.organization, paired_at=relationship.paired_at, initial=initial
        )
    return render(request, "sessions_app/log.html", {"form": form, "relationship": relationship})


def _log(
    request: TenantRequest, form: LogSessionForm, relationship_id: uuid.UUID
) -> HttpResponse | None:
    data = form.cleaned_data
    try:
        return run_action(
            request,
            lambda: services.session_log(
                membership=request.membership,
                relationship=relationship_id,
                starts_at=form.starts_at(),
                duration=data["duration"],
                kind=data["kind"],
                mode=data["mode"],
                notes=data["notes"],
                internal_note=data["internal_note"],
                review_minutes=data["review_minutes"],
                scheduled=data["schedule"],
            ),
            form=form,
            field=None,
            success="Session scheduled." if data["schedule"] else "Session logged.",
            then=lambda session: session.get_absolute_url(),
        )
    except Relationship.DoesNotExist:
        raise Http404("No such relationship.") from None


@tenant_view(Role.ADMIN)
def session_new(request: TenantRequest) -> HttpResponse:
    """ "Log a session" and "Schedule a session" from the sessions list: pick a paired
    relationship (found by a name, not from a list of all), then its log page."""
    form = ChooseRelationshipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        relationship = relationship_get(
            organization=request.organization,
            membership=request.membership,
            public_id=form.cleaned_data["relationship"],
        )
        if relationship.status != RelationshipStatus.PAIRED:
            form.add_error(None, services.LOG_NOT_PAIRED)
        else:
            url = reverse(
                "sessions_app:log", args=[request.organization.slug, relationship.public_id]
            )
            return redirect(
                url + ("?schedule=1" if form.cleaned_data["then"] == "schedule" else "")
            )
    # A NUL byte cannot reach PostgreSQL text; nobody types one on purpose.
    query = request.GET.get("q", "").replace("\x00", "")[:100]
    rows = selectors.relationships_to_log(
        organization=request.organization, membership=request.membership, query=query
    )
    return render(
        request,
        "sessions_app/new.html",
        {
            "form": form,
            "q": query,
            "rows": rows[: selectors.PICK_ROWS],
            "more": len(rows) > selectors.PICK_ROWS,
            "then": "schedule" if request.GET.get("then") == "schedule" else "log",
        },
    )


@tenant_view()
def session_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = selectors.session_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )
    selectors.session_people(session)
    return render(
        request,
        "sessions_app/detail.html",
        {
            "session": session,
            "money": session.money(),
            "sees_client_amount": selectors.sees_client_amount(
                request.membership, request.organization
            ),
            "can_see_internal_note": selectors.internal_note_visible(session, request.membership),
            "history": selectors.session_history(session=session),
            "conversation": session_messages.messages_of(session),
            "answers": checkin.answers_of(session),
            "message_form": MessageForm(),
            "recap_form": RecapForm(),
        },
    )


def _session(request: TenantRequest, public_id: uuid.UUID) -> Session:
    return selectors.session_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )


def _action_page(
    request: TenantRequest,
    session: Session,
    *,
    form: forms.Form,
    title: str,
    action: Callable[[Mapping[str, Any]], object],
    success: str,
) -> HttpResponse:
    return action_page(
        request,
        form=form,
        action=action,
        success=success,
        then=session.get_absolute_url(),
        context={"session": session, "title": title, "back_url": session.get_absolute_url()},
    )


def _edit_form(request: TenantRequest, session: Session, *, completing: bool) -> EditSessionForm:
    """The edit or complete form, showing what the session already has so that saving it loses
    nothing; the internal note only to whoever may change it (it is not even pre-filled for a
    provider who did not write it)."""
    internal_note = selectors.internal_note_editable(session, request.membership)
    return EditSessionForm(
        request.POST or None,
        organization=request.organization,
        session=session,
        completing=completing,
        internal_note=internal_note,
        initial={
            "duration": session.duration_minutes,
            "review_minutes": session.review_minutes,
            "mode": session.mode,
            "notes": session.notes,
            "internal_note": session.internal_note if internal_note else "",
        },
    )


def _optional(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the form may leave out: absent means "leave it as it is"."""
    return {
        "internal_note": data.get("internal_note"),
        "review_minutes": data.get("review_minutes", services.KEEP),
    }


@tenant_view(*STAFF)
def session_edit(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return _action_page(
        request,
        session,
        form=_edit_form(request, session, completing=False),
        title="Edit the session",
        action=lambda data: services.session_edit(
            membership=request.membership,
            session=session,
            duration=data["duration"],
            notes=data["notes"],
            mode=data["mode"],
            reason=data["reason"],
            **_optional(data),
        ),
        success="Session saved.",
    )


@tenant_view(*STAFF)
def session_complete(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return _action_page(
        request,
        session,
        form=_edit_form(request, session, completing=True),
        title="Log this session",
        action=lambda data: services.session_complete(
            membership=request.membership,
            session=session,
            duration=data["duration"],
            notes=data["notes"],
            mode=data["mode"],
            **_optional(data),
        ),
        success="Session logged.",
    )


@tenant_view(*STAFF)
def session_reschedule(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    tz = request.organization.tz
    return _action_page(
        request,
        session,
        form=RescheduleForm(
            request.POST or None, organization=request.organization, session=session
        ),
        title="Change the date and time",
        action=lambda data: services.session_reschedule(
            membership=request.membership,
            session=session,
            starts_at=datetime.combine(data["date"], data["time"], tzinfo=tz),
            reason=data["reason"],
        ),
        success="Session moved.",
    )


@tenant_view(*STAFF)
def session_cancel(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return _action_page(
        request,
        session,
        form=CancelForm(request.POST or None),
        title="Cancel the session",
        action=lambda data: services.session_cancel(
            membership=request.membership, session=session, reason=data["reason"]
        ),
        success="Session cancelled.",
    )


@tenant_view(*STAFF)
def session_no_show(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return _action_page(
        request,
        session,
        form=NoShowForm(request.POST or None),
        title="Mark a no-show",
        action=lambda data: services.session_no_show(
            membership=request.membership,
            session=session,
            party=data["party"],
            explanation=data["explanation"],
        ),
        success="No-show recorded.",
    )


@tenant_view(Role.ADMIN)
def session_resolve_dispute(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return _action_page(
        request,
        session,
        form=ResolveDisputeForm(
            request.POST or None, organization=request.organization, session=session
        ),
        title="Resolve the dispute",
        action=lambda data: services.session_resolve_dispute(
            membership=request.membership,
            session=session,
            resolution=data["resolution"],
            note=data["note"],
            duration=data["duration"],
            review_minutes=data.get("review_minutes", services.KEEP),
        ),
        success="Dispute resolved; the student was told.",
    )


@require_POST
@tenant_view(*STAFF)
def session_send_report(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return run_action(
        request,
        lambda: services.session_send_report(membership=request.membership, session=session),
        success="The report was sent to the student and guardian.",
        then=session.get_absolute_url(),
    )


@require_POST
@tenant_view(Role.STUDENT)
def session_confirm(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return run_action(
        request,
        lambda: services.session_confirm(
            membership=request.membership,
            session=session,
            recap=request.POST.get("recap", "")[:5000],
        ),
        success="Thank you for confirming.",
        then=session.get_absolute_url(),
    )


@tenant_view(Role.STUDENT)
def session_dispute(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    session = _session(request, public_id)
    return _action_page(
        request,
        session,
        form=DisputeForm(request.POST or None),
        title="Dispute this session",
        action=lambda data: services.session_dispute(
            membership=request.membership, session=session, reason=data["reason"]
        ),
        success="Your message was sent to the center.",
    )
