"""Export jobs' pages: start one, follow its progress, download its file, list one's own."""

import uuid

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from matchpal.actions import run_action
from matchpal.htmx import render_page
from matchpal.pagination import paginate
from matchpal.tenancy import TenantRequest, tenant_view
from reports.export_jobs import selectors, services
from reports.export_jobs.forms import ExportStartForm, filters_of
from reports.export_jobs.models import ExportJob


def _job_url(job: ExportJob) -> str:
    return reverse("exports:detail", args=[job.organization.slug, job.public_id])


@tenant_view()
def export_start(request: TenantRequest) -> HttpResponse:
    """The export form: a report page posts here with its current filters (hidden fields);
    opened directly it offers the sources the member's role may export and a date range."""
    membership = request.membership
    data = request.POST if request.method == "POST" else None
    form = ExportStartForm(data, membership=membership, initial=request.GET.dict())
    filters = filters_of(request.POST if data is not None else request.GET)
    if data is not None and form.is_valid():
        cleaned = form.cleaned_data
        params = dict(filters)
        for name in ("start", "end"):
            if cleaned[name]:
                params[name] = cleaned[name].isoformat()
        done = run_action(
            request,
            lambda: services.export_start(
                membership=membership,
                source=cleaned["source"],
                params=params,
                export_format=cleaned["format"],
            ),
            form=form,
            success="The export has started: this page shows its progress.",
            then=_job_url,
        )
        if done is not None:
            return done
    return render(request, "reports/export_jobs/start.html", {"form": form, "filters": filters})


@tenant_view()
def export_list(request: TenantRequest) -> HttpResponse:
    """My exports, newest first."""
    jobs = selectors.job_list(organization=request.organization, membership=request.membership)
    return render(request, "reports/export_jobs/list.html", {"page": paginate(request, jobs)})


@tenant_view()
def export_detail(request: TenantRequest, public_id: uuid.UUID) -> HttpResponse:
    """The job's progress (htmx polls the `progress` partial while it runs), then its link."""
    job = selectors.job_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )
    return render_page(request, "reports/export_jobs/detail.html", {"job": job}, partial="progress")


@tenant_view()
def export_download(request: TenantRequest, public_id: uuid.UUID) -> FileResponse:
    """The file, to the member who asked or an admin; never from a public URL."""
    job = selectors.job_get(
        organization=request.organization, membership=request.membership, public_id=public_id
    )
    if not job.is_ready:
        raise Http404("This export has no file (not ready, failed or expired).")
    try:
        handle = services.exports_storage().open(job.file, "rb")
    except FileNotFoundError:
        raise Http404("This export's file is gone.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=job.download_name, content_type=job.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response
