"""Benchmark of the reports on a large center, beside a trivial view and PostgreSQL's COPY.

    DEBUG=true DATABASE_URL=postgres://…/<copy of the scale database> \\
        python scripts/bench_reports.py [--runs 5] [--email admin@scale.example] \\
            [--only REGEX] [--no-export]

In this process (Django's test client, no HTTP server): `/healthz` and every report an admin
opens (Sessions, Payroll, Usage, Financial) over the last 30 days, the last 12 months by month
and by week, and this calendar year, `--runs` times each (p50, p95, and p95 as a multiple of
`/healthz`'s); `--only` keeps the cases whose label matches. Then (unless `--no-export`) the
one-line-per-session CSV of the last 12 months, streamed and read whole, beside `COPY (the same
query) TO STDOUT` on the same connection, with this process' peak RSS before and after the
export (flat memory: the two are close). Run it on a copy of the generated center, never on
the shared one: reading is all it does, but it holds its connection for minutes.
"""

import argparse
import os
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from matchpal.models import Membership, User  # noqa: E402
from reports.exports import session_rows  # noqa: E402
from reports.forms import preset_range  # noqa: E402
from reports.framework import Scope  # noqa: E402
from scripts.benchkit import cpu_model, percentile  # noqa: E402


def timed(client: Client, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        if response.streaming:
            for _piece in response.streaming_content:
                pass
        assert response.status_code == 200, (path, response.status_code)
        times.append(time.perf_counter() - start)
    return times


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def copy_seconds(membership: Membership) -> tuple[float, int]:
    """COPY of the rows export's own query (the last 12 months), to STDOUT as CSV."""
    org = membership.organization
    with timezone.override(org.tz):
        start, end = preset_range("last_12_months", timezone.localdate())
    scope = Scope(organization=org, membership=membership, start=start, end=end)
    rows = session_rows(scope)
    sql, params = rows.query.sql_with_params()
    size = 0
    with connection.cursor() as cursor:
        started = time.perf_counter()
        query = "COPY (" + cursor.mogrify(sql, params) + ") TO STDOUT WITH CSV"
        with cursor.cursor.copy(query) as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - started, size


# (label, report, query string): every report an admin opens, over the ranges the issue names.
CASES = [
    (f"{report} {label}", report, query)
    for report in ("sessions", "payroll", "usage", "financial")
    for label, query in (
        ("last 30 days", ""),
        ("last 12 months by month", "?range=last_12_months&period=month"),
        ("last 12 months by week", "?range=last_12_months&period=week"),
        ("this year", "?range=this_year"),
    )
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--email", default="admin@scale.example")
    parser.add_argument("--only", default="", help="Only the cases whose label matches.")
    parser.add_argument("--no-export", action="store_true", help="Leave out the CSV export.")
    args = parser.parse_args()
    only = re.compile(args.only)

    user = User.objects.get(email=args.email)
    membership = Membership.objects.select_related("organization").get(user=user, role="admin")
    membership.user = user
    slug = membership.organization.slug
    client = Client(HTTP_HOST="localhost")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    timed(client, "/healthz", 2)  # warm up

    print(f"# Reports benchmark — {cpu_model()}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'report':36} {'p50 s':>8} {'p95 s':>8} {'× healthz p95':>14}")
    baseline = percentile(timed(client, "/healthz", max(args.runs, 20)), 95)
    print(f"{'/healthz':36} {'':>8} {baseline:8.4f}")
    for label, report, query in CASES:
        if not only.search(label):
            continue
        path = f"/o/{slug}/reports/{report}/{query}"
        timed(client, path, 1)  # warm up: the plan, the caches
        times = timed(client, path, args.runs)
        p95 = percentile(times, 95)
        print(f"{label:36} {percentile(times, 50):8.3f} {p95:8.3f} {p95 / baseline:14.0f}")
    if args.no_export:
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        return

    before = peak_rss_mb()
    export = f"/o/{slug}/reports/sessions/rows.csv?range=last_12_months"
    (seconds,) = timed(client, export, 1)
    after = peak_rss_mb()
    copied, size = copy_seconds(membership)
    print(
        f"\nrows CSV, last 12 months: {seconds:.1f} s; COPY of the same query: {copied:.1f} s "
        f"({size / 1e6:.0f} MB); ratio {seconds / copied:.1f}; "
        f"peak RSS {before:.0f} MB before, {after:.0f} MB after"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
