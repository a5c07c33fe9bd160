"""The admin's WooCommerce console: stores and their setup, order errors, deliveries."""

import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from integrations.woocommerce import selectors, services
from integrations.woocommerce.filters import DeliveryFilter, OrderErrorFilter
from integrations.woocommerce.forms import LinkStudentForm, MapProductForm, ResolveForm, StoreForm
from integrations.woocommerce.models import ErrorKind, Store
from integrations.woocommerce.tasks import sync_store
from matchpal.actions import run_action
from matchpal.broker import enqueue
from matchpal.pagination import paginate
from matchpal.tenancy import TenantRequest, admin_required


@admin_required
def store_list(request: TenantRequest) -> HttpResponse:
    stores = selectors.store_list(organization=request.organization)
    open_errors = selectors.open_error_count(organization=request.organization)
    return render(
        request, "woocommerce/store_list.html", {"stores": stores, "open_errors": open_errors}
    )


@admin_required
def store_create(request: TenantRequest) -> HttpResponse:
    form = StoreForm(request.POST or None, instance=Store(organization=request.organization))
    if request.method == "POST" and form.is_valid():
        store = services.store_create(
            actor=request.user, organization=request.organization, **form.cleaned_data
        )
        messages.success(
            request,
            "The store is connected: finish the setup in WooCommerce "
            "with the URL and secret below.",
        )
        return redirect(store.get_absolute_url())
    return render(request, "woocommerce/store_form.html", {"form": form, "store": None})


@admin_required
def store_edit(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    store = selectors.store_get(organization=request.organization, public_id=public_id)
    form = StoreForm(request.POST or None, instance=store)
    if request.method == "POST" and form.is_valid():
        services.store_update(actor=request.user, store=store, **form.cleaned_data)
        messages.success(request, "Store settings saved.")
        return redirect(store.get_absolute_url())
    return render(request, "woocommerce/store_form.html", {"form": form, "store": store})


@admin_required
def store_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    store = selectors.store_get(organization=request.organization, public_id=public_id)
    return render(
        request,
        "woocommerce/store_detail.html",
        {
            "store": store,
            "delivery_url": request.build_absolute_uri(store.delivery_path),
            "recent": selectors.delivery_list(organization=request.organization).filter(
                store=store
            )[:10],
        },
    )


@admin_required
def error_list(request: TenantRequest) -> HttpResponse:
    data = request.GET.copy()
    data.setdefault("state", "open")
    filterset = OrderErrorFilter(
        data, queryset=selectors.error_list(organization=request.organization)
    )
    page = paginate(request, filterset.qs)
    return render(request, "woocommerce/error_list.html", {"filter": filterset, "page": page})


@admin_required
def error_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    error = selectors.error_get(organization=request.organization, public_id=public_id)
    org = request.organization
    forms = {
        "resolve": ResolveForm(request.POST if request.POST.get("action") == "resolve" else None),
        "map": MapProductForm(
            request.POST if request.POST.get("action") == "map" else None, organization=org
        ),
        "link": LinkStudentForm(
            request.POST if request.POST.get("action") == "link" else None, organization=org
        ),
    }
    action = request.POST.get("action")
    if request.method == "POST" and action in forms and forms[action].is_valid():
        data = forms[action].cleaned_data

        def run() -> str:
            if action == "resolve":
                services.error_resolve(actor=request.user, error=error, note=data["note"])
                return "marked resolved"  # shown as "Done: marked resolved."
            if action == "map":
                return services.error_map_product(
                    actor=request.user, error=error, package=data["package"]
                )
            return services.error_link_student(
                actor=request.user, error=error, student=data["student"]
            )

        done = run_action(
            request,
            run,
            form=forms[action],
            field=None,
            success=lambda outcome: f"Done: {outcome}.",
            then=reverse("woocommerce:error_list", args=[org.slug]),
        )
        if done:
            return done
    return render(
        request,
        "woocommerce/error_detail.html",
        {
            "error": error,
            "forms": forms,
            "can_map": error.kind == ErrorKind.UNKNOWN_PRODUCT and error.resolved_at is None,
            "can_link": error.kind == ErrorKind.CUSTOMER_NOT_FOUND and error.resolved_at is None,
        },
    )


@admin_required
def delivery_list(request: TenantRequest) -> HttpResponse:
    filterset = DeliveryFilter(
        request.GET, queryset=selectors.delivery_list(organization=request.organization)
    )
    page = paginate(request, filterset.qs)
    return render(request, "woocommerce/delivery_list.html", {"filter": filterset, "page": page})


@admin_required
def delivery_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    delivery = selectors.delivery_get(organization=request.organization, public_id=public_id)
    return render(request, "woocommerce/delivery_detail.html", {"delivery": delivery})


@require_POST
@admin_required
def store_sync(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    store = selectors.store_get(organization=request.organization, public_id=public_id)
    if not store.has_api_keys:
        messages.error(request, "Add the store's REST API keys first.")
    elif enqueue(sync_store, store.pk):
        messages.success(request, "Catching up on orders in the background.")
    else:
        messages.error(
            request,
            "The catch-up could not start. It runs on its own every 15 minutes; "
            "try again in a few minutes if you need it sooner.",
        )
    return redirect(store.get_absolute_url())
