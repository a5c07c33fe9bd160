"""The tests marked `sqlite` run again on SQLite, the database `make run` uses by default, so
every message a person can meet reads the same on both databases.

The run is a subprocess with a SQLite DATABASE_URL (settings pick the database at import, so it
cannot switch inside this process). Run it alone with `pytest tests/test_on_sqlite.py`.
"""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_the_sqlite_marked_tests_pass_on_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'matchpal.sqlite3'}"}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-m", "sqlite", "--create-db", "-q"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
