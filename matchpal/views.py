import uuid

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from matchpal import confirmation, health, selectors, services
from matchpal.actions import run_action
from matchpal.forms import (
    InvitationForm,
    OrganizationCreateForm,
    OrganizationSettingsForm,
    RoleForm,
    ServiceTypeForm,
)
from matchpal.models import Membership
from matchpal.pagination import paginate
from matchpal.tenancy import SignedInRequest, TenantRequest, admin_required


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. A trivial view, also the benchmarks' baseline."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database, Redis and beat's heartbeat (matchpal/health.py); 503 when one
    fails, with each check's state so whoever looks sees which."""
    checks = health.readiness()
    ready = all(check.ok for check in checks)
    return JsonResponse(
        {
            "ready": ready,
            "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
        },
        status=200 if ready else 503,
    )


def home(request: HttpRequest) -> HttpResponse:
    """`/`: the signed-in user's organization, or the list of them; sign-in otherwise."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    memberships = list(selectors.memberships_of_user(user=request.user)[:2])
    if len(memberships) == 1:
        return redirect("org_home", org_slug=memberships[0].organization.slug)
    return redirect("organization_list")


@login_required
def organization_list(request: SignedInRequest) -> HttpResponse:
    return render(
        request,
        "matchpal/organization_list.html",
        {
            "page": paginate(request, selectors.memberships_of_user(user=request.user)),
            "can_create": settings.MATCHPAL_ALLOW_ORG_CREATION or request.user.is_superuser,
        },
    )


@login_required
def organization_create(request: SignedInRequest) -> HttpResponse:
    if not (settings.MATCHPAL_ALLOW_ORG_CREATION or request.user.is_superuser):
        messages.error(request, "Creating organizations is turned off on this server.")
        return redirect("organization_list")
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.organization_create(actor=request.user, **form.cleaned_data),
            form=form,
            field=None,
            success=lambda organization: f"{organization.name} was created; you are its admin.",
            then=lambda organization: reverse("org_home", args=[organization.slug]),
        )
        if done:
            return done
    return render(request, "matchpal/organization_create.html", {"form": form})


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_by_token(token=token)
    if invitation is None or not invitation.is_pending:
        request.session.pop("pending_invitation", None)
        return render(
            request,
            "matchpal/invitation_invalid.html",
            {"invitation": invitation},
            status=404 if invitation is None else 410,
        )
    if not request.user.is_authenticated:
        # The link was emailed to this address: following it proves the address, so signing up
        # through it needs no second verification email.
        get_adapter(request).stash_verified_email(request, invitation.email)
        request.session["pending_invitation"] = token
        signup_url = reverse("account_signup") + "?" + urlencode({"email": invitation.email})
        return render(
            request,
            "matchpal/invitation_accept.html",
            {"invitation": invitation, "signup_url": signup_url},
        )
    user = request.user
    email_matches = user.email.lower() == invitation.email.lower()
    if request.method == "POST" and email_matches:

        def accept() -> Membership:
            membership = services.invitation_accept(user=user, token=token)
            request.session.pop("pending_invitation", None)
            return membership

        return run_action(
            request,
            accept,
            success=lambda membership: f"Welcome to {membership.organization.name}.",
            then=lambda membership: reverse("org_home", args=[membership.organization.slug]),
            otherwise="home",
        )
    return render(
        request,
        "matchpal/invitation_accept.html",
        {"invitation": invitation, "email_matches": email_matches},
    )


@admin_required
def organization_settings(request: TenantRequest) -> HttpResponse:
    organization = request.organization
    form = OrganizationSettingsForm(request.POST or None, instance=organization)
    if request.method == "POST" and form.is_valid():
        services.organization_update(
            actor=request.user,
            organization=organization,
            fields={name: form.cleaned_data[name] for name in form.changed_data},
        )
        messages.success(request, "Settings saved.")
        return redirect("org_settings", org_slug=organization.slug)
    return render(request, "matchpal/settings.html", {"form": form})


@admin_required
def member_list(request: TenantRequest) -> HttpResponse:
    return render(
        request,
        "matchpal/members.html",
        {
            # Two lists on one page, each paged by its own query parameter.
            "members": paginate(request, selectors.member_list(organization=request.organization)),
            "invitations": paginate(
                request,
                selectors.pending_invitations(organization=request.organization),
                param="invitations_page",
            ),
            "invite_form": InvitationForm(),
            "role_form": RoleForm(),
        },
    )


@admin_required
def member_invite(request: TenantRequest) -> HttpResponse:
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.invitation_create(
                actor=request.user,
                organization=request.organization,
                base_url=request.build_absolute_uri("/"),
                **form.cleaned_data,
            ),
            form=form,
            field="email",
            success=lambda invitation: f"An invitation was sent to {invitation.email}.",
            then=reverse("members", args=[request.organization.slug]),
        )
        if done:
            return done
    return render(
        request,
        "matchpal/member_invite.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@admin_required
def member_change_role(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    membership = selectors.member_get(organization=request.organization, public_id=public_id)
    members_url = reverse("members", args=[request.organization.slug])
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: admin, provider or student.")
        return redirect(members_url)
    return run_action(
        request,
        lambda: services.membership_change_role(
            actor=request.user, membership=membership, role=form.cleaned_data["role"]
        ),
        success=lambda _: f"{membership.user} is now {membership.get_role_display()}.",
        then=members_url,
    )


@require_POST
@admin_required
def member_remove(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    membership = selectors.member_get(organization=request.organization, public_id=public_id)
    if not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=f"Remove {membership.user} from {request.organization.name}",
            consequence=f"{membership.user} loses access to this center at once. Their "
            "history stays; they can be invited again later.",
            action_label="Remove member",
            cancel_url=reverse("members", args=[request.organization.slug]),
        )
    members_url = reverse("members", args=[request.organization.slug])
    return run_action(
        request,
        lambda: services.membership_remove(actor=request.user, membership=membership),
        success=f"{membership.user} is no longer a member.",
        # Whoever removes themselves has nothing left to see here.
        then=lambda _: "home" if membership.user_id == request.user.pk else members_url,
        otherwise=members_url,
    )


@require_POST
@admin_required
def invitation_revoke(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    invitation = selectors.invitation_get(organization=request.organization, public_id=public_id)
    if not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=f"Revoke the invitation of {invitation.email}",
            consequence="The link in the invitation email stops working. You can invite "
            "the same address again later.",
            action_label="Revoke invitation",
            cancel_url=reverse("members", args=[request.organization.slug]),
        )
    return run_action(
        request,
        lambda: services.invitation_revoke(actor=request.user, invitation=invitation),
        success=f"The invitation of {invitation.email} was revoked.",
        then=reverse("members", args=[request.organization.slug]),
    )


@admin_required
def service_type_list(request: TenantRequest) -> HttpResponse:
    return render(
        request,
        "matchpal/service_types.html",
        {"page": paginate(request, selectors.service_type_list(organization=request.organization))},
    )


@admin_required
def service_type_create(request: TenantRequest) -> HttpResponse:
    form = ServiceTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.service_type_create(
                actor=request.user, organization=request.organization, **form.cleaned_data
            ),
            form=form,
            success=lambda service_type: f"{service_type.name} was added.",
            then=reverse("service_type_list", args=[request.organization.slug]),
        )
        if done:
            return done
    return render(request, "matchpal/service_type_form.html", {"form": form, "service_type": None})


@admin_required
def service_type_edit(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    service_type = selectors.service_type_get(
        organization=request.organization, public_id=public_id
    )
    old_name = service_type.name
    form = ServiceTypeForm(
        request.POST or None,
        initial={"name": service_type.name, "client_rate": service_type.client_rate},
    )
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.service_type_rename(
                actor=request.user, service_type=service_type, **form.cleaned_data
            ),
            form=form,
            success=lambda _: (
                f"{old_name} is now called {service_type.name}."
                if old_name != service_type.name
                else f"{service_type.name} was saved."
            ),
            then=reverse("service_type_list", args=[request.organization.slug]),
        )
        if done:
            return done
    return render(
        request, "matchpal/service_type_form.html", {"form": form, "service_type": service_type}
    )


@require_POST
@admin_required
def service_type_set_active(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    service_type = selectors.service_type_get(
        organization=request.organization, public_id=public_id
    )
    active = request.POST.get("active") == "1"
    if not active and not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=f"Deactivate {service_type.name}",
            consequence="New providers, packages, grants and relationships cannot use it; "
            "what already does keeps it. You can offer it again later.",
            action_label="Deactivate",
            cancel_url=reverse("service_type_list", args=[request.organization.slug]),
        )
    services.service_type_set_active(actor=request.user, service_type=service_type, active=active)
    if active:
        messages.success(request, f"{service_type.name} is offered again.")
    else:
        messages.success(
            request,
            f"{service_type.name} is deactivated: new providers, packages, grants and "
            "relationships cannot use it; what already does keeps it.",
        )
    return redirect("service_type_list", org_slug=request.organization.slug)
