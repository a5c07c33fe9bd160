"""scripts/backup_restore_check.py on the demo center: pg_dump (custom format), pg_restore into a
new database, the same row count in every table and reconcile_grants clean on the copy; the
copy is dropped afterwards (docs/deploy.md, "Backups")."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from grants.models import GrantEntry
from tests.compose import ROOT

pytestmark = [pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def databases() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database")
        return {name for (name,) in cursor.fetchall()}


def test_the_demo_database_backs_up_restores_and_checks_out() -> None:
    call_command("seed_demo", verbosity=0)
    assert GrantEntry.objects.count() > 10

    result = subprocess.run(
        [sys.executable, "scripts/backup_restore_check.py", "--database-url", database_url()],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    name = connection.settings_dict["NAME"]
    assert lines[0].startswith(f"backup: pg_dump of {name} → ")
    assert lines[1].startswith(f"restore: pg_restore into {name}_restore_")
    assert lines[2].startswith("rows: the same in all ")
    assert lines[3:] == [
        "reconcile_grants on the copy: no difference",
        lines[4],
        "OK: the backup restores and checks out",
    ]
    assert lines[4].startswith(f"dropped: {name}_restore_")
    # The copy is gone (other databases of the server come and go: only ours are looked at).
    assert [db for db in databases() if db.startswith(f"{name}_restore_")] == []
