"""A student's personal data, for admins: the page, the export file, the erasure."""

import json
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from matchpal import confirmation
from matchpal.actions import run_action
from matchpal.tenancy import TenantRequest, admin_required
from privacy import selectors, services
from students.selectors import student_get


@admin_required
def student_data(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    student = student_get(organization=request.organization, public_id=public_id)
    events = selectors.events_of(organization=request.organization, student=student)
    return render(
        request,
        "privacy/student_data.html",
        {
            "student": student,
            "events": events,
            "erased": services.is_erased(organization=request.organization, student=student),
        },
    )


@require_POST
@admin_required
def student_export(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    """Everything about the student as one JSON file; the export itself is recorded first."""
    student = student_get(organization=request.organization, public_id=public_id)
    services.student_export_record(
        actor=request.user, organization=request.organization, student=student
    )
    data = selectors.student_data(organization=request.organization, student=student)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    filename = f"{request.organization.slug}-student-{student.public_id}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@admin_required
def student_erase(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    student = student_get(organization=request.organization, public_id=public_id)
    page = reverse("privacy:student_data", args=[request.organization.slug, student.public_id])
    if not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=f"Erase {student.name}",
            consequence=(
                f"{student.name}'s name, email, phone, guardian and notes are erased for good, "
                "their login leaves this center (and is closed if it belongs to no other), and "
                "their shop orders lose the billing details. Their hours, ledger, relationships "
                "and sessions stay with every figure, under the name "
                f"“{services.erased_label(student)}”. This cannot be undone: download their "
                "data first if it must be kept."
            ),
            action_label="Erase for good",
            cancel_url=page,
        )
    name = student.name
    return run_action(
        request,
        lambda: services.student_erase(
            actor=request.user, organization=request.organization, student=student
        ),
        success=f"{name}'s personal data was erased.",
        then=page,
    )
