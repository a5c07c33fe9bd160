import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from matchpal import confirmation
from matchpal.actions import run_action
from matchpal.htmx import render_page
from matchpal.models import Role
from matchpal.pagination import only_paged, paginate
from matchpal.tenancy import TenantRequest, admin_required, tenant_view
from students import selectors, services
from students.filters import StudentFilter
from students.forms import StudentForm
from students.models import Student, StudentStatus


@admin_required
def student_list(request: TenantRequest) -> HttpResponse:
    if not only_paged(request):
        filterset = StudentFilter(
            request.GET, queryset=selectors.student_list(organization=request.organization)
        )
        page = paginate(request, filterset.qs)
    else:
        # Unfiltered, the list's statements are compiled once; the filter set is its form.
        filterset = StudentFilter(request.GET, queryset=Student.objects.none())
        page = selectors.unfiltered_list.paginate(
            request,
            organization=request.organization.pk,
            threshold=request.organization.low_balance_threshold_minutes,
            now=timezone.now(),
        )
    return render_page(
        request, "students/list.html", {"filter": filterset, "page": page}, partial="results"
    )


@admin_required
def student_create(request: TenantRequest) -> HttpResponse:
    form = StudentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.student_create(
                actor=request.user, organization=request.organization, **form.cleaned_data
            ),
            form=form,
            success=lambda student: f"{student.name} was added.",
            then=lambda student: student.get_absolute_url(),
        )
        if done:
            return done
    return render(request, "students/form.html", {"form": form, "student": None})


@tenant_view()
def student_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    student = selectors.student_get(organization=request.organization, public_id=public_id)
    if not request.membership.is_admin and student.user_id != request.user.pk:
        raise PermissionDenied
    invitations = (
        student.invitations.filter(organization=request.organization).order_by("-created_at")[:5]
        if request.membership.is_admin
        else []
    )
    return render(
        request,
        "students/detail.html",
        {
            "student": student,
            "invitations": invitations,
            "suspensions": selectors.recent_suspensions(student),
        },
    )


@admin_required
def student_edit(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    student = selectors.student_get(organization=request.organization, public_id=public_id)
    form = StudentForm(request.POST or None, instance=student)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            request,
            lambda: services.student_update(
                actor=request.user, student=student, **form.cleaned_data
            ),
            form=form,
            success=lambda _: f"{student.name} was saved.",
            then=student.get_absolute_url(),
        )
        if done:
            return done
    return render(request, "students/form.html", {"form": form, "student": student})


@require_POST
@admin_required
def student_set_status(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    student = selectors.student_get(organization=request.organization, public_id=public_id)
    active = request.POST.get("status") == StudentStatus.ACTIVE
    if not active and not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=f"Deactivate {student.name}",
            consequence=f"{student.name} can no longer be proposed for new relationships. "
            "Their hours, relationships and sessions stay; you can reactivate them later.",
            action_label="Deactivate",
            cancel_url=student.get_absolute_url(),
        )
    services.student_set_status(
        actor=request.user,
        student=student,
        status=StudentStatus.ACTIVE if active else StudentStatus.INACTIVE,
    )
    messages.success(request, f"{student.name} is now {'active' if active else 'inactive'}.")
    return redirect(student.get_absolute_url())


@require_POST
@admin_required
def student_invite(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    student = selectors.student_get(organization=request.organization, public_id=public_id)
    return run_action(
        request,
        lambda: services.student_invite(
            actor=request.user, student=student, base_url=request.build_absolute_uri("/")
        ),
        success=lambda invitation: f"An invitation was sent to {invitation.email}.",
        then=student.get_absolute_url(),
    )


@tenant_view(Role.STUDENT)
def my_profile(request: TenantRequest) -> HttpResponse:
    student = selectors.student_for_user(organization=request.organization, user=request.user)
    return render(request, "students/me.html", {"student": student})


@require_POST
@admin_required
def suspension_lift(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    """Lift the student's booking suspension (too many no-shows): who and when are kept."""
    student = selectors.student_get(organization=request.organization, public_id=public_id)
    return run_action(
        request,
        lambda: services.booking_suspension_lift(
            membership=request.membership, student=student, reason=request.POST.get("reason", "")
        ),
        success=f"{student.name} may book again.",
        then=student.get_absolute_url(),
    )
