import uuid
from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from matchpal import confirmation
from matchpal.actions import FROM_ERROR, action_page, run_action
from matchpal.bounds import in_range
from matchpal.htmx import render_page
from matchpal.models import Role
from matchpal.pagination import only_paged, paginate
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from providers import selectors, services
from providers.availability import days, openings
from providers.filters import ProviderFilter
from providers.forms import ExceptionForm, OwnProfileForm, ProviderForm, WindowForm
from providers.models import Provider, ProviderStatus


@admin_required
def provider_list(request: TenantRequest) -> HttpResponse:
    org = request.organization
    if not only_paged(request):
        filterset = ProviderFilter(
            request.GET, queryset=selectors.provider_rows(organization=org), organization=org
        )
        rows = filterset.qs
        # Only the service type's filter joins a provider to several rows.
        if filterset.form.cleaned_data.get("service_type") is not None:
            rows = rows.distinct()
        page = paginate(request, rows)
    else:
        # Unfiltered, the list's statements are compiled once; the filter set is its form.
        filterset = ProviderFilter(request.GET, queryset=Provider.objects.none(), organization=org)
        page = selectors.unfiltered_list.paginate(request, organization=org.pk)
    selectors.with_service_types(list(page.object_list), organization=org)
    return render_page(
        request, "providers/list.html", {"filter": filterset, "page": page}, partial="results"
    )


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


# Availability (docs/scheduling.md): the provider keeps their own, an admin anyone's.


def _editable_provider(request: TenantRequest, public_id: uuid.UUID) -> Provider:
    provider = selectors.provider_get(organization=request.organization, public_id=public_id)
    if not request.membership.is_admin and provider.user_id != request.user.pk:
        raise PermissionDenied
    return provider


def monday_of(request: TenantRequest) -> date:
    """The week the page shows: `?week=` (any day of it), else this week, in the center's
    zone. A malformed or out-of-range date is this week."""
    today = timezone.localdate(timezone=request.organization.tz)
    try:
        day = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = today
    if not in_range(day):
        day = today
    return day - timedelta(days=day.weekday())


@tenant_view(Role.ADMIN, Role.PROVIDER)
def availability(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    provider = _editable_provider(request, public_id)
    monday = monday_of(request)
    org = request.organization
    windows, exceptions = selectors.availability_of(
        organization=org,
        provider_ids=[provider.pk],
        first_day=monday,
        last_day=monday + timedelta(days=6),
    )
    opens = openings(
        windows=windows, exceptions=exceptions, first_day=monday, day_count=7, tz=org.tz
    ).get(provider.pk, [])
    week = [
        (
            day,
            [o for o in opens if timezone.localtime(o.start, org.tz).date() == day],
            [e for e in exceptions if e.date == day],
        )
        for day in days(monday, 7)
    ]
    context = {
        "provider": provider,
        "week": week,
        "monday": monday,
        "previous": monday - timedelta(days=7),
        "next": monday + timedelta(days=7),
        "windows": windows,
        "exceptions": list(
            selectors.exceptions_ahead(
                organization=org, provider=provider, since=timezone.localdate(timezone=org.tz)
            )
        ),
        "window_form": WindowForm(),
        "exception_form": ExceptionForm(),
    }
    return render(request, "providers/availability.html", context)


def _availability_url(request: TenantRequest, provider: Provider) -> str:
    return reverse("providers:availability", args=[request.organization.slug, provider.public_id])


@tenant_view(Role.ADMIN, Role.PROVIDER)
def availability_window_add(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    provider = _editable_provider(request, public_id)
    return action_page(
        request,
        form=WindowForm(request.POST or None),
        action=lambda data: services.availability_window_add(
            membership=request.membership, provider=provider, **data
        ),
        success="The weekly hours were added.",
        then=_availability_url(request, provider),
        field=FROM_ERROR,
        context={
            "title": f"Add weekly hours for {provider.name}",
            "submit": "Add",
            "back_url": _availability_url(request, provider),
        },
    )


@tenant_view(Role.ADMIN, Role.PROVIDER)
def availability_exception_add(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    provider = _editable_provider(request, public_id)
    return action_page(
        request,
        form=ExceptionForm(request.POST or None),
        action=lambda data: services.availability_exception_add(
            membership=request.membership, provider=provider, **data
        ),
        success=lambda exception: f"{exception} was added.",
        then=_availability_url(request, provider),
        field=FROM_ERROR,
        context={
            "title": f"Add time off or extra hours for {provider.name}",
            "submit": "Add",
            "back_url": _availability_url(request, provider),
        },
    )


@require_POST
@tenant_view(Role.ADMIN, Role.PROVIDER)
def availability_window_remove(
    request: TenantRequest, public_id: uuid.UUID, window_id: uuid.UUID
) -> HttpResponse:
    provider = _editable_provider(request, public_id)
    window = selectors.window_get(
        organization=request.organization, provider=provider, public_id=window_id
    )
    return run_action(
        request,
        lambda: services.availability_window_remove(membership=request.membership, window=window),
        success=f"The {window} hours were removed; sessions booked in them stay booked.",
        then=_availability_url(request, provider),
    )


@require_POST
@tenant_view(Role.ADMIN, Role.PROVIDER)
def availability_exception_remove(
    request: TenantRequest, public_id: uuid.UUID, exception_id: uuid.UUID
) -> HttpResponse:
    provider = _editable_provider(request, public_id)
    exception = selectors.exception_get(
        organization=request.organization, provider=provider, public_id=exception_id
    )
    return run_action(
        request,
        lambda: services.availability_exception_remove(
            membership=request.membership, exception=exception
        ),
        success=f"{exception} was removed.",
        then=_availability_url(request, provider),
    )
