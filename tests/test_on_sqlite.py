"""The tests marked `sqlite` run again on SQLite, the database `make run` uses by default, so
every message a person can meet reads the same on both databases.

The run is a subprocess with a SQLite DATABASE_URL (settings pick the database at import, so it
cannot switch inside this process). It migrates a new SQLite database, as `make run` does, and
collects only the files holding the marked tests this run collected: collecting the whole suite
again cost more than running those tests. Run alone (`pytest tests/test_on_sqlite.py`), it
collects every file and runs every marked test.
"""

import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings


def marked_files(items: Iterable[pytest.Item]) -> list[str]:
    """The files of the `sqlite`-marked tests among `items` (those this run collected); none
    when there are none (this module alone), and the subprocess then collects the whole suite."""
    return sorted({str(item.path) for item in items if item.get_closest_marker("sqlite")})


def test_the_sqlite_marked_tests_pass_on_sqlite(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'matchpal.sqlite3'}"}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run(
        [
            sys.executable,
            *("-m", "pytest", "-p", "no:xdist", "-m", "sqlite", "--create-db", "-q"),
            *marked_files(request.session.items),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


@dataclass
class Collected:
    path: Path
    marks: tuple[str, ...] = ()

    def get_closest_marker(self, name: str) -> str | None:
        return name if name in self.marks else None


def test_only_the_files_of_marked_tests_are_collected_again_each_once() -> None:
    items = [
        Collected(Path("/t/test_a.py"), ("sqlite",)),
        Collected(Path("/t/test_a.py"), ("sqlite", "browser")),
        Collected(Path("/t/test_b.py"), ("browser",)),
        Collected(Path("/t/test_c.py")),
        Collected(Path("/t/sub/test_d.py"), ("sqlite",)),
    ]

    assert marked_files(items) == ["/t/sub/test_d.py", "/t/test_a.py"]  # type: ignore[arg-type]
    assert marked_files(items[2:4]) == []  # type: ignore[arg-type]
