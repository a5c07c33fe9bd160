"""Benchmark the `allocation_same_student` trigger when it fires thousands of times in one
transaction, with its function as grants.0005 wrote it and as grants.0007 rewrote it.

Creates (dropping it first if it exists) a scratch PostgreSQL database next to the one in
DATABASE_URL, migrates it, loads one organization with --pairings students, each paired once
and holding one grant (one allocation each), and ANALYZEs. Then, on one connection and in one
transaction rolled back afterwards, for each of the trigger's tables:

- allocations: --firings new grants held by existing relationships (one firing per allocation);
- grants and relationships: --firings pairings moved, grant and relationship together, to new
  students (one firing per grant and one per relationship).

The deferred checks run at `SET CONSTRAINTS allocation_same_student IMMEDIATE`, the time
printed. Each run happens with the function of grants.0007 (current) and, after migrating the
grants app back to 0006, the one before it; then the database is migrated forward again.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        scripts/bench_allocation_trigger.py [--pairings 20000] [--firings 4000]

Not a test: it prints a markdown table. Only a database whose name contains "bench" is dropped.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_reconcile import setup_django  # noqa: E402
from scripts.benchkit import database_url, recreate  # noqa: E402

BEFORE = "0006_entry_allocation_same_relationship"

LOAD = """
INSERT INTO students_student (public_id, name, email, phone, guardian_name, guardian_email,
                              status, notes, created_at, updated_at, organization_id)
SELECT gen_random_uuid(), 'Student ' || n, 's' || n || '@bench.example', '', '', '',
       'active', '', now(), now(), %(org)s
  FROM generate_series(1, %(students)s) n;
INSERT INTO relationships_relationship (public_id, unit, status, created_at, organization_id,
                                        provider_id, service_type_id, student_id, client_rate,
                                        provider_pay_rate, paired_at)
SELECT gen_random_uuid(), 'minutes', 'paired', now(), %(org)s, %(provider)s, %(service)s, s.id,
       0, 0, now()
  FROM students_student s
 WHERE s.organization_id = %(org)s
 ORDER BY s.id
 LIMIT %(pairings)s;
INSERT INTO grants_grant (public_id, unit, total, used, held, valid_from, status, source,
                          reference, created_at, organization_id, student_id)
SELECT gen_random_uuid(), 'minutes', 600, 0, 300, now(), 'active', 'manual', '', now(),
       %(org)s, r.student_id
  FROM relationships_relationship r
 WHERE r.organization_id = %(org)s;
INSERT INTO grants_allocation (held, consumed, created_at, organization_id, relationship_id,
                               grant_id)
SELECT 300, 0, now(), %(org)s, r.id, g.id
  FROM relationships_relationship r
  JOIN grants_grant g ON g.student_id = r.student_id
 WHERE r.organization_id = %(org)s;
"""

# --firings allocations of new grants, on the first relationships.
NEW_ALLOCATIONS = """
WITH picked AS (
    SELECT r.id AS relationship_id, r.student_id
      FROM relationships_relationship r
     WHERE r.organization_id = %(org)s
     ORDER BY r.id
     LIMIT %(firings)s
), grants AS (
    INSERT INTO grants_grant (public_id, unit, total, used, held, valid_from, status, source,
                              reference, created_at, organization_id, student_id)
    SELECT gen_random_uuid(), 'minutes', 60, 0, 60, now(), 'active', 'manual', '', now(),
           %(org)s, student_id
      FROM picked
    RETURNING id, student_id
)
INSERT INTO grants_allocation (held, consumed, created_at, organization_id, relationship_id,
                               grant_id)
SELECT 60, 0, now(), %(org)s, p.relationship_id, g.id
  FROM picked p JOIN grants g USING (student_id);
"""

# --firings pairings (the grant and the relationship) moved to the students without one.
MOVED_PAIRINGS = """
CREATE TEMPORARY TABLE moved ON COMMIT DROP AS
SELECT r.id AS relationship_id, r.student_id AS old_student, s.id AS new_student
  FROM (SELECT id, student_id, row_number() OVER (ORDER BY id) AS n
          FROM relationships_relationship WHERE organization_id = %(org)s) r
  JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n
          FROM students_student s
         WHERE organization_id = %(org)s
           AND NOT EXISTS (SELECT FROM relationships_relationship x WHERE x.student_id = s.id)) s
 USING (n)
 WHERE r.n <= %(firings)s;
UPDATE grants_grant g SET student_id = m.new_student FROM moved m
 WHERE g.student_id = m.old_student;
UPDATE relationships_relationship r SET student_id = m.new_student FROM moved m
 WHERE r.id = m.relationship_id;
"""


def load(pairings: int, firings: int) -> int:
    """One organization, its pairings, grants and allocations; returns its id."""
    from django.db import connection

    from matchpal.models import Organization, ServiceType
    from providers.models import Provider

    org = Organization.objects.create(name="Trigger bench", slug="trigger-bench")
    service = ServiceType.objects.create(organization=org, name="Tutoring")
    provider = Provider.objects.create(organization=org, name="Provider", email="p@bench.example")
    with connection.cursor() as cursor:
        cursor.execute(
            LOAD,
            {
                "org": org.pk,
                "provider": provider.pk,
                "service": service.pk,
                "students": pairings + firings,
                "pairings": pairings,
            },
        )
        cursor.execute("VACUUM ANALYZE")
    return org.pk


def timed_firings(org: int, firings: int, statement: str) -> tuple[float, float]:
    """(writing ms, checking ms) of `statement` in one transaction on a fresh connection,
    rolled back: the checks are the deferred trigger's, run at SET CONSTRAINTS."""
    from django.db import connection, transaction

    connection.close()  # a new connection: PL/pgSQL's plan cache starts empty
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(statement, {"org": org, "firings": firings})
        written = time.perf_counter()
        cursor.execute("SET CONSTRAINTS allocation_same_student IMMEDIATE")
        checked = time.perf_counter()
        transaction.set_rollback(True)
    return (written - started) * 1000, (checked - written) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairings", type=int, default=20_000)
    parser.add_argument("--firings", type=int, default=4_000)
    parser.add_argument("--name", default="matchpal_bench_trigger")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (any database on it).")
    if args.firings > args.pairings:
        raise SystemExit("--firings cannot exceed --pairings.")

    recreate(base, args.name)
    setup_django(database_url(base, args.name))
    from django.core.management import call_command
    from django.db import connection

    org = load(args.pairings, args.firings)
    runs = [
        ("allocations written", NEW_ALLOCATIONS, args.firings),
        ("grants and relationships moved", MOVED_PAIRINGS, 2 * args.firings),
    ]
    rows = []
    for version, migrate_to in (("0007 (one query per table)", None), ("0005 (CASE)", BEFORE)):
        if migrate_to:
            call_command("migrate", "grants", migrate_to, verbosity=0)
        for label, statement, fired in runs:
            written, checked = timed_firings(org, args.firings, statement)
            rows.append((version, label, fired, written, checked))
    call_command("migrate", "grants", verbosity=0)

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(f"PostgreSQL {server}, Python {platform.python_version()}, {platform.machine()}")
    print(
        f"{args.pairings:,} pairings, each a relationship holding one grant; load average "
        f"{' '.join(f'{n:.2f}' for n in os.getloadavg())}\n"
    )
    print("| function | rows written in one transaction | firings | writing ms | checks ms |")
    print("|---|---|---:|---:|---:|")
    for version, label, fired, written, checked in rows:
        print(f"| {version} | {label} | {fired:,} | {written:.0f} | {checked:.0f} |")


if __name__ == "__main__":
    main()
