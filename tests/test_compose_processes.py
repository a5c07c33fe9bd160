"""The compose stack's app services, run as plain processes: each one's command and environment
as `docker compose config` resolves them (tests/compose.py), against this machine's PostgreSQL
(this test's database) and Redis instead of the `db` and `redis` containers.

One migrate, two web processes and two workers share the database and Redis, with one beat:
signed in on web 1, an Excel export is requested on web 2, a worker writes it into the shared
exports folder (the compose volume) and web 1 serves it. Both answer `/readyz` once beat's
heartbeat is in Redis, and the services' own health checks pass.

What differs from the containers, each because these processes share one machine: the database
and Redis URLs; the ports (`PORT`); one gunicorn process each (`WEB_CONCURRENCY`); a node name per
worker (`-n`, a container's would be its host name); `MATCHPAL_VAR_DIR` (the image's `/app/var`)
and the exports folder, a temporary one; and static files under their plain names
(`MATCHPAL_PLAIN_STATIC`: the image collects them at build time, which tests/test_smoke.py
covers). Requests carry what the TLS proxy in front would add (`X-Forwarded-Proto`, the public
host), so the production settings (secure cookies, CSRF origins) apply unchanged.
"""

import http.client
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import openpyxl
import pytest
import redis
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from matchpal import health
from reports.export_jobs.models import ExportJob
from tests.compose import ROOT, compose_config
from tests.support import Tenant, log_as_admin, paired, past_grant, whole_hours_ago

pytestmark = [pytest.mark.django_db(transaction=True)]

PUBLIC_HOST = "matchpal.example.com"  # in .env.example's ALLOWED_HOSTS and CSRF origins
PASSWORD = "stack-test-password"
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Stack:
    config: dict
    var_dir: Path
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def environment(self, service: str, **extra: str) -> dict[str, str]:
        """The service's environment from compose (.env included), then the local services."""
        environment = self.config["services"][service]["environment"]
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        return {
            # What the image itself provides (its ENV lines): the virtualenv on PATH.
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "DJANGO_SETTINGS_MODULE": "matchpal.settings",
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in environment.items()},
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "MATCHPAL_VAR_DIR": str(self.var_dir),
            "MATCHPAL_EXPORTS_DIR": str(self.var_dir / "exports"),
            "MATCHPAL_PLAIN_STATIC": "true",
            **extra,
        }

    def command(self, service: str) -> list[str]:
        command = self.config["services"][service]["command"]
        return command if isinstance(command, list) else shlex.split(command)

    def start(self, name: str, service: str, *args: str, **extra: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [*self.command(service), *args],
            cwd=ROOT,
            env=self.environment(service, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole, children included
        )

    def start_web(self, name: str) -> None:
        self.ports[name] = free_port()
        self.start(name, "web", PORT=str(self.ports[name]), WEB_CONCURRENCY="1")

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@dataclass
class Browser:
    """Cookies kept across web processes, each request as the TLS proxy would forward it."""

    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, port: int, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {
            "Host": PUBLIC_HOST,
            "X-Forwarded-Proto": "https",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        body = None
        if form is not None:
            body = urlencode(form)
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"https://{PUBLIC_HOST}",
                "Referer": f"https://{PUBLIC_HOST}{path}",
            }
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, dict(response.headers), content

    def csrf_token(self, port: int, path: str) -> str:
        status, _, content = self.request(port, "GET", path)
        assert status == 200, (path, status)
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content)
        assert match, path
        return match.group(1).decode()


def wait_until(condition, stack: Stack, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        for name, process in stack.processes.items():
            if process.poll() is not None and name != "migrate":
                pytest.fail(f"{name} exited ({process.returncode}):\n{stack.log(name)[-3000:]}")
        time.sleep(0.5)
    logs = "\n".join(f"--- {name}\n{stack.log(name)[-2000:]}" for name in stack.processes)
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def passes(argv: list[str], env: dict[str, str]) -> bool:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=60).returncode == 0


def answers(port: int, path: str, status: int = 200) -> bool:
    try:
        return Browser().request(port, "GET", path)[0] == status
    except OSError:
        return False


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    config = compose_config(tmp_path)
    (tmp_path / "var" / "exports").mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    # A heartbeat left in Redis by an earlier run would make the web ready before this beat is.
    # (Django's Redis cache stores a key as ":<version>:<key>".)
    redis.Redis.from_url(settings.REDIS_URL).delete(f":1:{health.HEARTBEAT_KEY}")
    running = Stack(config, tmp_path / "var", tmp_path / "logs")
    try:
        yield running
    finally:
        running.stop()


def test_the_stack_runs_from_the_compose_file_on_two_web_processes_and_two_workers(
    stack: Stack, tenant_a: Tenant
) -> None:
    admin = tenant_a.admin
    admin.password = PBKDF2PasswordHasher().encode(PASSWORD, "stacktestsalt", iterations=1000)
    admin.save(update_fields=["password"])
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    for hours in (1, 2, 3):
        log_as_admin(tenant_a, relationship, whole_hours_ago(hours), 30)

    stack.start("migrate", "migrate")
    assert stack.processes["migrate"].wait(timeout=120) == 0, stack.log("migrate")
    stack.start_web("web1")
    stack.start_web("web2")
    for name in ("worker1", "worker2"):
        stack.start(name, "worker", "-n", f"celery@{name}", HOSTNAME=name)
    stack.start("beat", "beat")

    for web in ("web1", "web2"):
        port = stack.ports[web]
        wait_until(lambda port=port: answers(port, "/healthz"), stack, f"{web} /healthz")
        # Ready once beat has stamped its heartbeat in Redis.
        wait_until(lambda port=port: answers(port, "/readyz"), stack, f"{web} /readyz")

    # Each service's own health check, as compose would run it inside its container.
    for name, service in (("web1", "web"), ("worker1", "worker"), ("beat", "beat")):
        kind, *test = stack.config["services"][service]["healthcheck"]["test"]
        argv = ["sh", "-c", test[0].replace("$$", "$")] if kind == "CMD-SHELL" else test
        extra = {"HOSTNAME": name}
        if name == "web1":
            extra["PORT"] = str(stack.ports["web1"])
        # Compose retries a check through the service's start period: a worker still starting
        # on a busy machine has not joined the broker yet, and its first ping goes unanswered.
        env = stack.environment(service, **extra)
        wait_until(lambda argv=argv, env=env: passes(argv, env), stack, f"{name}'s health check")

    web1, web2 = stack.ports["web1"], stack.ports["web2"]
    browser = Browser()
    token = browser.csrf_token(web1, "/accounts/login/")
    status, headers, _ = browser.request(
        web1,
        "POST",
        "/accounts/login/",
        {"csrfmiddlewaretoken": token, "login": admin.email, "password": PASSWORD},
    )
    assert status == 302, (status, headers)

    slug = tenant_a.organization.slug
    token = browser.csrf_token(web2, f"/o/{slug}/exports/new/")  # signed in on web 2 as well
    status, headers, _ = browser.request(
        web2,
        "POST",
        f"/o/{slug}/exports/new/",
        {"csrfmiddlewaretoken": token, "source": "sessions", "format": "xlsx"},
    )
    assert status == 302, (status, headers)
    request_id = headers["X-Request-ID"]

    def exported() -> bool:
        return ExportJob.objects.filter(status__in=["done", "failed"]).exists()

    wait_until(exported, stack, "the export job")
    job = ExportJob.objects.get()
    assert (job.status, job.rows_done) == ("done", 3), job.error

    status, headers, content = browser.request(web1, "GET", headers["Location"] + "download/")
    assert status == 200, status
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 4
    assert [row[6] for row in rows[1:]] == [30, 30, 30]

    # The logs: web 2's line for the POST, and a worker's line for the task it queued, with the
    # same request id (carried in the message's headers).
    [posted] = [
        line
        for line in json_lines(stack.log("web2"))
        if line.get("request_id") == request_id and line["logger"] == "matchpal.request"
    ]
    assert (posted["method"], posted["status"], posted["organization"], posted["user_id"]) == (
        "POST",
        302,
        slug,
        admin.pk,
    )
    [task] = [
        line
        for name in ("worker1", "worker2")
        for line in json_lines(stack.log(name))
        if line.get("task") == "reports.export_jobs.tasks.run_export"
    ]
    assert (task["request_id"], task["state"]) == (request_id, "SUCCESS")


def json_lines(log: str) -> list[dict]:  # type: ignore[type-arg]
    """The JSON objects among a process's output lines (gunicorn's and celery's banners aside)."""
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found
