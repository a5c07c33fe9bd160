"""Time (and optionally profile) the Python cost of one request and of one session log.

Builds the logging benchmark's organization (`scripts/bench_logging.py`) in a scratch database,
then, in this one process with DEBUG off, times N iterations each of: `GET /healthz`,
`GET /o/<org>/students/new/` as the organization's admin, the provider's log form POST and
`session_log` alone. Prints median and p95 per step, wall-clock and this process's CPU time,
with the load average; `--profile STEP` prints cProfile's top functions for that step instead.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        scripts/profile_request.py [--iterations 300] [--profile students_create [--sort tottime]]

Not a test: nothing here asserts.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_logging import DURATION, build, setup_django  # noqa: E402
from scripts.benchkit import (  # noqa: E402
    database_url,
    log_form_data,
    percentile,
    post_form,
    recreate,
)


def steps(
    slug: str, provider_id: int, relationship_ids: list[str]
) -> dict[str, Callable[[int], None]]:
    """Each step, called with the iteration number; each one minute earlier than the last."""
    from django.test import Client as HttpClient
    from django.urls import reverse
    from django.utils import timezone

    from matchpal.models import Membership, Role, User
    from relationships.models import Relationship
    from sessions_app import services

    admin = User.objects.get(memberships__organization__slug=slug, memberships__role=Role.ADMIN)
    provider = User.objects.get(pk=provider_id)
    admin_http = HttpClient()
    admin_http.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    provider_http = HttpClient()
    provider_http.force_login(provider, backend="django.contrib.auth.backends.ModelBackend")
    membership = Membership.objects.select_related("user", "organization").get(
        user=provider, organization__slug=slug
    )
    relationships = [Relationship.objects.get(public_id=p) for p in relationship_ids]
    base = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    create_url = reverse("students:create", args=[slug])
    counter = {"form": 0, "service": 100_000}

    def healthz(i: int) -> None:
        assert admin_http.get("/healthz").status_code == 200

    def students_create(i: int) -> None:
        assert admin_http.get(create_url).status_code == 200

    def next_start() -> tuple[Relationship, object]:
        n = counter["form"]
        counter["form"] += 1
        relationship = relationships[n % len(relationships)]
        return relationship, base - timedelta(minutes=n // len(relationships))

    def log_form(i: int) -> None:
        relationship, starts_at = next_start()
        # As `bench_logging.py` does: the redirect is never followed, so without this each POST
        # would carry every earlier "Session logged." until the cookie spilled into the session.
        provider_http.cookies.pop("messages", None)
        response = post_form(
            provider_http,
            reverse("sessions_app:log", args=[slug, relationship.public_id]),
            log_form_data(starts_at, membership.organization.tz, DURATION),
        )
        assert response.status_code in (200, 302), response.status_code

    def log_service(i: int) -> None:
        relationship, starts_at = next_start()
        services.session_log(
            membership=membership,
            relationship=relationship,
            starts_at=starts_at,
            duration=DURATION,
        )

    return {
        "healthz": healthz,
        "students_create": students_create,
        "log_form": log_form,
        "log_service": log_service,
    }


def timed(step: Callable[[int], None], iterations: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each iteration: the CPU time is this process's own
    (Python's, and psycopg's), without the waits on PostgreSQL that a loaded machine
    lengthens."""
    for i in range(20):  # warm up: imports, template cache, connection
        step(i)
    wall, cpu = [], []
    for i in range(iterations):
        start, start_cpu = time.perf_counter(), time.process_time()
        step(i)
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--profile", default="", help="a step to profile instead of timing")
    parser.add_argument("--sort", default="cumulative", help="cProfile's order (or tottime)")
    parser.add_argument("--lines", type=int, default=60, help="cProfile's lines to print")
    parser.add_argument("--name", default="matchpal_bench_profile", help="scratch database")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    recreate(base_url, args.name)
    # Static URLs without a collected manifest: what `scripts/bench_pages.py` does too.
    os.environ.setdefault("MATCHPAL_PLAIN_STATIC", "true")
    setup_django(database_url(base_url, args.name))
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    slug, clients = build(1)
    table = steps(slug, clients[0].user_id, clients[0].relationships["spread"])
    if args.profile:
        step = table[args.profile]
        timed(step, 5)
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(args.iterations):
            step(i)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
        return 0
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print("| step | wall median / p95 ms | CPU median / p95 ms |")
    print("|---|---:|---:|")
    for name, step in table.items():
        wall, cpu = timed(step, args.iterations)
        print(
            f"| {name} | {percentile(wall, 50):.2f} / {percentile(wall, 95):.2f} "
            f"| {percentile(cpu, 50):.2f} / {percentile(cpu, 95):.2f} |"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
