"""Benchmark of the reports on a large center, beside a trivial view and PostgreSQL's COPY.

    DEBUG=true DATABASE_URL=postgres://…/<copy of the scale database> \\
        python scripts/bench_reports.py [--runs 5] [--email admin@scale.example]

In this process (Django's test client, no HTTP server): `/healthz` and the Sessions report
over the last 30 days and the last 12 months, `--runs` times each (p50, p95); then the
one-line-per-session CSV of the last 12 months, streamed and read whole, beside `COPY (the same
query) TO STDOUT` on the same connection, with this process' peak RSS before and after the
export (flat memory: the two are close). Run it on a copy of the generated center, never on
the shared one: reading is all it does, but it holds its connection for minutes.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import F  # noqa: E402
from django.db.models.functions import TruncDate, TruncTime  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from matchpal.models import Membership, User  # noqa: E402
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
    rows = (
        scope.sessions()
        .order_by("starts_at", "pk")
        .values_list(
            "public_id",
            TruncDate("starts_at", tzinfo=org.tz),
            TruncTime("starts_at", tzinfo=org.tz),
            "duration_minutes",
            F("relationship__student__name"),
            F("relationship__provider__name"),
            F("relationship__service_type__name"),
            "kind",
            "status",
            "no_show_party",
            F("relationship__unit"),
            "charged_minutes",
            "charge_shortfall",
            "mode",
        )
    )
    sql, params = rows.query.sql_with_params()
    size = 0
    with connection.cursor() as cursor:
        started = time.perf_counter()
        query = "COPY (" + cursor.mogrify(sql, params) + ") TO STDOUT WITH CSV"
        with cursor.cursor.copy(query) as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--email", default="admin@scale.example")
    args = parser.parse_args()

    user = User.objects.get(email=args.email)
    membership = Membership.objects.select_related("organization").get(user=user, role="admin")
    membership.user = user
    slug = membership.organization.slug
    client = Client(HTTP_HOST="localhost")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    timed(client, "/healthz", 2)  # warm up

    print(f"# Reports benchmark — {cpu_model()}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'page':58} {'p50 s':>8} {'p95 s':>8} {'× healthz p95':>14}")
    baseline = percentile(timed(client, "/healthz", max(args.runs, 20)), 95)
    print(f"{'/healthz':58} {'':>8} {baseline:8.4f}")
    for query in ("", "?range=last_12_months", "?range=last_12_months&period=week"):
        path = f"/o/{slug}/reports/sessions/{query}"
        times = timed(client, path, args.runs)
        p95 = percentile(times, 95)
        print(f"{path:58} {percentile(times, 50):8.3f} {p95:8.3f} {p95 / baseline:14.0f}")

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
