"""Benchmark session logging end to end beside PostgreSQL's own `pgbench` (TPC-B).

Creates (dropping it first if it exists) a scratch database next to the one in DATABASE_URL,
migrates it and sets up one organization: a provider login per client, each paired with
students whose grants hold plenty of hours. Then, for each mode, N client processes (default
2) log sessions as fast as they can for a fixed time, each through the provider's log form
(`POST /o/<org>/relationships/<id>/log/` with Django's test client, URL-encoded as a browser
submits that form: middleware, tenant lookup, form, `sessions_app.services.session_log` and the
ledger; `--multipart` posts it as the test client does by default, the measure of the runs
before 5 December 2026) or, with `--via service`, through the service alone:

- `hot`: every log of every client consumes from one student's one grant (each client's
  provider holds hours on it), so every log queues on that grant's row lock;
- `spread`: each client logs for its own students, one grant each, round robin.

Right after each mode, `pgbench -c N -j N -T <same seconds>` (TPC-B, its own scratch database,
`pgbench -i -s <scale>` first) measures what the same machine does at the same time with
PostgreSQL alone. It prints logs/s, pgbench's tps, their ratio and the load average, and
reconciles the ledger at the end (`grants.reconcile.find_differences`: every balance must
still equal its entries).

The student's "session logged" notice is a Celery task queued when each log commits
(`sessions_app.tasks.tell_logged`). By default (`--notices task`) the clients queue it on a
queue of the bench's own, which no worker reads and which is emptied at the end: the figure is
the provider's request alone, as a web process sees it. `--notices inline` runs the task in the
request, right after the commit, as logging did before the task existed, to compare.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        scripts/bench_logging.py [--clients 2] [--seconds 20] [--modes hot spread] \\
        [--via client|service] [--multipart] [--notices task|inline] \\
        [--name matchpal_bench_logging] \\
        [--pgbench-scale 10]

Not a test: nothing here asserts; it prints a markdown table. Only databases whose name
contains "bench" are dropped.
"""

import argparse
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchkit import (  # noqa: E402
    cpu_model,
    database_url,
    log_form_data,
    post_form,
    recreate,
)

SPREAD_STUDENTS = 20  # per client
DURATION = 30  # minutes per logged session
BENCH_QUEUE = "bench-logging"  # the notices' tasks go here: no worker reads it
PAIRED_DAYS_AGO = 360  # logs go back minute by minute from now, all after the pairing
GRACE_HOURS = 365 * 24  # the policy's upper bound: the provider may log all of them


def setup_django(url: str, notices: str = "task") -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-logging-only")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("EMAIL_CONSOLE", "true")  # DEBUG off needs a mailer: print
    # Django's test client talks to "testserver", over plain http.
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["SECURE_COOKIES"] = "false"
    os.environ.setdefault("AXES_ENABLED", "false")
    import django

    django.setup()
    from matchpal.celery import app

    # "inline": each queued task runs at once, in the request (after the log's commit).
    app.conf.task_always_eager = notices == "inline"
    app.conf.task_default_queue = BENCH_QUEUE


def purge_bench_queue() -> int:
    """Drop the notices the clients queued (nothing reads the bench's queue)."""
    from matchpal.celery import app

    with app.connection_for_write() as connection:
        return int(connection.default_channel.queue_purge(BENCH_QUEUE) or 0)


# --- The organization -----------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """One benchmark client: a provider login and the relationships it logs for, per mode."""

    user_id: int
    relationships: dict[str, list[str]]  # mode → public ids


def build(clients: int) -> tuple[str, list[Client]]:
    """The organization, with a provider login per client; returns its slug and the clients."""
    from django.utils import timezone

    from grants import services as ledger
    from matchpal.models import Membership, Organization, Role, ServiceType, User
    from providers.models import Provider
    from relationships.models import Relationship, RelationshipStatus
    from students.models import Student

    now = timezone.now()
    org = Organization.objects.create(
        name="Logging bench", slug="logging-bench", logging_grace_hours=GRACE_HOURS
    )
    tutoring = ServiceType.objects.create(organization=org, name="Tutoring")
    admin = User.objects.create_user(email="admin@bench.example", password=None)
    Membership.objects.create(user=admin, organization=org, role=Role.ADMIN)

    def student(name: str, minutes: int) -> Student:
        record = Student.objects.create(organization=org, name=name)
        ledger.grant_create(
            actor=admin,
            student=record,
            quantity=minutes,
            unit="minutes",
            service_types=[tutoring],
            valid_from=now - timedelta(days=PAIRED_DAYS_AGO + 1),
        )
        return record

    def pair(student: Student, provider: Provider, hold: int) -> str:
        relationship = Relationship.objects.create(
            organization=org,
            student=student,
            provider=provider,
            service_type=tutoring,
            status=RelationshipStatus.PAIRED,
            paired_at=now - timedelta(days=PAIRED_DAYS_AGO),
        )
        ledger.hold(actor=admin, relationship=relationship, quantity=hold)
        return str(relationship.public_id)

    hot = student("Hot Student", 6_000_000)
    built = []
    for c in range(clients):
        user = User.objects.create_user(email=f"provider{c}@bench.example", password=None)
        Membership.objects.create(user=user, organization=org, role=Role.PROVIDER)
        provider = Provider.objects.create(
            organization=org, name=f"Provider {c}", user=user, email=user.email
        )
        provider.service_types.add(tutoring, through_defaults={"organization": org})
        spread = [
            pair(student(f"Student {c}-{s}", 600_000), provider, 500_000)
            for s in range(SPREAD_STUDENTS)
        ]
        built.append(
            Client(user.pk, {"hot": [pair(hot, provider, 5_000_000 // clients)], "spread": spread})
        )
    return org.slug, built


# --- The clients ----------------------------------------------------------------------------


def client_process(
    url: str,
    slug: str,
    client: Client,
    mode: str,
    via: str,
    notices: str,
    multipart: bool,
    offset: int,
    seconds: float,
    ready: Any,
    go: Any,
    queue: Any,
) -> None:
    """Warm up, say so on `ready`, wait for `go` (which carries the wall-clock start), then
    log sessions for `seconds`, round robin over the client's relationships of `mode`, each
    one minute earlier than the last: every start is distinct. Puts (logs, failures, first
    failure) on the queue."""
    setup_django(url, notices)
    from django.test import Client as HttpClient
    from django.urls import reverse
    from django.utils import timezone

    from matchpal.models import Membership, User
    from relationships.models import Relationship
    from sessions_app import services

    user = User.objects.get(pk=client.user_id)
    relationships = [
        Relationship.objects.get(public_id=public_id) for public_id in client.relationships[mode]
    ]
    http = HttpClient()
    http.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    membership = Membership.objects.select_related("user", "organization").get(
        user=user, organization__slug=slug
    )
    base = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    tz = membership.organization.tz

    def log(i: int) -> str | None:
        relationship = relationships[i % len(relationships)]
        starts_at = base - timedelta(minutes=offset + i // len(relationships))
        if via == "service":
            services.session_log(
                membership=membership,
                relationship=relationship,
                starts_at=starts_at,
                duration=DURATION,
            )
            return None
        # The success message rides in a cookie until a page shows it; the bench never follows
        # the redirect, so without this each request would carry every earlier log's message.
        http.cookies.pop("messages", None)
        response = post_form(
            http,
            reverse("sessions_app:log", args=[slug, relationship.public_id]),
            log_form_data(starts_at, tz, DURATION),
            multipart=multipart,
        )
        if response.status_code != 302:
            return f"{response.status_code}: {response.content[:300]!r}"
        return None

    def attempt(i: int) -> str | None:
        try:
            return log(i)
        except Exception as exc:
            return repr(exc)

    warm_up = 3 * len(relationships)  # imports, URL resolver, connections
    first_failure = next(filter(None, (attempt(i) for i in range(warm_up))), "")
    logs = failures = 0
    ready.put(True)
    go.event.wait()
    start_at = go_time(go)
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < start_at + seconds:
        failure = attempt(warm_up + logs + failures)
        if failure:
            failures += 1
            first_failure = first_failure or failure
        else:
            logs += 1
    queue.put((logs, failures, first_failure))


def run_clients(
    url: str,
    slug: str,
    clients: list[Client],
    mode: str,
    via: str,
    notices: str,
    multipart: bool,
    seconds: float,
    offset: int,
) -> tuple[int, int, str]:
    context = multiprocessing.get_context("spawn")
    queue, ready = context.Queue(), context.Queue()
    manager = context.Manager()
    go = manager.Namespace()
    go.event, go.start_at = manager.Event(), 0.0
    processes = [
        context.Process(
            target=client_process,
            args=(url, slug, c, mode, via, notices, multipart, offset, seconds, ready, go, queue),
        )
        for c in clients
    ]
    for p in processes:
        p.start()
    for _ in processes:  # every process set up and warmed before the clock starts
        ready.get()
    go.start_at = time.time() + 0.2
    go.event.set()
    results = [queue.get() for _ in processes]
    manager.shutdown()
    for p in processes:
        p.join()
    logs = sum(r[0] for r in results)
    failures = sum(r[1] for r in results)
    first = next((r[2] for r in results if r[2]), "")
    return logs, failures, first


def go_time(go: Any) -> float:
    return float(go.start_at)


# --- pgbench --------------------------------------------------------------------------------


def pgbench() -> str:
    found = shutil.which("pgbench")
    if found is None:
        raise SystemExit("pgbench is not on the PATH (it comes with PostgreSQL's client tools).")
    return found


def pgbench_env(base_url: str) -> tuple[list[str], dict[str, str]]:
    parts = urlsplit(base_url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    args += ["-U", unquote(parts.username or "postgres")]
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return args, env


def pgbench_init(base_url: str, name: str, scale: int) -> None:
    recreate(base_url, name)
    args, env = pgbench_env(base_url)
    subprocess.run(
        [pgbench(), "-i", "-q", "-s", str(scale), *args, name],
        env=env,
        check=True,
        capture_output=True,
    )


def pgbench_tps(base_url: str, name: str, clients: int, seconds: int) -> float:
    args, env = pgbench_env(base_url)
    done = subprocess.run(
        [pgbench(), "-c", str(clients), "-j", str(clients), "-T", str(seconds), *args, name],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([\d.]+) \((?:without initial connection|excluding)", done.stdout)
    if not match:
        raise SystemExit(f"pgbench said:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1))


# --- Main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2, help="client processes (and pgbench's)")
    parser.add_argument("--seconds", type=int, default=20, help="length of each measurement")
    parser.add_argument("--modes", nargs="+", default=["hot", "spread"], choices=["hot", "spread"])
    parser.add_argument(
        "--via",
        default="client",
        choices=["client", "service"],
        help="the log form through Django's test client (end to end), or the service alone",
    )
    parser.add_argument(
        "--notices",
        default="task",
        choices=["task", "inline"],
        help="the logged notice queued as a task (as in production) or run in the request",
    )
    parser.add_argument(
        "--multipart",
        action="store_true",
        help="with --via client, post the form multipart (the test client's default) instead "
        "of URL-encoded as a browser does: the measure of the runs before 5 December 2026",
    )
    parser.add_argument("--name", default="matchpal_bench_logging", help="scratch database")
    parser.add_argument("--pgbench-scale", type=int, default=10, help="pgbench -i -s")
    parser.add_argument("--label", default="", help="a name for the setup, shown in the output")
    args = parser.parse_args()
    if not 1 <= args.clients <= 16 or not 1 <= args.seconds <= 600:
        sys.exit("--clients must be 1..16 and --seconds 1..600.")
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    pgbench_name = f"{args.name}_pgbench"

    recreate(base_url, args.name)
    url = database_url(base_url, args.name)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    slug, clients = build(args.clients)
    pgbench_init(base_url, pgbench_name, args.pgbench_scale)

    rows = []
    offset = 0
    for mode in args.modes:
        load_before = os.getloadavg()[0]
        logs, failures, first = run_clients(
            url, slug, clients, mode, args.via, args.notices, args.multipart, args.seconds, offset
        )
        offset += 200_000  # the next mode's starts never meet this one's (139 days back)
        load_mid = os.getloadavg()[0]
        tps = pgbench_tps(base_url, pgbench_name, args.clients, args.seconds)
        rate = logs / args.seconds
        rows.append((mode, logs, failures, rate, tps, load_before, load_mid, os.getloadavg()[0]))
        if first:
            print(f"{mode}: first failure: {first}", file=sys.stderr)

    from django.db import connection

    from grants.reconcile import find_differences

    differences = find_differences()
    connection.close()
    purge_bench_queue()

    label = f" — {args.label}" if args.label else ""
    print(f"\n### Session logging benchmark{label}\n")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.clients} clients via {args.via}, "
        f"notices {args.notices}{', multipart' if args.multipart else ''}, "
        f"{args.seconds} s each; pgbench TPC-B scale {args.pgbench_scale}, "
        f"-c {args.clients} -j {args.clients}; `{' '.join(['python', *sys.argv])}`.\n"
    )
    print("| mode | logs | failed | logs/s | pgbench tps | ratio | load before / during / after |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for mode, logs, failures, rate, tps, l0, l1, l2 in rows:
        print(
            f"| {mode} | {logs} | {failures} | {rate:.0f} | {tps:.0f} | {rate / tps:.3f}× | "
            f"{l0:.1f} / {l1:.1f} / {l2:.1f} |"
        )
    print(
        f"\nReconciliation: {len(differences)} difference(s)"
        + ("" if not differences else ": " + "; ".join(map(str, differences[:5])))
    )
    return 0 if not differences and all(r[2] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
