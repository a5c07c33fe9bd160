import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from matchpal.errors import DomainError
from matchpal.models import Role
from matchpal.tenancy import TenantRequest, tenant_view
from relationships.models import RelationshipStatus
from relationships.selectors import relationship_get
from sessions_app import selectors, services
from sessions_app.filters import SessionFilter
from sessions_app.forms import (
    CancelForm,
    ChooseRelationshipForm,
    DisputeForm,
    EditSessionForm,
    LogSessionForm,
    NoShowForm,
    RescheduleForm,
    ResolveDisputeForm,
)
from sessions_app.models import Session

STAFF = (Role.ADMIN, Role.PROVIDER)


@tenant_view(*STAFF)
def session_list(request: TenantRequest) -> HttpResponse:
    filterset = SessionFilter(
        request.GET,
        organization=request.organization,
        membership=request.membership,
        queryset=selectors.session_list(
            organization=request.organization, membership=request.membership
        ),
    )
    page = Paginator(filterset.qs, settings.MATCHPAL_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "sessions_app/list.html", {"filter": filterset, "page": page})


@tenant_view(*STAFF)
def session_log(request: TenantRequest, relationship_id: uuid.UUID) -> HttpResponse:
    relationship = relationship_get(
        organization=request.organization, membership=request.membership, public_id=relationship_id
    )
    # "Schedule a session" on the sessions list comes here with the box already ticked.
    initial = {"schedule": True} if request.GET.get("schedule") else None
    form = LogSessionForm(
        request.POST or None,
        organization=request.organization,
        paired_at=relationship.paired_at,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = services.session_log(
                actor=request.user,
                relationship=relationship,
                starts_at=form.starts_at(),
                duration=data["duration"],
                kind=data["kind"],
                mode=data["mode"],
                notes=data["notes"],
                internal_note=data["internal_note"],
                review_minutes=data["review_minutes"],
                scheduled=data["schedule"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, "Session scheduled." if data["schedule"] else "Session logged."
            )
            return redirect(session.get_absolute_url())
    return render(request, "sessions_app/log.html", {"form": form, "relationship": relationship})


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
        },
    )


def _act(
    request: TenantRequest,
    public_id: uuid.UUID,
    *,
    action: Callable[[Session, Any], Any],
    success: str,
    make_form: Callable[[Session], Any] | None = None,
    title: str = "",
    roles: tuple[str, ...] = STAFF,
) -> HttpResponse:
    session = selectors.session_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )
    if request.membership.role not in roles:
        raise PermissionDenied
    form = make_form(session) if make_form else None
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            action(session, form.cleaned_data if form else {})
        except DomainError as error:
            if form is None:
                messages.error(request, error.message)
                return redirect(session.get_absolute_url())
            form.add_error(None, error.message)
        else:
            messages.success(request, success)
            return redirect(session.get_absolute_url())
    if form is None:
        return redirect(session.get_absolute_url())
    return render(
        request, "sessions_app/action_form.html", {"form": form, "session": session, "title": title}
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


def _optional(data: dict[str, Any]) -> dict[str, Any]:
    """The fields the form may leave out: absent means "leave it as it is"."""
    return {
        "internal_note": data.get("internal_note"),
        "review_minutes": data.get("review_minutes", services.KEEP),
    }


@tenant_view(*STAFF)
def session_edit(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        make_form=lambda s: _edit_form(request, s, completing=False),
        title="Edit the session",
        success="Session saved.",
        action=lambda s, d: services.session_edit(
            actor=request.user,
            session=s,
            duration=d["duration"],
            notes=d["notes"],
            mode=d["mode"],
            reason=d["reason"],
            **_optional(d),
        ),
    )


@tenant_view(*STAFF)
def session_complete(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        make_form=lambda s: _edit_form(request, s, completing=True),
        title="Log this session",
        success="Session logged.",
        action=lambda s, d: services.session_complete(
            actor=request.user,
            session=s,
            duration=d["duration"],
            notes=d["notes"],
            mode=d["mode"],
            **_optional(d),
        ),
    )


@tenant_view(*STAFF)
def session_reschedule(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    tz = request.organization.tz
    return _act(
        request,
        public_id,
        make_form=lambda s: RescheduleForm(
            request.POST or None, organization=request.organization, session=s
        ),
        title="Change the date and time",
        success="Session moved.",
        action=lambda s, d: services.session_reschedule(
            actor=request.user,
            session=s,
            starts_at=datetime.combine(d["date"], d["time"], tzinfo=tz),
            reason=d["reason"],
        ),
    )


@tenant_view(*STAFF)
def session_cancel(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        make_form=lambda s: CancelForm(request.POST or None),
        title="Cancel the session",
        success="Session cancelled.",
        action=lambda s, d: services.session_cancel(
            actor=request.user, session=s, reason=d["reason"]
        ),
    )


@tenant_view(*STAFF)
def session_no_show(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        make_form=lambda s: NoShowForm(request.POST or None),
        title="Mark a no-show",
        success="No-show recorded.",
        action=lambda s, d: services.session_no_show(
            actor=request.user, session=s, party=d["party"], explanation=d["explanation"]
        ),
    )


@tenant_view(Role.ADMIN)
def session_resolve_dispute(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        roles=(Role.ADMIN,),
        make_form=lambda s: ResolveDisputeForm(
            request.POST or None, organization=request.organization, session=s
        ),
        title="Resolve the dispute",
        success="Dispute resolved; the student was told.",
        action=lambda s, d: services.session_resolve_dispute(
            actor=request.user,
            session=s,
            resolution=d["resolution"],
            note=d["note"],
            duration=d["duration"],
            review_minutes=d.get("review_minutes", services.KEEP),
        ),
    )


@require_POST
@tenant_view(*STAFF)
def session_send_report(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        success="The report was sent to the student and guardian.",
        action=lambda s, d: services.session_send_report(actor=request.user, session=s),
    )


@require_POST
@tenant_view(Role.STUDENT)
def session_confirm(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        roles=(Role.STUDENT,),
        success="Thank you for confirming.",
        action=lambda s, d: services.session_confirm(actor=request.user, session=s),
    )


@tenant_view(Role.STUDENT)
def session_dispute(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        roles=(Role.STUDENT,),
        make_form=lambda s: DisputeForm(request.POST or None),
        title="Dispute this session",
        success="Your message was sent to the center.",
        action=lambda s, d: services.session_dispute(
            actor=request.user, session=s, reason=d["reason"]
        ),
    )
