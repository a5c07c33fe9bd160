"""Benchmark a report export job beside PostgreSQL's own `COPY (select …) TO STDOUT` of the
same rows, in the same run (issue 12, item 6: within 5× of COPY, with flat memory).

For each size it picks a date range of the organization's sessions holding about that many
rows (all of them by default), then measures, each in a process of its own:

- COPY: the sessions export's own query (`reports.export_jobs.sources.sessions_rows`, as the
  organization's first admin sees it: every session, with the money columns), run as
  `COPY (…) TO STDOUT (FORMAT csv, HEADER)` and written to a temporary file;
- the export: the job as the Celery worker runs it (`services.export_run`): the rows through
  the server-side cursor, written as CSV (or Excel with `--format xlsx`), progress committed
  every few thousand rows, the file saved in a temporary exports folder.

It prints a markdown table: rows, seconds of each, their ratio, the export's rows per second,
and the peak resident memory of the exporting process beside its memory before the export
(`resource.getrusage`), with the load average before and after. The job row and its file are
deleted afterwards. Run it on a copy of the large center, never on a live database:

    createdb -T scale bench_exports_scale
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_exports_scale \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_exports_scale \\
        .venv/bin/python scripts/bench_exports.py --org scale --sizes 100000,all
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchkit import cpu_model  # noqa: E402


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-exports-only")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("EMAIL_CONSOLE", "true")  # DEBUG off needs a mailer: print
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL copy of the large center.")
    import django

    django.setup()


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def admin_of(slug: str) -> Any:
    from matchpal.models import Membership, Role

    membership = (
        Membership.objects.select_related("organization", "user")
        .filter(organization__slug=slug, role=Role.ADMIN)
        .order_by("id")
        .first()
    )
    if membership is None:
        raise SystemExit(f"No organization “{slug}” with an admin.")
    return membership


def params_for(membership: Any, size: int | None) -> tuple[dict[str, str], int]:
    """A date range (the center's days) ending where about `size` sessions are reached, or
    none (every session); and the number of rows it holds."""
    from django.utils import timezone

    from reports.export_jobs.sources import sessions_rows

    organization = membership.organization
    values, _ = sessions_rows(organization, membership, {})
    if size is not None:
        starts = list(
            values.order_by("starts_at").values_list("starts_at", flat=True)[size - 1 :][:1]
        )
        if starts:
            end = timezone.localtime(starts[0], organization.tz).date()
            params = {"end": end.isoformat()}
            values, _ = sessions_rows(organization, membership, params)
            return params, values.order_by().count()
    return {}, values.order_by().count()


def child_copy(slug: str, params: dict[str, str]) -> dict[str, Any]:
    from django.db import connection

    from reports.export_jobs.sources import sessions_rows

    membership = admin_of(slug)
    values, _ = sessions_rows(membership.organization, membership, params)
    query, query_params = values.query.sql_with_params()
    statement = f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER)"
    size = 0
    started = time.perf_counter()
    with (
        tempfile.TemporaryFile() as out,
        connection.cursor() as cursor,
        cursor.cursor.copy(statement, query_params) as copy,
    ):
        for block in copy:
            out.write(block)
            size += len(block)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": size}


def child_export(slug: str, params: dict[str, str], export_format: str) -> dict[str, Any]:
    from reports.export_jobs.models import ExportJob
    from reports.export_jobs.services import export_run, exports_storage

    membership = admin_of(slug)
    job = ExportJob.objects.create(
        organization=membership.organization,
        membership=membership,
        source="sessions",
        title="Benchmark",
        params=params,
        format=export_format,
    )
    before = rss_kb()
    started = time.perf_counter()
    status = export_run(job_pk=job.pk)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    job.refresh_from_db()
    result = {
        "status": str(status),
        "error": job.error,
        "rows": job.rows_done,
        "seconds": seconds,
        "bytes": job.file_size or 0,
        "rss_before_kb": before,
        "peak_rss_kb": peak,
    }
    if job.file:
        exports_storage().delete(job.file)
    job.delete()
    return result


def in_child(*arguments: str, exports_dir: str) -> dict[str, Any]:
    env = {**os.environ, "MATCHPAL_EXPORTS_DIR": exports_dir}
    run = subprocess.run(
        [sys.executable, __file__, *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)} failed:\n{run.stdout}\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--org", default="scale", help="the organization's slug")
    parser.add_argument(
        "--sizes", default="all", help="comma-separated row counts, or 'all' (default)"
    )
    parser.add_argument("--format", default="csv", choices=["csv", "xlsx"])
    parser.add_argument("--child", choices=["copy", "export"], help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_django()

    if args.child == "copy":
        print(json.dumps(child_copy(args.org, json.loads(args.params))))
        return
    if args.child == "export":
        print(json.dumps(child_export(args.org, json.loads(args.params), args.format)))
        return

    membership = admin_of(args.org)
    sizes = [None if s.strip() == "all" else int(s) for s in args.sizes.split(",")]
    print(f"# Export of sessions ({args.format}) beside COPY, organization “{args.org}”")
    print(f"{os.cpu_count()} cores, {cpu_model()}; load average before: {load_average()}")
    print()
    print(
        "| rows | COPY s | export s | export ÷ COPY | export rows/s | peak RSS MB "
        "| RSS before MB | COPY MB | file MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as exports_dir:
        for size in sizes:
            params, rows = params_for(membership, size)
            encoded = json.dumps(params)
            common = ("--org", args.org, "--params", encoded, "--format", args.format)
            copied = in_child("--child", "copy", *common, exports_dir=exports_dir)
            exported = in_child("--child", "export", *common, exports_dir=exports_dir)
            if exported["status"] != "done":
                raise SystemExit(f"The export failed: {exported['error']}")
            assert exported["rows"] == rows, (exported["rows"], rows)
            ratio = exported["seconds"] / copied["seconds"]
            print(
                f"| {rows:,} | {copied['seconds']:.2f} | {exported['seconds']:.2f} | "
                f"{ratio:.1f}× | {rows / exported['seconds']:,.0f} | "
                f"{exported['peak_rss_kb'] / 1024:.0f} | {exported['rss_before_kb'] / 1024:.0f} | "
                f"{copied['bytes'] / 2**20:.0f} | {exported['bytes'] / 2**20:.0f} |"
            )
    print()
    print(f"Load average after: {load_average()}")


if __name__ == "__main__":
    main()
