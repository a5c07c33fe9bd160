"""One JSON log line per request and per task, with the request id that follows the work from
the request into its tasks (matchpal/logs.py). Across real processes, the id reaching a worker
through the message's headers: tests/test_compose_processes.py."""

import json
import logging
import sys

import pytest
from django.test import Client

from matchpal.logs import JsonFormatter
from reports.export_jobs.models import ExportJob
from tests.integrations.test_worker import real_worker, wait_for
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db]


def lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict]:  # type: ignore[type-arg]
    """The records of `logger` as the console handler writes them: one JSON object each."""
    formatter = JsonFormatter()
    out = []
    for record in caplog.records:
        if record.name == logger:
            text = formatter.format(record)
            assert "\n" not in text
            out.append(json.loads(text))
    return out


def test_a_request_is_one_line_with_its_id_organization_user_status_and_duration(
    tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="matchpal.request")

    response = client_for(tenant_a.admin).get("/o/alpha/students/")

    [line] = lines(caplog, "matchpal.request")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    assert {k: v for k, v in line.items() if k not in ("time", "duration_ms")} == {
        "level": "INFO",
        "logger": "matchpal.request",
        "message": "GET /o/alpha/students/ 200",
        "request_id": request_id,
        "method": "GET",
        "path": "/o/alpha/students/",
        "status": 200,
        "organization": "alpha",
        "user_id": tenant_a.admin.pk,
    }
    assert line["duration_ms"] > 0


def test_a_refusal_and_an_anonymous_request_are_logged_too(
    tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="matchpal.request")

    client_for(tenant_a.student_user).get("/o/alpha/students/")
    Client().get("/healthz")

    refused, health = lines(caplog, "matchpal.request")
    assert (refused["status"], refused["organization"], refused["user_id"]) == (
        403,
        "alpha",
        tenant_a.student_user.pk,
    )
    # /healthz loads no user: the line says none rather than reading the session to find out.
    assert (health["status"], health.get("organization"), health.get("user_id")) == (
        200,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("lb-7f3a.1:2", True), ("bad id", False), ("x" * 65, False), ("", False)],
)
def test_the_proxys_request_id_is_kept_when_it_is_a_sane_token(
    sent: str, kept: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="matchpal.request")

    response = Client().get("/healthz", headers={"X-Request-ID": sent})

    [line] = lines(caplog, "matchpal.request")
    assert line["request_id"] == response["X-Request-ID"]
    assert (response["X-Request-ID"] == sent) is kept


@pytest.mark.django_db(transaction=True)
def test_a_task_is_one_line_carrying_the_id_of_the_request_that_queued_it(
    tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """Through Redis to a real worker: the id travels in the message's headers."""
    # On the loggers themselves: the test worker sets the root logger's level to ERROR.
    caplog.set_level(logging.INFO, logger="matchpal")
    caplog.set_level(logging.INFO, logger="reports")
    client = client_for(tenant_a.admin)

    export = "reports.export_jobs.tasks.run_export"

    def task_lines() -> list[dict]:  # type: ignore[type-arg]
        return lines(caplog, "matchpal.task")

    with real_worker():
        # Starting a worker sets Django up again, which replaces the root logger's handlers
        # (pytest's among them): listen on the app's own loggers instead. Only then: after an
        # earlier test's worker pytest's handler stays on the root, and a second one would
        # capture every line twice.
        listening = (
            [] if caplog.handler in logging.getLogger().handlers else ["matchpal", "reports"]
        )
        for name in listening:
            logging.getLogger(name).addHandler(caplog.handler)
        response = client.post("/o/alpha/exports/new/", {"source": "sessions", "format": "csv"})
        assert response.status_code == 302
        assert wait_for(lambda: ExportJob.objects.filter(status="done").exists())
        assert wait_for(lambda: any(line["task"] == export for line in task_lines()), timeout=5)
    for name in listening:
        logging.getLogger(name).removeHandler(caplog.handler)

    # The worker may also run tasks this request did not queue (a notice's email left on the
    # broker by earlier work): the request's id is on its own task's line, and on no other.
    [task] = [line for line in task_lines() if line["task"] == export]
    assert [
        line["task"] for line in task_lines() if line.get("request_id") == response["X-Request-ID"]
    ] == [export]
    assert task["task"] == "reports.export_jobs.tasks.run_export"
    assert task["state"] == "SUCCESS"
    assert task["request_id"] == response["X-Request-ID"]
    assert task["duration_ms"] >= 0
    # What the task logged meanwhile carries the id as well (export_run's own lines).
    worker_records = [r for r in caplog.records if r.name.startswith("reports.export_jobs")]
    assert {r.request_id for r in worker_records} <= {response["X-Request-ID"]}  # type: ignore[attr-defined]


def test_an_exception_is_kept_in_its_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed %s", ("here",), exc_info=sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed here"
    assert line["exception"].startswith("Traceback")
    assert "ValueError: boom" in line["exception"]
