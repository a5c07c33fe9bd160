"""scripts/services.sh, which `make test` runs first: it checks (and on loopback starts) the
PostgreSQL and Redis named by DATABASE_URL and REDIS_URL."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL")
    }
    return subprocess.run(
        [str(SCRIPT), *args], env=base | env, capture_output=True, text=True, timeout=120
    )


def where(**env: str) -> list[str]:
    result = run("--where", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_without_urls_it_checks_the_local_servers() -> None:
    assert where() == ["postgres 127.0.0.1 5432", "redis 127.0.0.1 6379"]


def test_the_makefiles_test_urls_are_the_fallback() -> None:
    assert where(
        TEST_DATABASE_URL="postgres://postgres@127.0.0.2:5440/postgres",
        TEST_REDIS_URL="redis://127.0.0.3:6390/15",
    ) == ["postgres 127.0.0.2 5440", "redis 127.0.0.3 6390"]


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        ("postgres://postgres@127.0.0.1:5432/found", "postgres 127.0.0.1 5432"),
        (
            "postgres://u:p%40ss@db.example.org/matchpal?sslmode=require",
            "postgres db.example.org 5432",
        ),
        ("postgresql://u:pw@[::1]:6543/db", "postgres ::1 6543"),
        ("postgres:///matchpal", "postgres 127.0.0.1 5432"),
        ("postgres://localhost", "postgres localhost 5432"),
    ],
)
def test_host_and_port_come_from_the_database_url(database_url: str, expected: str) -> None:
    assert where(DATABASE_URL=database_url)[0] == expected


@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        ("redis://127.0.0.1:6379/14", "redis 127.0.0.1 6379"),
        ("redis://:secret@cache.example.org:6380/0", "redis cache.example.org 6380"),
        ("redis://[::1]/2", "redis ::1 6379"),
    ],
)
def test_host_and_port_come_from_the_redis_url(redis_url: str, expected: str) -> None:
    assert where(REDIS_URL=redis_url)[1] == expected


def test_the_servers_of_this_run_are_reachable() -> None:
    urls = {k: os.environ[k] for k in ("DATABASE_URL", "REDIS_URL") if k in os.environ}
    if len(urls) < 2:
        pytest.skip("DATABASE_URL and REDIS_URL are not set")

    result = run(**urls)

    assert result.returncode == 0, result.stderr
    assert "Starting" not in result.stdout


def test_unreachable_servers_fail_naming_their_urls_without_the_password() -> None:
    result = run(
        DATABASE_URL="postgres://me:hunter2@nowhere.invalid:5433/matchpal",
        REDIS_URL="redis://:hunter2@nowhere.invalid/0",
    )

    assert result.returncode == 1
    # Not on loopback: nothing to start here.
    assert "Starting" not in result.stdout
    assert result.stderr.splitlines() == [
        "ERROR: PostgreSQL is not reachable at nowhere.invalid:5433 "
        "(DATABASE_URL=postgres://me:***@nowhere.invalid:5433/matchpal). Start it there, or set "
        "DATABASE_URL to a server that runs.",
        "ERROR: Redis is not reachable at nowhere.invalid:6379 "
        "(REDIS_URL=redis://:***@nowhere.invalid/0). Start it there, or set REDIS_URL to a "
        "server that runs.",
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(
    not (shutil.which("redis-server") and shutil.which("redis-cli")), reason="no local Redis"
)
def test_a_stopped_redis_on_loopback_is_started_on_the_urls_port() -> None:
    port = _free_port()
    urls = {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    if "DATABASE_URL" in os.environ:
        urls["DATABASE_URL"] = os.environ["DATABASE_URL"]
    try:
        result = run(**urls)

        assert f"Starting Redis on port {port}…" in result.stdout
        assert "Redis is not reachable" not in result.stderr
        ping = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=10
        )
        assert ping.stdout.strip() == "PONG"
    finally:
        # Stop only the server this test started, by its port.
        subprocess.run(
            ["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10
        )
