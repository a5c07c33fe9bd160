"""What an export file holds: the same rows a member may see, in the center's time, as CSV
and as Excel, with their filters; and the member's own history."""

import io
import zipfile
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from reports.export_jobs.models import ExportStatus
from reports.export_jobs.registry import ExportParamsError
from reports.export_jobs.services import export_start
from tests.reports.export_jobs.support import csv_rows, make_history, run_export, xlsx_rows
from tests.support import Tenant, member, raises_exactly

SESSION_HEADER = [
    "Starts at",
    "Student",
    "Provider",
    "Service",
    "Kind",
    "Status",
    "Duration (min)",
    "Charged",
    "Unit",
    "Mode",
    "No-show party",
    "Cancellation reason",
]

# Also run on SQLite, the database of `make run` (tests/test_on_sqlite.py).
pytestmark = [pytest.mark.sqlite]


@pytest.fixture
def history(clock, tenant_a: Tenant):  # type: ignore[no-untyped-def]
    return make_history(tenant_a)


def test_an_admins_csv_holds_every_session_of_the_center_in_local_time(
    history, tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    job = run_export(
        django_capture_on_commit_callbacks, tenant_a.admin, tenant_a, "sessions", "csv"
    )

    assert (job.status, job.rows_done, job.rows_total, job.error) == ("done", 3, 3, "")
    rows = csv_rows(job)
    assert rows[0] == [*SESSION_HEADER, "Provider earnings", "Client amount"]
    student, provider = tenant_a.student.name, tenant_a.provider.name
    other = history.other.relationship.provider.name
    assert [row[:10] for row in rows[1:]] == [
        [
            "2025-06-09 09:00",
            student,
            provider,
            "Tutoring",
            "Tutoring",
            "Completed",
            "60",
            "60",
            "minutes",
            "",
        ],
        [
            "2025-06-10 11:00",
            "Zoe Other",
            other,
            "Tutoring",
            "Tutoring",
            "Completed",
            "30",
            "30",
            "minutes",
            "",
        ],
        [
            "2025-06-10 15:30",
            student,
            provider,
            "Tutoring",
            "Tutoring",
            "Completed",
            "45",
            "45",
            "minutes",
            "Online",
        ],
    ]
    assert job.finished_at is not None
    assert job.expires_at - job.finished_at == timedelta(days=1)


def test_a_provider_exports_only_their_own_sessions(
    history, tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    job = run_export(
        django_capture_on_commit_callbacks, tenant_a.provider_user, tenant_a, "sessions", "csv"
    )

    rows = csv_rows(job)
    # Their earnings; the client amount only where the center shows it to providers.
    assert rows[0] == [*SESSION_HEADER, "Provider earnings"]
    assert [(row[0], row[1]) for row in rows[1:]] == [
        ("2025-06-09 09:00", tenant_a.student.name),
        ("2025-06-10 15:30", tenant_a.student.name),
    ]


def test_a_student_exports_only_their_own_sessions_without_money(
    history, tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    job = run_export(
        django_capture_on_commit_callbacks, tenant_a.student_user, tenant_a, "sessions", "csv"
    )

    rows = csv_rows(job)
    assert rows[0] == SESSION_HEADER
    assert [row[0] for row in rows[1:]] == ["2025-06-09 09:00", "2025-06-10 15:30"]


def test_the_date_range_is_of_the_centers_days_both_included(
    history, tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    job = run_export(
        django_capture_on_commit_callbacks,
        tenant_a.admin,
        tenant_a,
        "sessions",
        "csv",
        start="2025-06-10",
        end="2025-06-10",
    )

    assert [row[0] for row in csv_rows(job)[1:]] == ["2025-06-10 11:00", "2025-06-10 15:30"]
    assert job.title == "Sessions of Alpha Tutoring, 2025-06-10 to 2025-06-10"
    assert job.params == {"start": "2025-06-10", "end": "2025-06-10"}


def test_the_excel_file_holds_the_same_rows_typed(
    history, tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    job = run_export(
        django_capture_on_commit_callbacks, tenant_a.admin, tenant_a, "sessions", "xlsx"
    )

    assert job.status == ExportStatus.DONE
    from reports.export_jobs.services import exports_storage

    with exports_storage().open(job.file, "rb") as handle:
        sheets = xlsx_rows(handle.read())
    [(title, rows)] = sheets.items()
    assert title == "Sessions of Alpha Tutoring"
    assert list(rows[0]) == [*SESSION_HEADER, "Provider earnings", "Client amount"]
    first = rows[1]
    # Wall-clock times of the center (Excel has no time zones), numbers as numbers.
    assert first[:9] == (
        datetime(2025, 6, 9, 9, 0),
        tenant_a.student.name,
        tenant_a.provider.name,
        "Tutoring",
        "Tutoring",
        "Completed",
        60,
        60,
        "minutes",
    )
    assert isinstance(first[12], float | int | Decimal)
    assert len(rows) == 4


def test_a_bad_filter_is_refused_when_the_job_is_started(tenant_a: Tenant) -> None:
    with raises_exactly(ExportParamsError, "“June” is not a date (YYYY-MM-DD)."):
        export_start(
            membership=member(tenant_a.admin, tenant_a.organization),
            source="sessions",
            params={"start": "June"},
            export_format="csv",
        )
    with raises_exactly(ExportParamsError, "The end date is before the start date."):
        export_start(
            membership=member(tenant_a.admin, tenant_a.organization),
            source="sessions",
            params={"start": "2025-06-10", "end": "2025-06-01"},
            export_format="csv",
        )


def test_a_student_exports_their_hours_history(
    history, tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    job = run_export(
        django_capture_on_commit_callbacks, tenant_a.student_user, tenant_a, "history", "csv"
    )

    rows = csv_rows(job)
    assert rows[0][:8] == [
        "When",
        "Change",
        "Grant",
        "Package",
        "Unit",
        "Total change",
        "Used change",
        "Held change",
    ]
    changes = [(row[1], row[5], row[6], row[7]) for row in rows[1:]]
    # Bought 10 h, 10 h held by the pairing, 1 h then 45 min consumed from the hold.
    assert changes == [
        ("Credit", "600", "0", "0"),
        ("Hold", "0", "0", "600"),
        ("Consumed", "0", "60", "-60"),
        ("Consumed", "0", "45", "-45"),
    ]
    assert all(row[8] in ("", tenant_a.provider.name) for row in rows[1:])
    assert job.title == f"Hours history of {tenant_a.student.name}"


def test_an_admin_exports_a_named_students_history_and_a_provider_may_not(
    history, tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    job = run_export(
        django_capture_on_commit_callbacks,
        tenant_a.admin,
        tenant_a,
        "history",
        "csv",
        student=str(history.other_student.public_id),
    )
    assert [row[1] for row in csv_rows(job)[1:]] == ["Credit", "Hold", "Consumed"]

    from matchpal.errors import PermissionDeniedError

    with raises_exactly(PermissionDeniedError, "Your role may not export this report."):
        export_start(
            membership=member(tenant_a.provider_user, tenant_a.organization),
            source="history",
            params={},
            export_format="csv",
        )
    with raises_exactly(ExportParamsError, "Choose a student."):
        export_start(
            membership=member(tenant_a.admin, tenant_a.organization),
            source="history",
            params={"student": "not-a-uuid"},
            export_format="csv",
        )


def test_text_that_looks_like_a_formula_stays_text(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks
) -> None:
    tenant_a.student.name = "=cmd|' /C calc'!A0"
    tenant_a.student.save()
    make_history(tenant_a)

    job = run_export(
        django_capture_on_commit_callbacks, tenant_a.admin, tenant_a, "sessions", "csv"
    )
    assert csv_rows(job)[1][1] == "'=cmd|' /C calc'!A0"

    job = run_export(
        django_capture_on_commit_callbacks, tenant_a.admin, tenant_a, "sessions", "xlsx"
    )
    from reports.export_jobs.services import exports_storage

    with exports_storage().open(job.file, "rb") as handle:
        data = handle.read()
    [rows] = xlsx_rows(data).values()
    assert rows[1][1] == "=cmd|' /C calc'!A0"
    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        sheet_xml = workbook.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml  # no formula anywhere in the sheet


def test_a_job_whose_requester_left_stays_for_the_admins_and_fails_with_a_message(
    tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    from reports.export_jobs.models import ExportJob
    from reports.export_jobs.services import export_run

    job = export_start(
        membership=member(tenant_a.provider_user, tenant_a.organization),
        source="sessions",
        params={},
        export_format="csv",
    )
    member(tenant_a.provider_user, tenant_a.organization).delete()

    assert export_run(job_pk=job.pk) == ExportStatus.FAILED
    job = ExportJob.objects.get(pk=job.pk)
    assert (job.membership, job.status, job.error) == (
        None,
        "failed",
        "The member who asked for this export has left the organization.",
    )


def test_a_date_out_of_bounds_is_refused(tenant_a: Tenant) -> None:
    from matchpal import bounds

    with raises_exactly(ExportParamsError, bounds.out_of_range()):
        export_start(
            membership=member(tenant_a.admin, tenant_a.organization),
            source="sessions",
            params={"end": "9999-12-31"},
            export_format="csv",
        )
