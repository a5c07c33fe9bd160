"""docker-compose.yml, as Docker Compose itself reads it (tests/compose.py), and .env.example.
What each app service runs is run for real in tests/test_compose_processes.py."""

import re

import pytest

from tests.compose import ROOT, compose_config

SERVICES = {"migrate", "web", "worker", "beat", "db", "redis"}
APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING = SERVICES - {"migrate"}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return compose_config(tmp_path_factory.mktemp("compose"))


def test_five_services_each_with_a_health_check_and_a_restart_policy(config: dict) -> None:
    assert set(config["services"]) == SERVICES
    for name in LONG_RUNNING:
        service = config["services"][name]
        assert service["restart"] == "unless-stopped", name
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


def test_everything_waits_for_what_it_needs(config: dict) -> None:
    services = config["services"]
    healthy, migrated = "service_healthy", "service_completed_successfully"
    expected = {
        "migrate": {"db": healthy},
        "web": {"migrate": migrated, "db": healthy, "redis": healthy},
        "worker": {"migrate": migrated, "redis": healthy},
        "beat": {"migrate": migrated, "redis": healthy},
    }
    for name, needs in expected.items():
        depends_on = services[name]["depends_on"]
        assert {dep: value["condition"] for dep, value in depends_on.items()} == needs, name
    for name in ("db", "redis"):
        assert not services[name].get("depends_on"), name


def _command(service: dict) -> str:
    command = service["command"]
    return " ".join(command) if isinstance(command, list) else command


def test_migrations_run_once_in_a_one_shot_service(config: dict) -> None:
    services = config["services"]
    assert _command(services["migrate"]) == "python manage.py migrate --noinput"
    assert services["migrate"]["restart"] == "no"  # it exits 0, and stays exited
    for name in ("web", "worker", "beat"):
        assert "migrate" not in _command(services[name]), name


def test_beat_runs_once(config: dict) -> None:
    assert config["services"]["beat"]["deploy"]["replicas"] == 1


def test_no_secret_goes_into_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored
    dockerfile = (ROOT / "Dockerfile").read_text()
    # The only key the build knows is the throwaway one collectstatic needs to import settings.
    assert re.findall(r"SECRET_KEY=(\S+)", dockerfile) == ["collectstatic-only"]
    assert not re.search(r"^\s*(ENV|ARG)\b.*(PASSWORD|SECRET|DSN|TOKEN)", dockerfile, re.M | re.I)
    assert "collectstatic --noinput" in dockerfile


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
