"""docker-compose.yml as Docker Compose reads it, for tests/test_compose.py and
tests/test_compose_processes.py.

`docker compose config` needs no Docker engine, only the client. Where the compose plugin is
missing, Debian's standalone `docker-compose` (which `.ci/run` installs) is used instead.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose_command() -> tuple[list[str], bool] | None:
    """The compose CLI to use and whether it prints JSON (`config --format json`)."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return ["docker", "compose"], True
    if shutil.which("docker-compose"):
        help_text = subprocess.run(
            ["docker-compose", "config", "--help"], capture_output=True, text=True, timeout=60
        ).stdout
        return ["docker-compose"], "--format" in help_text
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run should have installed it")
    pytest.skip(reason)


def compose_config(project: Path) -> dict:
    """docker-compose.yml as `docker compose config` resolves it, run in `project` (a scratch
    directory): the real files, with .env.example as the .env that compose requires, so
    nothing is written into the work tree."""
    if shutil.which("docker") is None and shutil.which("docker-compose") is None:
        _unavailable("the docker client is not installed")
    command = _compose_command()
    if command is None:
        _unavailable("neither the `docker compose` plugin nor `docker-compose` is installed")
    cli, json_output = command  # type: ignore[misc]
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, project / name)
    shutil.copy(ROOT / ".env.example", project / ".env")
    args = [
        *cli,
        "-f",
        str(project / "docker-compose.yml"),
        "--project-directory",
        str(project),
        "config",
        *(["--format", "json"] if json_output else []),
    ]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COMPOSE_", "POSTGRES_"))
    }
    result = subprocess.run(args, capture_output=True, text=True, cwd=project, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if json_output else yaml.safe_load(result.stdout)
