import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from matchpal.pagination import paginate
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from notifications import kinds, selectors, services
from notifications.filters import EmailLogFilter
from notifications.forms import EmailChoicesForm


@tenant_view()
def inbox(request: TenantRequest) -> HttpResponse:
    page = paginate(request, selectors.inbox(membership=request.membership))
    return render(request, "notifications/inbox.html", {"page": page})


@require_POST
@tenant_view()
def notice_open(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    notice = selectors.notice_get(membership=request.membership, public_id=public_id)
    link = services.notice_open(membership=request.membership, notice=notice)
    # Links are the app's own paths; anything else (an old row, a typo) opens the inbox.
    if link and url_has_allowed_host_and_scheme(link, allowed_hosts=None):
        return redirect(link)
    return redirect("notifications:inbox", org_slug=request.organization.slug)


@require_POST
@tenant_view()
def notices_read_all(request: TenantRequest) -> HttpResponse:
    count = services.notices_read_all(membership=request.membership)
    if count:
        messages.success(request, f"{count} notice{'' if count == 1 else 's'} marked read.")
    return redirect("notifications:inbox", org_slug=request.organization.slug)


@tenant_view()
def preferences(request: TenantRequest) -> HttpResponse:
    membership = request.membership
    form = EmailChoicesForm(
        # Every box unticked posts nothing at all: still a submitted form.
        request.POST if request.method == "POST" else None,
        kinds=kinds.for_role(membership.role),
        initial_choices=selectors.member_choices(membership=membership),
    )
    if request.method == "POST" and form.is_valid():
        services.preferences_save(membership=membership, choices=form.choices())
        messages.success(request, "Email preferences saved.")
        return redirect("notifications:preferences", org_slug=request.organization.slug)
    return render(request, "notifications/preferences.html", {"form": form})


@admin_required
def center_defaults(request: TenantRequest) -> HttpResponse:
    form = EmailChoicesForm(
        # Every box unticked posts nothing at all: still a submitted form.
        request.POST if request.method == "POST" else None,
        kinds=list(kinds.KINDS.values()),
        initial_choices=selectors.center_choices(organization=request.organization),
    )
    if request.method == "POST" and form.is_valid():
        services.center_defaults_save(membership=request.membership, choices=form.choices())
        messages.success(request, "The center's email defaults are saved.")
        return redirect("notifications:center_defaults", org_slug=request.organization.slug)
    return render(
        request,
        "notifications/center_defaults.html",
        {"form": form, "roles": {kind.key: sorted(kind.roles) for kind in kinds.KINDS.values()}},
    )


@admin_required
def email_list(request: TenantRequest) -> HttpResponse:
    filterset = EmailLogFilter(
        request.GET, queryset=selectors.email_log(organization=request.organization)
    )
    page = paginate(request, filterset.qs)
    return render(request, "notifications/email_list.html", {"filter": filterset, "page": page})


@admin_required
def email_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    delivery = selectors.email_get(organization=request.organization, public_id=public_id)
    return render(
        request,
        "notifications/email_detail.html",
        {
            "delivery": delivery,
            "kind": kinds.KINDS.get(delivery.kind),
            "log_url": reverse("notifications:email_list", args=[request.organization.slug]),
        },
    )
