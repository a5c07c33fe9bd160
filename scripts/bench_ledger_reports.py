"""Time the Usage and Financial reports on a large center, beside /healthz in the same run.

Reads only: point DATABASE_URL at a copy of the large generated center (never the shared
`scale` database itself: `createdb -T scale mine_scale`, then migrate the copy), and run

    DEBUG=true DATABASE_URL=postgres://…/mine_scale python scripts/bench_ledger_reports.py \
        [--org scale] [--runs 5] [--range last_12_months]

Each page is requested in-process through Django's test client as the center's first admin,
`--runs` times after one warm-up; the table gives the median and p95 (nearest rank) with the
load average, since the machine is shared. docs/reports.md keeps the latest figures.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")

import django

django.setup()

from django.test import Client  # noqa: E402

from matchpal.models import Membership, Role  # noqa: E402
from scripts.benchkit import percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", default="scale")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--range", default="last_12_months")
    args = parser.parse_args()
    admin = (
        Membership.objects.select_related("user")
        .filter(organization__slug=args.org, role=Role.ADMIN)
        .order_by("pk")
        .first()
    )
    if admin is None:
        raise SystemExit(f"No admin of “{args.org}”.")
    client = Client(HTTP_HOST="localhost")  # in ALLOWED_HOSTS with DEBUG
    client.force_login(admin.user, backend="django.contrib.auth.backends.ModelBackend")
    pages = {
        "/healthz": "/healthz",
        "usage": f"/o/{args.org}/reports/usage/?range={args.range}",
        "financial": f"/o/{args.org}/reports/financial/?range={args.range}",
    }
    print(f"{'page':<12} {'median':>9} {'p95':>9}   load average")
    for name, path in pages.items():
        client.get(path)  # warm-up
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"{name:<12} {statistics.median(times) * 1000:>7.0f}ms "
            f"{percentile(times, 95) * 1000:>7.0f}ms   {load}",
            flush=True,
        )


if __name__ == "__main__":
    main()
