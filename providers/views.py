import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from matchpal import confirmation
from matchpal.actions import run_action
from matchpal.models import Role
from matchpal.pagination import paginate
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from providers import selectors, services
from providers.filters import ProviderFilter
from providers.forms import OwnProfileForm, ProviderForm
from providers.models import ProviderStatus


@admin_required
def provider_list(request: TenantRequest) -> HttpResponse:
    filterset = ProviderFilter(
        request.GET,
        queryset=selectors.provider_list(organization=request.organization),
        organization=request.organization,
    )
    page = paginate(request, filterset.qs.distinct())
    return render(request, "providers/list.html", {"filter": filterset, "page": page})


@admin_required
def provider_create(request: TenantRequest) -> HttpResponse:
    form = ProviderForm(request.POST or None, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.provider_create(
                actor=request.user, organization=request.organization, **form.cleaned_data
            ),
            form=form,
            success=lambda provider: f"{provider.name} was added.",
            then=lambda provider: provider.get_absolute_url(),
        )
        if done:
            return done
    return render(request, "providers/form.html", {"form": form, "provider": None})


@tenant_view(Role.ADMIN, Role.PROVIDER)
def provider_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    provider = selectors.provider_get(organization=request.organization, public_id=public_id)
    if not request.membership.is_admin and provider.user_id != request.user.pk:
        raise PermissionDenied
    invitations = (
        provider.invitations.filter(organization=request.organization).order_by("-created_at")[:5]
        if request.membership.is_admin
        else []
    )
    return render(
        request, "providers/detail.html", {"provider": provider, "invitations": invitations}
    )


@admin_required
def provider_edit(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    provider = selectors.provider_get(organization=request.organization, public_id=public_id)
    form = ProviderForm(request.POST or None, instance=provider, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.provider_update(
                actor=request.user, provider=provider, **form.cleaned_data
            ),
            form=form,
            success=lambda _: f"{provider.name} was saved.",
            then=provider.get_absolute_url(),
        )
        if done:
            return done
    return render(request, "providers/form.html", {"form": form, "provider": provider})


@require_POST
@admin_required
def provider_set_status(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    provider = selectors.provider_get(organization=request.organization, public_id=public_id)
    active = request.POST.get("status") == ProviderStatus.ACTIVE
    if not active and not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=f"Deactivate {provider.name}",
            consequence=f"{provider.name} can no longer be proposed for new relationships. "
            "Their relationships and sessions stay; you can reactivate them later.",
            action_label="Deactivate",
            cancel_url=provider.get_absolute_url(),
        )
    services.provider_set_status(
        actor=request.user,
        provider=provider,
        status=ProviderStatus.ACTIVE if active else ProviderStatus.INACTIVE,
    )
    messages.success(request, f"{provider.name} is now {'active' if active else 'inactive'}.")
    return redirect(provider.get_absolute_url())


@require_POST
@admin_required
def provider_invite(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    provider = selectors.provider_get(organization=request.organization, public_id=public_id)
    return run_action(
        request,
        lambda: services.provider_invite(
            actor=request.user, provider=provider, base_url=request.build_absolute_uri("/")
        ),
        success=lambda invitation: f"An invitation was sent to {invitation.email}.",
        then=provider.get_absolute_url(),
    )


@tenant_view(Role.PROVIDER)
def my_profile(request: TenantRequest) -> HttpResponse:
    provider = selectors.provider_for_user(organization=request.organization, user=request.user)
    if provider is None:
        return render(request, "providers/me.html", {"provider": None, "form": None})
    form = OwnProfileForm(request.POST or None, instance=provider)
    if request.method == "POST" and form.is_valid():
        services.provider_update_own_profile(
            actor=request.user, provider=provider, **form.cleaned_data
        )
        messages.success(request, "Your profile was saved.")
        return redirect(reverse("providers:me", args=[request.organization.slug]))
    return render(request, "providers/me.html", {"provider": provider, "form": form})
