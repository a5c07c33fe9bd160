from functools import partial

from django.http import HttpResponse
from django.shortcuts import render

from matchpal.htmx import render_page
from matchpal.models import Role
from matchpal.tenancy import TenantRequest, tenant_view
from providers.selectors import provider_record_for_user
from reports import dashboard, home_cache, selectors
from students.selectors import student_for_user


@tenant_view()
def home(request: TenantRequest) -> HttpResponse:
    """The organization's home page, one per role."""
    organization, membership = request.organization, request.membership
    if membership.is_admin:
        # Rendered where the page writes it (a callable in the context), so the page's own
        # template is the first rendered, as for the other homes.
        content = partial(home_cache.admin_home, organization, membership)
        return render(request, "reports/home_admin.html", {"dashboard": content})
    if membership.is_provider:
        provider = provider_record_for_user(organization=organization, user=request.user)
        context = selectors.provider_dashboard(organization=organization, membership=membership)
        return render_page(
            request, "reports/home_provider.html", {"provider": provider, **context}, partial="work"
        )
    student = student_for_user(organization=organization, user=request.user)
    context = (
        selectors.student_home(organization=organization, membership=membership, student=student)
        if student
        else {"student": None}
    )
    return render(request, "reports/home_student.html", context)


@tenant_view(Role.ADMIN)
def warning_list(request: TenantRequest, sign: str) -> HttpResponse:
    """The rows behind one of the admin home's warning signs, as counted there: the very short
    sessions, or the pairings with a long gap, irregular scheduling, idle, or repeated
    cancellations (one URL each, `reports/urls.py`)."""
    organization = request.organization
    limits = dashboard.Thresholds.of(organization)
    page = dashboard.sign_page(request, organization, sign, limits)
    return render(
        request,
        "reports/warning_list.html",
        {"sign": sign, "title": dashboard.SIGN_TITLES[sign], "page": page, "limits": limits},
    )
