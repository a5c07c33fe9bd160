"""Time (and optionally profile) pages of an existing center in-process, as production serves them.

`scripts/profile_request.py` builds a small organization of its own; this one reads a center
that is already there (a copy of the generated large one, say): it signs in as the given users
with Django's test client, in this one process with DEBUG off, the static files collected into
a scratch folder (the manifest storage production uses) and the cached template loaders, and
times each page N times after warming up: wall-clock, this process's CPU time, and the time
spent waiting on the database (every statement, through a connection wrapper), with the query
count. `--profile PAGE` prints cProfile's top functions for one page instead; `--explain`
runs `EXPLAIN (ANALYZE, SUMMARY)` on every statement each page sent (SELECTs only), on a warm
connection, and prints PostgreSQL's planning and execution time per statement, the best of three.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<copy of scale> .venv/bin/python \\
        scripts/profile_pages.py --org scale [--iterations 100] [--only 'list'] \\
        [--profile students:list [--sort tottime]] [--explain]

It signs in through `force_login` (one session row written per user) and only sends GETs. Not
a test: nothing here asserts.
"""

import argparse
import cProfile
import os
import pstats
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchkit import percentile  # noqa: E402

# (role, URL name, what its URL takes besides the organization's slug). "student" and
# "relationship" stand for the signed-in student's (or any) student and one of its pairings.
PAGES: list[tuple[str, str, tuple[str, ...]]] = [
    ("admin", "org_home", ()),
    ("provider", "org_home", ()),
    ("student", "org_home", ()),
    ("admin", "students:create", ()),
    ("admin", "students:list", ()),
    ("admin", "providers:list", ()),
    ("admin", "relationships:list", ()),
    ("admin", "sessions_app:list", ()),
    ("admin", "members", ()),
    ("admin", "org_settings", ()),
    ("admin", "grants:student_hours", ("student",)),
    ("admin", "relationships:detail", ("relationship",)),
    ("admin", "grants:grant_create", ("student",)),
    ("provider", "relationships:list", ()),
    ("provider", "sessions_app:list", ()),
    ("provider", "sessions_app:check_ins", ()),
    ("provider", "sessions_app:week", ()),
    ("student", "grants:my_hours", ()),
    ("student", "relationships:detail", ("relationship",)),
    ("student", "sessions_app:week", ()),
    ("admin", "sessions_app:check_ins", ()),
    ("admin", "warning_short", ()),
    ("admin", "warning_long_gap", ()),
    ("admin", "warning_irregular", ()),
    ("admin", "warning_repeated_cancellations", ()),
    # The per-request floor: pages that read next to nothing of their own.
    ("student", "sessions_app:calendar_feed", ()),
    ("admin", "sessions_app:calendar_feed", ()),
    ("admin", "exports:list", ()),
    ("admin", "member_invite", ()),
    ("student", "sessions_app:book", ()),
    ("admin", "sessions_app:center_week", ()),
    # The provider's and the student's report downloads (under the direct downloads' cap).
    ("provider", "reports:payroll_csv", ()),
    ("provider", "reports:sessions_csv", ()),
    ("student", "reports:statement_csv", ()),
    ("student", "reports:sessions_csv", ()),
]


def setup_django(scratch: str) -> None:
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("EMAIL_CONSOLE", "true")  # DEBUG off needs a mailer: print
    os.environ.setdefault("SECRET_KEY", "profile-pages-only")
    os.environ["MATCHPAL_VAR_DIR"] = scratch
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["SECURE_COOKIES"] = "false"
    os.environ.setdefault("AXES_ENABLED", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


class DatabaseTimer:
    """Wall-clock spent inside the database driver's execute, and the statements run."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any
    ) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, ctx)
        finally:
            self.seconds += time.perf_counter() - start
            self.count += 1


@contextmanager
def database_timer() -> Iterator[DatabaseTimer]:
    from django.db import connection

    timer = DatabaseTimer()
    with connection.execute_wrapper(timer):
        yield timer


def urls(org: str, logins: dict[str, str]) -> dict[tuple[str, str], tuple[Any, str]]:
    """(role, URL name) → (signed-in client, path)."""
    from django.test import Client
    from django.urls import reverse

    from grants.models import Grant
    from matchpal.models import User
    from relationships.models import Relationship
    from students.models import Student

    clients = {}
    for role, email in logins.items():
        client = Client()
        client.force_login(
            User.objects.get(email=email), backend="django.contrib.auth.backends.ModelBackend"
        )
        clients[role] = client
    student = Student.objects.get(organization__slug=org, user__email=logins["student"])
    relationship = Relationship.objects.filter(student=student).order_by("-created_at").first()
    assert relationship is not None
    assert Grant.objects.filter(student=student).exists()
    values = {"student": student.public_id, "relationship": relationship.public_id}
    table = {}
    for role, name, needs in PAGES:
        path = reverse(name, args=[org, *(values[n] for n in needs)])
        table[(role, name)] = (clients[role], path)
    return table


def fetch(client: Any, path: str) -> Any:
    """The response, its body read: a streamed download runs its queries as it is read."""
    response = client.get(path)
    if response.streaming:
        response.body = b"".join(response.streaming_content)
    return response


def measure(client: Any, path: str, iterations: int) -> dict[str, list[float]]:
    for _ in range(10):  # warm up: imports, template cache, connection
        assert fetch(client, path).status_code == 200, path
    figures: dict[str, list[float]] = {"wall": [], "cpu": [], "db": [], "queries": []}
    for _ in range(iterations):
        with database_timer() as db:
            start, start_cpu = time.perf_counter(), time.process_time()
            response = fetch(client, path)
            cpu = (time.process_time() - start_cpu) * 1000
            wall = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (path, response.status_code)
        figures["wall"].append(wall)
        figures["cpu"].append(cpu)
        figures["db"].append(db.seconds * 1000)
        figures["queries"].append(db.count)
    return figures


# Requests before a page's statements are explained: PostgreSQL chooses between a prepared
# statement's generic and custom plans after its fifth execution on a connection.
PREPARED_WARM = 7


def explain(client: Any, path: str) -> list[tuple[float, float, str, str]]:
    """(planning ms, execution ms, plan, statement) of each SELECT the page sends, best of
    three. A statement sent prepared (`EXECUTE name(…)`, `matchpal.prebuilt`) is explained
    twice, after the page has run often enough for PostgreSQL to have chosen between its
    generic plan and a custom one (`PREPARED_WARM` requests): as PostgreSQL runs it now ("as
    run": a generic plan plans in about 0.01 ms) and with a custom plan for these values
    ("custom"). "as run" much slower than "custom" is a statement whose generic plan misleads
    the planner: a filter whose selectivity it cannot know without the values (the
    organization alone, on a table where one center holds most rows)."""
    import json

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from matchpal import prebuilt

    for _ in range(PREPARED_WARM):
        fetch(client, path)
    with CaptureQueriesContext(connection) as captured:
        assert fetch(client, path).status_code == 200, path
    statements = []
    for query in captured.captured_queries:
        for part in query["sql"].split(";\n"):
            if part.startswith("PREPARE matchpal_"):
                continue
            if part.startswith("EXECUTE matchpal_"):
                statements += [("as run", part), ("custom", part)]
            elif part.lstrip().upper().startswith("SELECT"):
                statements.append(("", part))
    figures = []
    with connection.cursor() as cursor:
        for mode, sql in statements:
            cursor.execute(
                "SET plan_cache_mode = force_custom_plan"
                if mode == "custom"
                else "RESET plan_cache_mode"
            )
            best = (float("inf"), float("inf"))
            for _ in range(3):
                cursor.execute(f"EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) {sql}")
                plan = cursor.fetchone()[0]
                plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]
                best = min(best, (plan["Planning Time"], plan["Execution Time"]))
            figures.append((best[0], best[1], mode, prebuilt.expand(sql)))
        cursor.execute("RESET plan_cache_mode")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", default="scale")
    parser.add_argument("--admin", default=None, help="default: admin@<org>.example")
    parser.add_argument("--provider", default=None, help="default: provider1@<org>.example")
    parser.add_argument("--student", default=None, help="default: student1@<org>.example")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--only", default=None, help="a regex on 'role URL-name'")
    parser.add_argument("--profile", default="", help="'role URL-name' (or URL name) to profile")
    parser.add_argument("--sort", default="cumulative", help="cProfile's order (or tottime)")
    parser.add_argument("--lines", type=int, default=60, help="cProfile's lines to print")
    parser.add_argument(
        "--explain", action="store_true", help="PostgreSQL's planning and execution per statement"
    )
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="matchpal-profile-pages-")
    try:
        setup_django(scratch)
        logins = {
            "admin": args.admin or f"admin@{args.org}.example",
            "provider": args.provider or f"provider1@{args.org}.example",
            "student": args.student or f"student1@{args.org}.example",
        }
        table = urls(args.org, logins)
        if args.profile:
            matches = [k for k in table if args.profile in (k[1], f"{k[0]} {k[1]}")]
            client, path = table[matches[0]]
            measure(client, path, 5)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.iterations):
                fetch(client, path)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
            return 0
        if args.explain:
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            print("| page | role | planning ms | execution ms | plan | statement |")
            print("|---|---|---:|---:|---|---|")
            for (role, name), (client, path) in table.items():
                if args.only and not re.search(args.only, f"{role} {name}"):
                    continue
                for planning, execution, mode, sql in explain(client, path):
                    print(
                        f"| `{name}` | {role} | {planning:.2f} | {execution:.2f} | {mode} | "
                        f"{' '.join(sql.split())[:90]} |",
                        flush=True,
                    )
            print(f"load average after: {os.getloadavg()[0]:.2f}")
            return 0
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(
            "| page | role | wall p50 / p95 ms | CPU p50 / p95 ms "
            "| in the database p50 ms | queries |"
        )
        print("|---|---|---:|---:|---:|---:|")
        for (role, name), (client, path) in table.items():
            if args.only and not re.search(args.only, f"{role} {name}"):
                continue
            f = measure(client, path, args.iterations)
            print(
                f"| `{name}` | {role} | {percentile(f['wall'], 50):.2f} / "
                f"{percentile(f['wall'], 95):.2f} | {percentile(f['cpu'], 50):.2f} / "
                f"{percentile(f['cpu'], 95):.2f} | {percentile(f['db'], 50):.2f} | "
                f"{int(percentile(f['queries'], 50))} |",
                flush=True,
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
