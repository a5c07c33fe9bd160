import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from grants.services import AlreadyApplied, InsufficientHours
from matchpal.actions import FROM_ERROR, action_page, run_action
from matchpal.htmx import render_page, wants_partial
from matchpal.models import Role
from matchpal.pagination import only_paged, paginate
from matchpal.search import MATCHES, matching, usable_text
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from relationships import selectors, services
from relationships.filters import RelationshipFilter, people_of
from relationships.forms import (
    AllocationForm,
    OptionalReasonForm,
    ProposeForm,
    RatesForm,
    ReasonForm,
)
from relationships.models import Relationship
from sessions_app import selectors as session_selectors


@tenant_view(Role.ADMIN, Role.PROVIDER)
def relationship_list(request: TenantRequest) -> HttpResponse:
    if not only_paged(request):
        filterset = RelationshipFilter(
            request.GET,
            organization=request.organization,
            membership=request.membership,
            queryset=selectors.relationship_list(
                organization=request.organization, membership=request.membership
            ).order_by("-created_at", "-id"),
        )
        page = paginate(request, filterset.qs)
    else:
        # Unfiltered, the list's statements are compiled once; the filter set is its form.
        filterset = RelationshipFilter(
            request.GET,
            organization=request.organization,
            membership=request.membership,
            queryset=Relationship.objects.none(),
        )
        page = selectors.unfiltered_page(request, membership=request.membership)
    return render_page(
        request, "relationships/list.html", {"filter": filterset, "page": page}, partial="results"
    )


@tenant_view(Role.ADMIN, Role.PROVIDER)
def search_students(request: TenantRequest) -> HttpResponse:
    """The students a search-as-you-type field offers for what is typed (htmx)."""
    return _matches(request, "students", noun="student")


@tenant_view(Role.ADMIN, Role.PROVIDER)
def search_providers(request: TenantRequest) -> HttpResponse:
    """The providers a search-as-you-type field offers for what is typed (htmx)."""
    return _matches(request, "providers", noun="provider")


def _matches(request: TenantRequest, kind: str, *, noun: str) -> HttpResponse:
    """At most `MATCHES` of the people the member may pick in a filter (`people_of`: a
    provider finds only the people of their own relationships), active ones only with
    `?active=1` (forms that pair); the text is the box's own parameter (`<field>_search`),
    sent by htmx, or `q`."""
    people = people_of(organization=request.organization, membership=request.membership)[kind]
    if request.GET.get("active"):
        people = people.filter(status="active")
    typed = next((v for k, v in request.GET.items() if k == "q" or k.endswith("_search")), "")
    text = usable_text(typed)
    found = list(matching(people, text)[: MATCHES + 1])
    context = {
        "matches": found[:MATCHES],
        "more": len(found) > MATCHES,
        "text": text,
        "noun": noun,
        "rates": kind == "providers" and request.membership.is_admin,
    }
    return render(request, "partials/search_matches.html", context)


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
        done = run_action(
            request,
            lambda: services.relationship_propose(
                membership=request.membership,
                organization=request.organization,
                student=data["student"],
                provider=data["provider"],
                service_type=data["service_type"],
                quantity=form.quantity(),
                provider_pay_rate=data["provider_pay_rate"],
                client_rate=data["client_rate"],
                unit=form.unit(),
                idempotency_key=form.idempotency_key("propose"),
            ),
            form=form,
            # Too few hours is about the amount asked for.
            field=lambda error: "amount" if isinstance(error, InsufficientHours) else FROM_ERROR,
            notices=(AlreadyApplied,),
            success=lambda relationship: (
                f"{relationship.provider.name} was asked to work with {relationship.student.name}."
            ),
            then=lambda relationship: relationship.get_absolute_url(),
            otherwise=reverse("relationships:list", args=[request.organization.slug]),
        )
        if done:
            return done
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
    sessions = session_selectors.relationship_sessions_page(
        request, relationship=relationship, membership=request.membership
    )
    history = selectors.status_history(relationship=relationship)
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


def _action_page(
    request: TenantRequest,
    relationship: Relationship,
    *,
    form: forms.Form | None = None,
    title: str = "",
    action: Callable[[Mapping[str, Any]], object],
    success: str,
) -> HttpResponse:
    return action_page(
        request,
        form=form,
        action=action,
        success=success,
        then=relationship.get_absolute_url(),
        context={
            "relationship": relationship,
            "title": title,
            "back_url": relationship.get_absolute_url(),
        },
    )


def _relationship(request: TenantRequest, public_id: uuid.UUID) -> Relationship:
    return selectors.relationship_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )


@require_POST
@tenant_view(Role.ADMIN, Role.PROVIDER)
def relationship_accept(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    relationship = _relationship(request, public_id)
    # Accepted from the provider's home through htmx: back to the home's lists, shown in place.
    from_home = wants_partial(request, "work")
    return run_action(
        request,
        lambda: services.relationship_accept(
            membership=request.membership, relationship=relationship
        ),
        success="You accepted the proposal.",
        then=reverse("org_home", args=[request.organization.slug])
        if from_home
        else relationship.get_absolute_url(),
    )


@tenant_view(Role.ADMIN, Role.PROVIDER)
def relationship_decline(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    relationship = _relationship(request, public_id)
    success = "The proposal was declined."
    if request.method == "POST" and wants_partial(request, "work"):
        # Declined from the provider's home through htmx, without a reason: back to the home's
        # lists, shown in place, with the outcome (or the refusal) as a message.
        return run_action(
            request,
            lambda: services.relationship_decline(
                membership=request.membership, relationship=relationship
            ),
            success=success,
            then=reverse("org_home", args=[request.organization.slug]),
        )
    return _action_page(
        request,
        relationship,
        form=OptionalReasonForm(request.POST or None),
        title="Decline the proposal",
        action=lambda data: services.relationship_decline(
            membership=request.membership, relationship=relationship, reason=data["reason"]
        ),
        success=success,
    )


@admin_required
def relationship_cancel(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    relationship = _relationship(request, public_id)
    return _action_page(
        request,
        relationship,
        form=ReasonForm(request.POST or None),
        title="Cancel the relationship",
        action=lambda data: services.relationship_cancel(
            membership=request.membership, relationship=relationship, reason=data["reason"]
        ),
        success="The relationship was cancelled; its reserved hours are free to book again.",
    )


@admin_required
def relationship_complete(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    relationship = _relationship(request, public_id)
    return _action_page(
        request,
        relationship,
        form=OptionalReasonForm(request.POST or None),
        title="Complete the relationship",
        action=lambda data: services.relationship_complete(
            membership=request.membership, relationship=relationship, reason=data["reason"]
        ),
        success="The relationship is completed; its reserved hours are free to book again.",
    )


@admin_required
def relationship_allocation(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    # A relationship counting sessions takes the amount as whole sessions, with no unit to pick.
    relationship = _relationship(request, public_id)
    form = AllocationForm(request.POST or None, unit=relationship.unit)
    return _action_page(
        request,
        relationship,
        form=form,
        title="Change the allocation",
        action=lambda data: services.relationship_change_allocation(
            membership=request.membership,
            relationship=relationship,
            quantity=form.quantity(),
            reason=data["reason"],
        ),
        success="The allocation was changed.",
    )


@admin_required
def relationship_rates(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    """Change the relationship's rates with a reason; shows their history."""
    relationship = _relationship(request, public_id)
    form = RatesForm(
        request.POST or None,
        initial={
            "provider_pay_rate": relationship.provider_pay_rate,
            "client_rate": relationship.client_rate,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        done = run_action(
            request,
            lambda: services.relationship_change_rates(
                membership=request.membership,
                relationship=relationship,
                provider_pay_rate=data["provider_pay_rate"],
                client_rate=data["client_rate"],
                reason=data["reason"],
            ),
            form=form,
            field=None,
            success="The rates were changed; sessions already logged keep their rates.",
            then=relationship.get_absolute_url(),
        )
        if done:
            return done
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
