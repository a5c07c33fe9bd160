"""Back a database up, restore it into a new one, and check the copy (docs/deploy.md, "Backups").

    python scripts/backup_restore_check.py [--database-url URL] [--dump FILE] [--keep]

1. `pg_dump --format=custom` of the database (DATABASE_URL by default) into a file: the backup
   as the documented schedule takes it.
2. A new database beside it (`<name>_restore_<UTC time>`), and `pg_restore` of the file into
   it, stopping at the first error.
3. The checks: every table of the `public` schema has the same number of rows in the copy as in
   the original, and `manage.py reconcile_grants` finds nothing to report on the copy (every
   grant's and hold's balance equals the sum of its ledger entries).
4. The copy is dropped (`--keep` leaves it, to look at), and so is the dump unless `--dump`
   named where to keep it.

Exit status 0 when the restored copy passes every check, 1 otherwise; each step is printed. The
PostgreSQL client programs (pg_dump, pg_restore, psql) must match the server's major version.
Run it against a database nobody writes to meanwhile (the demo database, a replica, a
maintenance window), or the row counts may differ for that reason alone.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(message, flush=True)


def libpq_env(url: str) -> tuple[dict[str, str], str]:
    """The PG* variables the client programs read for a postgres:// URL, and its database."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"Not a PostgreSQL URL: {parts.scheme}://…")
    env = dict(os.environ)
    env.update(
        {
            "PGHOST": parts.hostname or "127.0.0.1",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": unquote(parts.username or "postgres"),
        }
    )
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return env, unquote(parts.path.lstrip("/"))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr}")
    return result.stdout


# Exact row counts of every table of the public schema in one statement: each count is a query
# PostgreSQL builds itself (format's %I quotes the name).
ROW_COUNTS = """
SELECT table_name,
       (xpath('/row/c/text()',
              query_to_xml(format('SELECT count(*) AS c FROM public.%I', table_name),
                           false, true, '')))[1]::text::bigint
FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
ORDER BY table_name
"""


def row_counts(env: dict[str, str], database: str) -> dict[str, int]:
    output = run(["psql", "-X", "-d", database, "-tA", "-F", "\t", "-c", ROW_COUNTS], env)
    counts = {}
    for line in output.splitlines():
        if line.strip():
            table, count = line.split("\t")
            counts[table] = int(count)
    return counts


def check(database_url: str, dump: Path, keep: bool) -> bool:
    env, source = libpq_env(database_url)
    copy = f"{source}_restore_{datetime.now(UTC):%Y%m%d%H%M%S}"[:63]

    started = time.monotonic()
    run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dump), source], env)
    log(
        f"backup: pg_dump of {source} → {dump} ({dump.stat().st_size:,} bytes, "
        f"{time.monotonic() - started:.1f} s)"
    )

    run(["createdb", copy], env)
    try:
        started = time.monotonic()
        run(
            ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", copy, str(dump)],
            env,
        )
        log(f"restore: pg_restore into {copy} ({time.monotonic() - started:.1f} s)")

        ok = True
        original, restored = row_counts(env, source), row_counts(env, copy)
        differing = {
            table: (original.get(table), restored.get(table))
            for table in sorted(set(original) | set(restored))
            if original.get(table) != restored.get(table)
        }
        if differing:
            ok = False
            for table, (before, after) in differing.items():
                log(f"rows: {table}: {before} in {source}, {after} in {copy}")
        else:
            log(f"rows: the same in all {len(original)} tables ({sum(original.values()):,} rows)")

        reconcile = subprocess.run(
            [sys.executable, "manage.py", "reconcile_grants"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": with_database(database_url, copy)},
            capture_output=True,
            text=True,
            check=False,
        )
        if reconcile.returncode == 0:
            log("reconcile_grants on the copy: no difference")
        else:
            ok = False
            log(f"reconcile_grants on the copy: exit status {reconcile.returncode}")
            log(reconcile.stdout + reconcile.stderr)
        return ok
    finally:
        if keep:
            log(f"kept: {copy}")
        else:
            run(["dropdb", "--if-exists", copy], env)
            log(f"dropped: {copy}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--dump", type=Path, help="keep the backup file here")
    parser.add_argument("--keep", action="store_true", help="keep the restored database")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set DATABASE_URL or pass --database-url")
    try:
        if args.dump:
            ok = check(args.database_url, args.dump, args.keep)
        else:
            with tempfile.TemporaryDirectory(prefix="matchpal-backup-") as folder:
                ok = check(args.database_url, Path(folder) / "matchpal.dump", args.keep)
    except RuntimeError as error:
        log(str(error))
        return 1
    log("OK: the backup restores and checks out" if ok else "FAILED: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
