from django.http import HttpResponse
from django.shortcuts import render

from matchpal.htmx import render_page
from matchpal.tenancy import TenantRequest, tenant_view
from providers.selectors import provider_for_user
from reports import selectors
from students.selectors import student_for_user


@tenant_view()
def home(request: TenantRequest) -> HttpResponse:
    """The organization's home page, one per role."""
    organization, membership = request.organization, request.membership
    if membership.is_admin:
        context = selectors.admin_dashboard(organization=organization, membership=membership)
        return render(request, "reports/home_admin.html", context)
    if membership.is_provider:
        provider = provider_for_user(organization=organization, user=request.user)
        context = selectors.provider_dashboard(organization=organization, membership=membership)
        return render_page(
            request, "reports/home_provider.html", {"provider": provider, **context}, partial="work"
        )
    student = student_for_user(organization=organization, user=request.user)
    context = (
        selectors.student_dashboard(organization=organization, student=student)
        if student
        else {"student": None}
    )
    if student:
        context["sessions"] = selectors.student_sessions(
            organization=organization, membership=membership
        )
    return render(request, "reports/home_student.html", context)
