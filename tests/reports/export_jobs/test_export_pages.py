"""The export pages: starting a job from a report's filters, following it, downloading its file
(the requester and the admins only, never another organization), and "my exports"."""

import pytest
from django.test import Client

from reports.export_jobs.models import ExportJob
from tests.reports.export_jobs.support import download, finished_job, make_history
from tests.support import Tenant, client_for, messages_of

# Also run on SQLite, the database of `make run` (tests/test_on_sqlite.py).
pytestmark = [pytest.mark.sqlite]


def exports_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/o/{tenant.organization.slug}/exports/{suffix}"


def test_the_form_offers_what_the_role_may_export(tenant_a: Tenant) -> None:
    offered = {}
    for role, user in [
        ("admin", tenant_a.admin),
        ("provider", tenant_a.provider_user),
        ("student", tenant_a.student_user),
    ]:
        form = client_for(user).get(exports_url(tenant_a, "new/")).context["form"]
        offered[role] = [name for name, _ in form.fields["source"].choices]
    # The built-in sources, then the reports each role may open (test_report_sources.py) and
    # the Sessions report's one line each (staff only, as its direct download).
    assert {
        role: [n for n in names if not n.startswith("report-")] for role, names in offered.items()
    } == {
        "admin": ["history", "sessions", "session-rows"],
        "provider": ["sessions", "session-rows"],
        "student": ["history", "sessions"],
    }
    assert all("report-sessions" in names for names in offered.values())


def test_a_report_page_posts_its_filters_and_lands_on_the_jobs_page(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks
) -> None:
    make_history(tenant_a)
    client = client_for(tenant_a.admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            exports_url(tenant_a, "new/"),
            {"source": "sessions", "format": "xlsx", "start": "2025-06-10", "status": "completed"},
        )

    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == exports_url(tenant_a, f"{job.public_id}/")
    assert job.params == {"status": "completed", "start": "2025-06-10"}
    assert (job.status, job.rows_done, job.format) == ("done", 2, "xlsx")

    assert messages_of(response) == ["The export has started: this page shows its progress."]
    html = client.get(response["Location"]).content.decode()
    assert "hx-get" not in html  # finished: nothing to poll
    assert f"/exports/{job.public_id}/download/" in html
    assert job.download_name == "alpha-sessions-2025-06-11.xlsx"


@pytest.mark.usefixtures("broker_unreachable")
def test_an_export_the_broker_cannot_take_fails_at_once_saying_so(
    tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    client = client_for(tenant_a.admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            exports_url(tenant_a, "new/"), {"source": "sessions", "format": "csv"}
        )

    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert (job.status, job.error) == (
        "failed",
        "The export could not be started. Start it again in a few minutes.",
    )
    assert job.error in client.get(response["Location"]).content.decode()


def test_a_refused_filter_shows_the_form_again_with_the_reason(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)

    response = client.post(
        exports_url(tenant_a, "new/"), {"source": "sessions", "format": "csv", "status": "lost"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "__all__": ["Choose a session status from the list."]
    }
    # The filter is carried along for the next try.
    assert response.context["filters"] == {"status": "lost"}

    response = client.post(
        exports_url(tenant_a, "new/"),
        {"source": "sessions", "format": "pdf", "start": "2025-06-10", "end": "2025-06-01"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"format", "end"}
    assert not ExportJob.objects.exists()


def test_a_running_jobs_page_polls_its_progress(tenant_a: Tenant) -> None:
    job = finished_job(tenant_a, tenant_a.student_user)
    ExportJob.objects.filter(pk=job.pk).update(
        status="running", file="", rows_done=2500, rows_total=10000
    )
    client = client_for(tenant_a.student_user)
    url = exports_url(tenant_a, f"{job.public_id}/")

    whole = client.get(url).content.decode()
    assert 'hx-get="' + url + '"' in whole
    assert 'hx-trigger="every 2s"' in whole
    assert "Writing: 2,500 of 10,000 rows." in whole
    assert 'href="' + url + '">Refresh</a>' in whole  # without JavaScript

    part = client.get(url, headers={"HX-Request": "true", "HX-Target": "progress"})
    fragment = part.content.decode()
    assert fragment.lstrip().startswith('<div id="progress"')
    assert "<html" not in fragment
    assert 'max="100" value="25"' in fragment  # a native <progress>: no inline width


def test_a_failed_jobs_page_says_why(tenant_a: Tenant) -> None:
    job = finished_job(tenant_a, tenant_a.student_user)
    ExportJob.objects.filter(pk=job.pk).update(status="failed", file="", error="Choose a student.")

    response = client_for(tenant_a.student_user).get(exports_url(tenant_a, f"{job.public_id}/"))
    assert "Choose a student." in response.content.decode()
    assert download(client_for(tenant_a.student_user), job).status_code == 404


def test_the_requester_downloads_the_file_with_its_name_and_type(tenant_a: Tenant) -> None:
    job = finished_job(tenant_a, tenant_a.student_user, content=b"Student\r\nMaya\r\n")

    response = download(client_for(tenant_a.student_user), job)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{job.download_name}"'
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == b"Student\r\nMaya\r\n"


@pytest.mark.parametrize(("who", "status"), [("admin", 200), ("provider", 404), ("student", 200)])
def test_only_the_requester_and_the_admins_open_a_job(
    who: str, status: int, tenant_a: Tenant
) -> None:
    job = finished_job(tenant_a, tenant_a.student_user)
    user = {"admin": tenant_a.admin, "provider": tenant_a.provider_user}.get(
        who, tenant_a.student_user
    )
    client = client_for(user)

    assert client.get(exports_url(tenant_a, f"{job.public_id}/")).status_code == status
    assert download(client, job).status_code == status


def test_another_organizations_job_is_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    theirs = finished_job(tenant_b, tenant_b.admin)
    client = client_for(tenant_a.admin)

    # Under A's slug (B's job id), and under B's slug (not a member).
    for slug in (tenant_a.organization.slug, tenant_b.organization.slug):
        base = f"/o/{slug}/exports/{theirs.public_id}/"
        assert client.get(base).status_code == 404
        assert client.get(base + "download/").status_code == 404


@pytest.mark.parametrize(
    "suffix", ["not-a-uuid/", "not-a-uuid/download/", "5b3c267c-bd9a-43b2-a9de-bfbfb4618359/"]
)
def test_malformed_and_unknown_ids_are_not_found(suffix: str, tenant_a: Tenant) -> None:
    assert client_for(tenant_a.admin).get(exports_url(tenant_a, suffix)).status_code == 404


def test_my_exports_lists_only_ones_own(tenant_a: Tenant) -> None:
    mine = finished_job(tenant_a, tenant_a.provider_user, title="Mine")
    finished_job(tenant_a, tenant_a.student_user, title="The student's")
    finished_job(tenant_a, tenant_a.admin, title="The admin's")

    response = client_for(tenant_a.provider_user).get(exports_url(tenant_a))

    assert [job.title for job in response.context["page"]] == ["Mine"]
    assert f"/exports/{mine.public_id}/download/" in response.content.decode()


def test_an_expired_job_has_no_file_to_download(tenant_a: Tenant) -> None:
    job = finished_job(tenant_a, tenant_a.admin)
    ExportJob.objects.filter(pk=job.pk).update(status="expired", file="")
    client: Client = client_for(tenant_a.admin)

    assert download(client, job).status_code == 404
    assert (
        "This export has expired"
        in client.get(exports_url(tenant_a, f"{job.public_id}/")).content.decode()
    )


def test_the_hours_pages_link_to_the_history_export_which_carries_the_student(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks
) -> None:
    make_history(tenant_a)
    slug, student = tenant_a.organization.slug, tenant_a.student
    admin = client_for(tenant_a.admin)
    link = f"/o/{slug}/exports/new/?source=history&amp;student={student.public_id}"
    assert link in admin.get(f"/o/{slug}/students/{student.public_id}/hours/").content.decode()
    own = f"/o/{slug}/exports/new/?source=history"
    mine = client_for(tenant_a.student_user).get(f"/o/{slug}/my/hours/").content.decode()
    assert f'href="{own}"' in mine

    form_page = admin.get(link.replace("&amp;", "&"))
    assert form_page.context["form"]["source"].value() == "history"
    assert form_page.context["filters"] == {"student": str(student.public_id)}
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            exports_url(tenant_a, "new/"),
            {"source": "history", "format": "csv", "student": str(student.public_id)},
        )
    job = ExportJob.objects.get()
    assert (job.status, job.title) == ("done", f"Hours history of {student.name}")
