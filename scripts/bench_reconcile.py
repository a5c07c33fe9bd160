"""Benchmark `reconcile_grants` on a large organization, in a database of its own.

Creates (dropping it first if it exists) a scratch PostgreSQL database next to the one in
DATABASE_URL, migrates it, loads one large organization with COPY — by default 20,000 grants
(2,000 students, ten each), 20,000 allocations and 200,000 ledger entries — plus a few small
organizations, and prints, from the same run, the time of:

- two baselines: a `COPY … TO STDOUT` of the whole entries table (what reading every ledger
  row costs the server at all, issue 11's yardstick), and one plain aggregate over it (count
  and sums), the least any recomputation from the ledger has to read;
- `find_differences()` over every organization, and scoped to the large one (what
  `manage.py reconcile_grants [--organization SLUG]` runs);

then checks that three balances broken by raw UPDATEs are exactly what it reports.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        scripts/bench_reconcile.py [--grants 20000] [--name matchpal_bench_reconcile]

Not a test: it prints a markdown table. Only a database whose name contains "bench" is dropped.
"""

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchkit import database_url, recreate  # noqa: E402

ENTRIES_PER_GRANT = 10
GRANTS_PER_STUDENT = 10
SMALL_ORGANIZATIONS = 4


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-reconcile-only")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("EMAIL_CONSOLE", "true")  # DEBUG off needs a mailer: print
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def copy_rows(cursor, model, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """COPY `rows` (column → value) into the model's table; absent columns take `None`."""
    columns = [f.column for f in model._meta.concrete_fields]
    table = sql.Identifier(model._meta.db_table)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row.get(c) for c in columns])
    cursor.execute(
        sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {}))").format(
            table
        ),
        [model._meta.db_table],
    )


def load(grants_wanted: int) -> tuple[int, str, int]:
    """The large organization and a few small ones. Returns (large org id, its slug, entries)."""
    from django.db import DatabaseError, connection, transaction

    from grants import balances
    from grants.models import Allocation, Grant, GrantEntry
    from matchpal.models import Organization, ServiceType
    from providers.models import Provider
    from relationships.models import Relationship
    from students.models import Student

    now = datetime.now(UTC).replace(microsecond=0)
    ids = {"grant": 0, "allocation": 0, "entry": 0}
    grants, allocations, entries = [], [], []

    def organization(slug: str, students_wanted: int) -> Organization:
        org = Organization.objects.create(name=slug.replace("-", " ").title(), slug=slug)
        tutoring = ServiceType.objects.create(organization=org, name="Tutoring")
        providers = Provider.objects.bulk_create(
            Provider(organization=org, name=f"Provider {n}", email=f"p{n}@{slug}.example")
            for n in range(max(students_wanted // 40, 1))
        )
        students = Student.objects.bulk_create(
            Student(organization=org, name=f"Student {n}", email=f"s{n}@{slug}.example")
            for n in range(students_wanted)
        )
        relationships = Relationship.objects.bulk_create(
            Relationship(
                organization=org,
                student=student,
                provider=providers[n % len(providers)],
                service_type=tutoring,
                status="paired",
            )
            for n, student in enumerate(students)
        )
        for student, rel in zip(students, relationships, strict=True):
            for k in range(GRANTS_PER_STUDENT):
                ledger_of_one_grant(org.pk, student.pk, rel.pk, k)
        return org

    def ledger_of_one_grant(org: int, student: int, rel: int, k: int) -> None:
        """Credit 600, hold 300, six sessions of 30 from the hold, one restored, 60 released:
        total 600, used 150, held 90 (usable 360)."""
        ids["grant"] += 1
        ids["allocation"] += 1
        grant, allocation = ids["grant"], ids["allocation"]
        start = now - timedelta(days=400) + timedelta(minutes=grant)
        grants.append(
            {
                "id": grant,
                "public_id": uuid.uuid4(),
                "organization_id": org,
                "student_id": student,
                "unit": "minutes",
                "total": 600,
                "used": 150,
                "held": 90,
                "valid_from": start,
                "expires_at": start + timedelta(days=365 + k) if k % 3 else None,
                "status": "active",
                "source": "manual",
                "reference": f"Invoice {grant}",
                "created_at": start,
            }
        )
        allocations.append(
            {
                "id": allocation,
                "organization_id": org,
                "relationship_id": rel,
                "grant_id": grant,
                "held": 90,
                "consumed": 150,
                "created_at": start,
            }
        )
        steps = [("credit", 600, 0, 0, 600, False), ("hold", 0, 0, 300, -300, True)]
        steps += [("consume", 0, 30, -30, 0, True)] * 6
        steps += [("restore", 0, -30, 30, 0, True), ("release", 0, 0, -60, 60, True)]
        assert len(steps) == ENTRIES_PER_GRANT
        for n, (kind, total, used, held, usable, on_allocation) in enumerate(steps):
            ids["entry"] += 1
            entries.append(
                {
                    "id": ids["entry"],
                    "organization_id": org,
                    "grant_id": grant,
                    "allocation_id": allocation if on_allocation else None,
                    "kind": kind,
                    "total_delta": total,
                    "used_delta": used,
                    "held_delta": held,
                    "usable_delta": usable,
                    "relationship_id": rel if on_allocation else None,
                    "reason": "",
                    "created_at": start + timedelta(hours=n),
                }
            )

    large = organization("large-center", grants_wanted // GRANTS_PER_STUDENT)
    for n in range(SMALL_ORGANIZATIONS):
        organization(f"small-center-{n}", 20)
    with transaction.atomic(), connection.cursor() as cursor:
        try:
            with transaction.atomic():
                # The rows are consistent by construction: skip the million or so deferred key
                # checks at commit (a superuser may; otherwise they run, only slower).
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            pass
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        copy_rows(raw, Grant, grants)
        copy_rows(raw, Allocation, allocations)
        copy_rows(raw, GrantEntry, entries)
        # Loaded without the ledger's services: the students' summaries from the grants.
        balances.rebuild()
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return large.pk, large.slug, len(entries)


def timed(call, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(median, fastest) in milliseconds, after one warm-up run."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grants", type=int, default=20_000)
    parser.add_argument("--name", default="matchpal_bench_reconcile")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (any database on it).")

    load_before = os.getloadavg()[0]  # the machine's other work shows in the figures
    recreate(base, args.name)
    setup_django(database_url(base, args.name))
    from django.db import connection

    from grants.models import Allocation, Grant, GrantEntry
    from grants.reconcile import find_differences

    started = time.perf_counter()
    large_id, slug, _ = load(args.grants)
    load_seconds = time.perf_counter() - started
    counts = (Grant.objects.count(), Allocation.objects.count(), GrantEntry.objects.count())
    large_counts = (
        Grant.objects.filter(organization_id=large_id).count(),
        GrantEntry.objects.filter(organization_id=large_id).count(),
    )

    def copy_out() -> None:
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy("COPY grants_grantentry TO STDOUT") as copy,
        ):
            for _block in copy:
                pass

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), sum(total_delta), sum(used_delta), sum(held_delta), "
                "sum(usable_delta) FROM grants_grantentry"
            )
            cursor.fetchall()

    assert find_differences() == [], "the generated ledger should reconcile"
    figures = [
        ("baseline: COPY of the entries table", timed(copy_out, args.runs)),
        ("baseline: count + sums over all entries", timed(baseline, args.runs)),
        ("find_differences(), every organization", timed(find_differences, args.runs)),
        (
            f"find_differences(organization={slug})",
            timed(lambda: find_differences(organization_id=large_id), args.runs),
        ),
    ]

    broken = list(
        Grant.objects.filter(organization_id=large_id)
        .order_by("?")
        .values_list("pk", flat=True)[:3]
    )
    Grant.objects.filter(pk__in=broken).update(used=151)
    found = sorted(d.pk for d in find_differences(organization_id=large_id))
    assert found == sorted(broken), (found, broken)

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(
        f"PostgreSQL {server}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load_before:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print(
        f"{counts[0]:,} grants, {counts[1]:,} allocations, {counts[2]:,} entries in all; "
        f"the large organization: {large_counts[0]:,} grants, {large_counts[1]:,} entries "
        f"(loaded in {load_seconds:.1f} s)\n"
    )
    print("| query | median ms | fastest ms | × COPY | × count + sums |")
    print("|---|---:|---:|---:|---:|")
    copy_median, sums_median = figures[0][1][0], figures[1][1][0]
    for label, (median, fastest) in figures:
        print(
            f"| {label} | {median:.1f} | {fastest:.1f} | {median / copy_median:.2f} | "
            f"{median / sums_median:.2f} |"
        )
    print(f"\nThree balances broken by raw UPDATEs: reported exactly ({len(found)} differences).")


if __name__ == "__main__":
    main()
