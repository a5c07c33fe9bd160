"""docker-compose.yml, as Docker Compose itself reads it, and .env.example.

`docker compose config` needs no Docker engine, only the client. Where the compose plugin is
missing, Debian's standalone `docker-compose` (which `.ci/run` installs) is used instead.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"web", "worker", "beat", "db", "redis"}
APP_SERVICES = ("web", "worker", "beat")


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


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if shutil.which("docker") is None and shutil.which("docker-compose") is None:
        _unavailable("the docker client is not installed")
    command = _compose_command()
    if command is None:
        _unavailable("neither the `docker compose` plugin nor `docker-compose` is installed")
    cli, json_output = command  # type: ignore[misc]
    # A scratch project directory: the real files, with .env.example as the .env that compose
    # requires, so nothing is written into the work tree.
    project = tmp_path_factory.mktemp("compose")
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


def test_five_services_each_with_a_health_check(config: dict) -> None:
    assert set(config["services"]) == SERVICES
    for name, service in config["services"].items():
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test"), name
        assert not healthcheck.get("disable"), name


def test_app_services_reach_the_db_and_redis_services(config: dict) -> None:
    for name in APP_SERVICES:
        environment = config["services"][name]["environment"]
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        assert re.fullmatch(
            r"postgres://matchpal:[^@]+@db:5432/matchpal", environment["DATABASE_URL"]
        ), name
        assert environment["REDIS_URL"] == "redis://redis:6379/0", name
        # The rest comes from .env.
        assert environment["SECRET_KEY"] == "change-me-to-a-long-random-string", name


def test_everything_waits_for_what_it_needs_to_be_healthy(config: dict) -> None:
    services = config["services"]
    expected = {"web": {"db", "redis"}, "worker": {"web", "redis"}, "beat": {"web", "redis"}}
    for name, needs in expected.items():
        depends_on = services[name]["depends_on"]
        assert set(depends_on) == needs, name
        assert {dep["condition"] for dep in depends_on.values()} == {"service_healthy"}, name
    for name in ("db", "redis"):
        assert not services[name].get("depends_on"), name


def test_web_migrates_before_serving(config: dict) -> None:
    command = config["services"]["web"]["command"]
    command = " ".join(command) if isinstance(command, list) else command
    assert command.index("manage.py migrate --noinput") < command.index("gunicorn matchpal.wsgi")


def test_env_example_documents_every_setting() -> None:
    settings_source = (ROOT / "matchpal" / "settings.py").read_text()
    read = set(re.findall(r"env_(?:str|bool|int|list)\(\s*\"([A-Z0-9_]+)\"", settings_source))
    assert read, "no env_* calls found in matchpal/settings.py"
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    assert read - documented == set(), "add these to .env.example, with a comment each"


def environment_variables_read() -> dict[str, str]:
    """Every environment variable the app and its tooling read → where: the settings' env_*
    calls, `make run`'s script, and docker-compose.yml's ${…} substitutions."""
    sources = {
        "matchpal/settings.py": r"env_(?:str|bool|int|list)\(\s*\"([A-Z0-9_]+)\"",
        "scripts/run.py": r"os\.environ\.get\(\s*\"([A-Z0-9_]+)\"",
        "docker-compose.yml": r"\$\{([A-Z0-9_]+)",
    }
    found: dict[str, str] = {}
    for path, pattern in sources.items():
        names = re.findall(pattern, (ROOT / path).read_text())
        assert names, f"no environment variables found in {path}"
        found |= dict.fromkeys(names, path)
    return found


def readme_configuration() -> str:
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Configuration\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Configuration' section"
    return section.group(1)


def test_the_readme_documents_every_environment_variable() -> None:
    read = environment_variables_read()
    assert {"DEBUG", "PORT", "POSTGRES_PASSWORD"} <= set(read)
    # The first cell of each row of the configuration table names one or more variables.
    rows = re.findall(r"^\|([^|\n]*)\|", readme_configuration(), re.MULTILINE)
    documented = {name for cell in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)}

    missing = {name: where for name, where in read.items() if name not in documented}

    assert missing == {}, "add a row for each to the Configuration table of README.md"


def test_the_readme_describes_make_lint_as_the_makefile_runs_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert lint
    steps = {
        "ruff check": "ruff check",
        "ruff format --check": "ruff format --check",
        "makemigrations --check": "makemigrations --check",
        "mypy": "mypy",
    }
    description = re.search(r"`make lint` \(([^)]*)\)", (ROOT / "README.md").read_text())
    assert description
    text = " ".join(description.group(1).split())

    for step, words in steps.items():
        assert (step in lint.group(1)) == (words in text), step
