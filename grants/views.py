import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

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
from matchpal.errors import DomainError
from matchpal.models import Role
from matchpal.quantities import format_quantity
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from students.models import Student
from students.selectors import student_for_user, student_get


def _hours_url(request: TenantRequest, student_public_id: uuid.UUID) -> str:
    return reverse("grants:student_hours", args=[request.organization.slug, student_public_id])


def _apply(request: TenantRequest, form: forms.BaseForm, action: Callable[[], str]) -> bool:
    """Run a ledger action: success message, "already applied" on a double submit, or the
    domain error on the form (on its field when the form has that field). Returns True when
    the page should redirect."""
    try:
        message = action()
    except services.AlreadyApplied as notice:
        messages.info(request, notice.message)
        return True
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return False
    messages.success(request, message)
    return True


# --- Packages -------------------------------------------------------------------------------


@admin_required
def package_list(request: TenantRequest) -> HttpResponse:
    packages = selectors.package_list(organization=request.organization)
    page = Paginator(packages, settings.MATCHPAL_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "grants/package_list.html", {"page": page})


def _package_form(request: TenantRequest, package: Package | None) -> HttpResponse:
    form = PackageForm(request.POST or None, instance=package, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        quantity, unit = form.quantity_and_unit()

        def save() -> str:
            saved = services.package_save(
                actor=request.user,
                organization=request.organization,
                package=package,
                name=form.cleaned_data["name"],
                quantity=quantity,
                unit=unit,
                service_types=list(form.cleaned_data["service_types"]),
                validity_days=form.cleaned_data["validity_days"],
                price=form.cleaned_data["price"],
                shop_keys=form.shop_keys(),
            )
            return f"Package “{saved.name}” was saved."

        if _apply(request, form, save):
            return redirect("grants:package_list", org_slug=request.organization.slug)
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
    grants = list(selectors.grant_list(organization=request.organization, student=student))
    history = Paginator(
        selectors.history(organization=request.organization, student=student),
        settings.MATCHPAL_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    return {
        "student": student,
        "grants": grants,
        "balances": services.student_balances(student=student, grants=grants),
        "holds": selectors.holds_of_student(organization=request.organization, student=student),
        "history": history,
    }


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

        def create() -> str:
            key = form.idempotency_key("grant_create")
            if data["package"] is not None:
                grant = services.grant_from_package(
                    actor=request.user,
                    student=student,
                    package=data["package"],
                    count=data["count"] or 1,
                    reference=data["reference"],
                    expires_at=form.expires_at(),
                    idempotency_key=key,
                )
            else:
                quantity, unit = form.custom_quantity()
                grant = services.grant_create(
                    actor=request.user,
                    student=student,
                    quantity=quantity,
                    unit=unit,
                    service_types=list(data["service_types"]),
                    expires_at=form.expires_at(),
                    reference=data["reference"],
                    idempotency_key=key,
                )
            return f"{format_quantity(grant.total, grant.unit)} were added to {student.name}."

        if _apply(request, form, create):
            return redirect(_hours_url(request, student.public_id))
    return render(
        request,
        "grants/action_form.html",
        {
            "form": form,
            "student": student,
            "title": f"Add hours for {student.name}",
            "submit": "Add hours",
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
    run: Callable[[Grant, Any], str],
) -> HttpResponse:
    grant = selectors.grant_get(organization=request.organization, public_id=public_id)
    if grant.status == GrantStatus.REVOKED:
        messages.error(request, REVOKED_NO_ACTIONS)
        return redirect(_hours_url(request, grant.student.public_id))
    form = make_form(grant)
    if (
        request.method == "POST"
        and form.is_valid()
        and _apply(request, form, lambda: run(grant, form))
    ):
        return redirect(_hours_url(request, grant.student.public_id))
    return render(
        request,
        "grants/action_form.html",
        {
            "form": form,
            "student": grant.student,
            "grant": grant,
            "title": title.format(student=grant.student.name),
            "submit": submit,
        },
    )


@admin_required
def grant_adjust(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    def run(grant: Grant, form: AdjustForm) -> str:
        services.grant_adjust(
            actor=request.user,
            grant=grant,
            delta=form.delta(),
            reason=form.cleaned_data["reason"],
            idempotency_key=form.idempotency_key("adjust"),
        )
        return f"The grant was adjusted by {format_quantity(form.delta(), grant.unit)}."

    def make_form(grant: Grant) -> AdjustForm:
        form = AdjustForm(request.POST or None)
        form.set_unit(grant.unit)
        return form

    return _grant_action(
        request,
        public_id,
        make_form=make_form,
        submit="Adjust",
        title="Adjust a grant of {student}",
        run=run,
    )


@admin_required
def grant_transfer(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    def run(grant: Grant, form: TransferForm) -> str:
        services.grant_transfer(
            actor=request.user,
            from_grant=grant,
            quantity=form.quantity(),
            to_grant=form.cleaned_data["to_grant"],
            to_service_types=list(form.cleaned_data["to_service_types"]),
            reason=form.cleaned_data["reason"],
            idempotency_key=form.idempotency_key("transfer"),
        )
        return f"{format_quantity(form.quantity(), grant.unit)} were transferred."

    return _grant_action(
        request,
        public_id,
        submit="Transfer",
        run=run,
        make_form=lambda grant: TransferForm(request.POST or None, grant=grant),
        title="Transfer hours of {student}",
    )


@admin_required
def grant_refund(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    def run(grant: Grant, form: RefundForm) -> str:
        services.grant_refund(
            actor=request.user,
            grant=grant,
            quantity=form.quantity(),
            reference=form.cleaned_data["reference"],
            reason=form.cleaned_data["reason"],
            idempotency_key=form.idempotency_key("refund"),
        )
        return f"{format_quantity(form.quantity(), grant.unit)} were refunded."

    def make_form(grant: Grant) -> RefundForm:
        form = RefundForm(request.POST or None)
        form.set_unit(grant.unit)
        return form

    return _grant_action(
        request,
        public_id,
        make_form=make_form,
        submit="Refund",
        title="Refund hours of {student}",
        run=run,
    )


@admin_required
def grant_extend(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    def run(grant: Grant, form: ExtendForm) -> str:
        services.grant_extend(
            actor=request.user,
            grant=grant,
            expires_at=form.expires_at(),
            reason=form.cleaned_data["reason"],
            idempotency_key=form.idempotency_key("extend"),
        )
        return "The expiry was extended."

    return _grant_action(
        request,
        public_id,
        submit="Extend",
        run=run,
        title="Extend a grant of {student}",
        make_form=lambda grant: ExtendForm(request.POST or None, organization=request.organization),
    )


@admin_required
def hold_release(request: TenantRequest, relationship_id: uuid.UUID) -> HttpResponse:
    relationship = selectors.holding_relationship(
        organization=request.organization, public_id=relationship_id
    )
    form = ReleaseForm(request.POST or None, unit=relationship.unit)
    if request.method == "POST" and form.is_valid():

        def run() -> str:
            released = services.release(
                actor=request.user,
                relationship=relationship,
                quantity=form.quantity(relationship.unit),
                reason=form.cleaned_data["reason"],
                idempotency_key=f"form:release:{form.cleaned_data['token']}",
            )
            return f"{format_quantity(released, relationship.unit)} were released."

        if _apply(request, form, run):
            return redirect(_hours_url(request, relationship.student.public_id))
    return render(
        request,
        "grants/action_form.html",
        {
            "form": form,
            "student": relationship.student,
            "title": f"Release hours reserved for {relationship.provider.name}",
            "submit": "Release",
        },
    )
