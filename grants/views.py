import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from grants import history as ledger_history
from grants import selectors, services
from grants.forms import (
    AdjustForm,
    ExtendForm,
    GrantCreateForm,
    PackageForm,
    RefundForm,
    ReleaseForm,
    TransferForm,
)
from grants.models import Grant, GrantStatus, Package
from matchpal import confirmation
from matchpal.actions import FROM_ERROR, action_page, run_action
from matchpal.models import Role
from matchpal.pagination import page_asked, paginate
from matchpal.quantities import format_quantity
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from students.models import Student
from students.selectors import student_for_user, student_get


def _hours_url(request: TenantRequest, student_public_id: uuid.UUID) -> str:
    return reverse("grants:student_hours", args=[request.organization.slug, student_public_id])


# --- Packages -------------------------------------------------------------------------------


@admin_required
def package_list(request: TenantRequest) -> HttpResponse:
    packages = selectors.package_list(organization=request.organization)
    page = paginate(request, packages)
    return render(request, "grants/package_list.html", {"page": page})


def _package_form(request: TenantRequest, package: Package | None) -> HttpResponse:
    form = PackageForm(request.POST or None, instance=package, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        quantity, unit = form.quantity_and_unit()
        done = run_action(
            request,
            lambda: services.package_save(
                actor=request.user,
                organization=request.organization,
                package=package,
                name=data["name"],
                quantity=quantity,
                unit=unit,
                service_types=list(data["service_types"]),
                validity_days=data["validity_days"],
                price=data["price"],
                shop_keys=form.shop_keys(),
            ),
            form=form,
            notices=(services.AlreadyApplied,),
            success=lambda saved: f"Package “{saved.name}” was saved.",
            then=reverse("grants:package_list", args=[request.organization.slug]),
        )
        if done:
            return done
    return render(request, "grants/package_form.html", {"form": form, "package": package})


@admin_required
def package_create(request: TenantRequest) -> HttpResponse:
    return _package_form(request, None)


@admin_required
def package_edit(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    package = selectors.package_get(organization=request.organization, public_id=public_id)
    return _package_form(request, package)


@require_POST
@admin_required
def package_set_active(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    package = selectors.package_get(organization=request.organization, public_id=public_id)
    active = request.POST.get("active") == "1"
    if not active and not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=f"Stop offering “{package.name}”",
            consequence="It can no longer be granted or sold. Grants already made from it "
            "keep their hours. You can offer it again later.",
            action_label="Stop offering",
            cancel_url=reverse("grants:package_list", args=[request.organization.slug]),
        )
    services.package_set_active(actor=request.user, package=package, active=active)
    messages.success(
        request, f"“{package.name}” is {'offered again' if active else 'no longer offered'}."
    )
    return redirect("grants:package_list", org_slug=request.organization.slug)


# --- A student's hours (admin) ----------------------------------------------------------------


def _hours_context(request: TenantRequest, student: Student) -> dict[str, object]:
    organization = request.organization
    if ledger_history.available():
        # The grants, their service types, the holds, the history's count and the page asked
        # for in one round trip (docs/performance.md, "The pairing's page and the homes' rows").
        grants, holds, entries = selectors.hours_reads(
            organization=organization, student=student, page=page_asked(request)
        )
        return {
            "student": student,
            **_grants_listed(request, grants),
            "balances": selectors.student_balances(student=student, grants=grants),
            "holds": holds,
            "history": paginate(request, entries),
        }
    grants = selectors.grants_of_student(organization=organization, student=student)
    history = paginate(request, selectors.history(organization=organization, student=student))
    selectors.page_with_running(history, organization=organization, student=student, grants=grants)
    return {
        "student": student,
        **_grants_listed(request, grants),
        "balances": selectors.student_balances(student=student, grants=grants),
        "holds": selectors.holds_of_student(organization=organization, student=student),
        "history": history,
    }


def _grants_listed(request: TenantRequest, grants: list[Grant]) -> dict[str, object]:
    """The grants the page lists (the balances and the history use them all) and how many
    finished ones it leaves out (`selectors.grants_shown`)."""
    shown, left_out = selectors.grants_shown(
        grants, now=timezone.now(), every=request.GET.get("grants") == "all"
    )
    return {"grants": shown, "grants_left_out": left_out}


@admin_required
def student_hours(request: TenantRequest, student_id: uuid.UUID) -> HttpResponse:
    student = student_get(organization=request.organization, public_id=student_id)
    return render(request, "grants/student_hours.html", _hours_context(request, student))


@tenant_view(Role.STUDENT)
def my_hours(request: TenantRequest) -> HttpResponse:
    student = student_for_user(organization=request.organization, user=request.user)
    context = _hours_context(request, student) if student else {"student": None}
    return render(request, "grants/my_hours.html", context)


@admin_required
def grant_create(request: TenantRequest, student_id: uuid.UUID) -> HttpResponse:
    student = student_get(organization=request.organization, public_id=student_id)
    form = GrantCreateForm(request.POST or None, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def create() -> Grant:
            key = form.idempotency_key("grant_create")
            if data["package"] is not None:
                return services.grant_from_package(
                    actor=request.user,
                    student=student,
                    package=data["package"],
                    count=data["count"] or 1,
                    reference=data["reference"],
                    expires_at=form.expires_at(),
                    idempotency_key=key,
                    price=data["price"],
                )
            quantity, unit = form.custom_quantity()
            return services.grant_create(
                actor=request.user,
                student=student,
                quantity=quantity,
                unit=unit,
                service_types=list(data["service_types"]),
                expires_at=form.expires_at(),
                reference=data["reference"],
                idempotency_key=key,
                price=data["price"],
            )

        done = run_action(
            request,
            create,
            form=form,
            notices=(services.AlreadyApplied,),
            success=lambda grant: (
                f"{format_quantity(grant.total, grant.unit)} were added to {student.name}."
            ),
            then=_hours_url(request, student.public_id),
        )
        if done:
            return done
    return render(
        request,
        "action_form.html",
        {
            "form": form,
            "title": f"Add hours for {student.name}",
            "submit": "Add hours",
            "back_url": _hours_url(request, student.public_id),
            "back_label": "Cancel",
        },
    )


REVOKED_NO_ACTIONS = (
    "This grant was refunded in full and is revoked: it is a closed record and offers no "
    "actions. Add a new grant to give the student hours again."
)


def _grant_action(
    request: TenantRequest,
    public_id: uuid.UUID,
    *,
    make_form: Callable[[Grant], Any],
    title: str,
    submit: str,
    action: Callable[[Grant, Any], object],
    success: Callable[[Grant, Any], str],
) -> HttpResponse:
    """An action on one grant, on its own page; a revoked grant offers none."""
    grant = selectors.grant_get(organization=request.organization, public_id=public_id)
    hours_url = _hours_url(request, grant.student.public_id)
    if grant.status == GrantStatus.REVOKED:
        messages.error(request, REVOKED_NO_ACTIONS)
        return redirect(hours_url)
    form = make_form(grant)
    return action_page(
        request,
        form=form,
        action=lambda _: action(grant, form),
        field=FROM_ERROR,
        notices=(services.AlreadyApplied,),
        success=lambda _: success(grant, form),
        then=hours_url,
        context={
            "grant": grant,
            "title": title.format(student=grant.student.name),
            "submit": submit,
            "back_url": hours_url,
            "back_label": "Cancel",
        },
    )


@admin_required
def grant_adjust(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    def make_form(grant: Grant) -> AdjustForm:
        form = AdjustForm(request.POST or None)
        form.set_unit(grant.unit)
        return form

    return _grant_action(
        request,
        public_id,
        make_form=make_form,
        title="Adjust a grant of {student}",
        submit="Adjust",
        action=lambda grant, form: services.grant_adjust(
            actor=request.user,
            grant=grant,
            delta=form.delta(),
            reason=form.cleaned_data["reason"],
            idempotency_key=form.idempotency_key("adjust"),
        ),
        success=lambda grant, form: (
            f"The grant was adjusted by {format_quantity(form.delta(), grant.unit)}."
        ),
    )


@admin_required
def grant_transfer(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _grant_action(
        request,
        public_id,
        make_form=lambda grant: TransferForm(request.POST or None, grant=grant),
        title="Transfer hours of {student}",
        submit="Transfer",
        action=lambda grant, form: services.grant_transfer(
            actor=request.user,
            from_grant=grant,
            quantity=form.quantity(),
            to_grant=form.cleaned_data["to_grant"],
            to_service_types=list(form.cleaned_data["to_service_types"]),
            reason=form.cleaned_data["reason"],
            idempotency_key=form.idempotency_key("transfer"),
        ),
        success=lambda grant, form: (
            f"{format_quantity(form.quantity(), grant.unit)} were transferred."
        ),
    )


@admin_required
def grant_refund(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    def make_form(grant: Grant) -> RefundForm:
        form = RefundForm(request.POST or None)
        form.set_unit(grant.unit)
        return form

    return _grant_action(
        request,
        public_id,
        make_form=make_form,
        title="Refund hours of {student}",
        submit="Refund",
        action=lambda grant, form: services.grant_refund(
            actor=request.user,
            grant=grant,
            quantity=form.quantity(),
            reference=form.cleaned_data["reference"],
            reason=form.cleaned_data["reason"],
            idempotency_key=form.idempotency_key("refund"),
        ),
        success=lambda grant, form: (
            f"{format_quantity(form.quantity(), grant.unit)} were refunded."
        ),
    )


@admin_required
def grant_extend(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    return _grant_action(
        request,
        public_id,
        make_form=lambda grant: ExtendForm(request.POST or None, organization=request.organization),
        title="Extend a grant of {student}",
        submit="Extend",
        action=lambda grant, form: services.grant_extend(
            actor=request.user,
            grant=grant,
            expires_at=form.expires_at(),
            reason=form.cleaned_data["reason"],
            idempotency_key=form.idempotency_key("extend"),
        ),
        success=lambda grant, form: "The expiry was extended.",
    )


@admin_required
def hold_release(request: TenantRequest, relationship_id: uuid.UUID) -> HttpResponse:
    relationship = selectors.holding_relationship(
        organization=request.organization, public_id=relationship_id
    )
    form = ReleaseForm(request.POST or None, unit=relationship.unit)
    hours_url = _hours_url(request, relationship.student.public_id)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.release(
                actor=request.user,
                relationship=relationship,
                quantity=form.quantity(relationship.unit),
                reason=form.cleaned_data["reason"],
                idempotency_key=f"form:release:{form.cleaned_data['token']}",
            ),
            form=form,
            notices=(services.AlreadyApplied,),
            success=lambda released: (
                f"{format_quantity(released, relationship.unit)} were released."
            ),
            then=hours_url,
        )
        if done:
            return done
    return render(
        request,
        "action_form.html",
        {
            "form": form,
            "title": f"Release hours reserved for {relationship.provider.name}",
            "submit": "Release",
            "back_url": hours_url,
            "back_label": "Cancel",
        },
    )
