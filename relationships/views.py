import json
import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from grants.services import AlreadyApplied, InsufficientHours
from matchpal.errors import DomainError
from matchpal.models import Role
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from relationships import selectors, services
from relationships.filters import RelationshipFilter
from relationships.forms import (
    AllocationForm,
    OptionalReasonForm,
    ProposeForm,
    RatesForm,
    ReasonForm,
)
from relationships.models import Relationship, Unit
from sessions_app import selectors as session_selectors


@tenant_view(Role.ADMIN, Role.PROVIDER)
def relationship_list(request: TenantRequest) -> HttpResponse:
    filterset = RelationshipFilter(
        request.GET,
        organization=request.organization,
        membership=request.membership,
        queryset=selectors.relationship_list(
            organization=request.organization, membership=request.membership
        ).order_by("-created_at", "-id"),
    )
    page = Paginator(filterset.qs, settings.MATCHPAL_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "relationships/list.html", {"filter": filterset, "page": page})


@admin_required
def relationship_propose(request: TenantRequest) -> HttpResponse:
    initial = {}
    for field in ("student", "provider"):
        if request.GET.get(field):
            initial[field] = request.GET[field]
    form = ProposeForm(request.POST or None, organization=request.organization, initial=initial)
    # "Show the rates" re-renders the form with the rates that would be saved (no script needed).
    previewing = "preview" in request.POST
    if request.method == "POST" and form.is_valid() and not previewing:
        data = form.cleaned_data
        try:
            relationship = services.relationship_propose(
                actor=request.user,
                organization=request.organization,
                student=data["student"],
                provider=data["provider"],
                service_type=data["service_type"],
                quantity=form.quantity(),
                provider_pay_rate=data["provider_pay_rate"],
                client_rate=data["client_rate"],
                unit=form.unit(),
                idempotency_key=form.idempotency_key("propose"),
            )
        except AlreadyApplied as notice:
            messages.info(request, notice.message)
            return redirect("relationships:list", org_slug=request.organization.slug)
        except InsufficientHours as error:
            form.add_error("amount", error.message)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                f"{relationship.provider.name} was asked to work with {relationship.student.name}.",
            )
            return redirect(relationship.get_absolute_url())
    return render(
        request,
        "relationships/propose.html",
        {
            "form": form,
            "rates": form.rates() if request.method == "POST" else None,
            "defaults": json.dumps(form.default_rates()),
        },
    )


@tenant_view()
def relationship_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    relationship = selectors.relationship_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )
    sessions = Paginator(
        relationship.sessions.filter(organization=request.organization)
        .select_related("logged_by")
        .with_money()
        .order_by("-starts_at", "-id"),
        settings.MATCHPAL_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    history = relationship.status_changes.filter(organization=request.organization).select_related(
        "actor"
    )
    return render(
        request,
        "relationships/detail.html",
        {
            "relationship": relationship,
            "sessions": sessions,
            "history": history,
            "is_own_provider": relationship.provider.user_id == request.user.pk,
            "allocated": relationship.held + relationship.consumed,
            "sees_client_amount": session_selectors.sees_client_amount(
                request.membership, request.organization
            ),
        },
    )


def _act(
    request: TenantRequest,
    public_id: uuid.UUID,
    action: Callable[[Relationship, dict[str, Any]], object],
    success: str,
    form_class: type[forms.Form] | None = None,
    template: str | None = None,
    title: str = "",
    form_kwargs: Callable[[Relationship], dict[str, Any]] | None = None,
) -> HttpResponse:
    relationship = selectors.relationship_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )
    extra = form_kwargs(relationship) if form_kwargs else {}
    form = form_class(request.POST or None, **extra) if form_class else None
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            action(relationship, form.cleaned_data if form else {})
        except DomainError as error:
            if form is None or template is None:
                messages.error(request, error.message)
                return redirect(relationship.get_absolute_url())
            form.add_error(None, error.message)
        else:
            messages.success(request, success)
            return redirect(relationship.get_absolute_url())
    return render(
        request,
        template or "relationships/reason_form.html",
        {"form": form, "relationship": relationship, "title": title},
    )


@require_POST
@tenant_view(Role.ADMIN, Role.PROVIDER)
def relationship_accept(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        lambda r, _: services.relationship_accept(actor=request.user, relationship=r),
        "You accepted the proposal.",
    )


@tenant_view(Role.ADMIN, Role.PROVIDER)
def relationship_decline(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        lambda r, d: services.relationship_decline(
            actor=request.user, relationship=r, reason=d["reason"]
        ),
        "The proposal was declined.",
        form_class=OptionalReasonForm,
        template="relationships/reason_form.html",
        title="Decline the proposal",
    )


@admin_required
def relationship_cancel(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        lambda r, d: services.relationship_cancel(
            actor=request.user, relationship=r, reason=d["reason"]
        ),
        "The relationship was cancelled; its reserved hours are free to book again.",
        form_class=ReasonForm,
        template="relationships/reason_form.html",
        title="Cancel the relationship",
    )


@admin_required
def relationship_complete(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        public_id,
        lambda r, d: services.relationship_complete(
            actor=request.user, relationship=r, reason=d["reason"]
        ),
        "The relationship is completed; its reserved hours are free to book again.",
        form_class=OptionalReasonForm,
        template="relationships/reason_form.html",
        title="Complete the relationship",
    )


@admin_required
def relationship_allocation(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    # A relationship counting sessions takes the amount as whole sessions, with no unit to pick.
    return _act(
        request,
        public_id,
        lambda r, d: services.relationship_change_allocation(
            actor=request.user,
            relationship=r,
            quantity=d["amount"]
            if r.unit == Unit.SESSIONS or d.get("measure") == "minutes"
            else d["amount"] * 60,
            reason=d["reason"],
        ),
        "The allocation was changed.",
        form_class=AllocationForm,
        template="relationships/reason_form.html",
        title="Change the allocation",
        form_kwargs=lambda r: {"unit": r.unit},
    )


@admin_required
def relationship_rates(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    """Change the relationship's rates with a reason; shows their history."""
    relationship = selectors.relationship_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )
    form = RatesForm(
        request.POST or None,
        initial={
            "provider_pay_rate": relationship.provider_pay_rate,
            "client_rate": relationship.client_rate,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.relationship_change_rates(
                actor=request.user,
                relationship=relationship,
                provider_pay_rate=form.cleaned_data["provider_pay_rate"],
                client_rate=form.cleaned_data["client_rate"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, "The rates were changed; sessions already logged keep their rates."
            )
            return redirect(relationship.get_absolute_url())
    return render(
        request,
        "relationships/rates.html",
        {
            "form": form,
            "relationship": relationship,
            "changes": relationship.rate_changes.filter(
                organization=request.organization
            ).select_related("actor"),
        },
    )
