"""`scripts/bench_exports.py`'s two measured steps run and read the same rows: COPY of the
sessions export's query, and the export job as the worker runs it. No time is asserted."""

import csv
import io

from reports.export_jobs.models import ExportJob
from scripts import bench_exports
from tests.reports.export_jobs.support import make_history
from tests.support import Tenant


def test_copy_and_the_export_read_the_same_rows(tenant_a: Tenant, clock) -> None:
    make_history(tenant_a)
    slug = tenant_a.organization.slug
    admin = bench_exports.admin_of(slug)

    # About two rows: the range ends on the day of the second session (June 10: three rows).
    assert bench_exports.params_for(admin, 2) == ({"end": "2025-06-10"}, 3)
    assert bench_exports.params_for(admin, None) == ({}, 3)

    copied = bench_exports.child_copy(slug, {})
    exported = bench_exports.child_export(slug, {}, "csv")

    assert (exported["status"], exported["rows"]) == ("done", 3)
    assert copied["bytes"] > 0
    assert exported["peak_rss_kb"] > 0
    assert exported["rss_before_kb"] > 0
    assert not ExportJob.objects.exists()  # the script leaves nothing behind


def test_copy_writes_one_line_per_session_with_the_exports_header_columns(
    tenant_a: Tenant, clock, monkeypatch
) -> None:
    make_history(tenant_a)
    lines: list[bytes] = []

    class Keep(io.BytesIO):
        def write(self, data):  # type: ignore[no-untyped-def]
            lines.append(bytes(data))
            return len(data)

    monkeypatch.setattr(bench_exports.tempfile, "TemporaryFile", Keep)
    bench_exports.child_copy(tenant_a.organization.slug, {})

    rows = list(csv.reader(io.StringIO(b"".join(lines).decode())))
    assert len(rows) == 1 + 3
    assert len(rows[0]) == 14  # the same columns as the export's header
