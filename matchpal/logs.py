"""One JSON line per request and per Celery task, and a request id that follows the work.

- `RequestLogMiddleware` (first in MIDDLEWARE) takes the request id from the proxy's
  `X-Request-ID` header when it is a sane token, else makes one, answers it back in
  `X-Request-ID`, and logs one line on `matchpal.request` when the response is ready: request
  id, method, path, status, duration, the organization's slug and the user's id when the request
  resolved them (it never loads a user or a session itself: `/healthz` stays query-free).
- Every log record made while a request or a task runs carries its `request_id`
  (`RequestIdFilter`, on the handler), so a view's warnings and a task's errors can be found by
  the request that caused them.
- Publishing a task from a request puts the id into the message's headers
  (`before_task_publish`); the worker puts it back in place before the task runs
  (`task_prerun`) and logs one line on `matchpal.task` after it (`task_postrun`): task name and
  id, request id, state, duration.
- `JsonFormatter` writes each record as one JSON object: time, level, logger, message, the
  fields above when present, and the traceback of an exception.
"""

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept only when it cannot smuggle anything into a log line or a header.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "organization",
    "user_id",
    "task",
    "task_id",
    "state",
)

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_started_at: dict[str, float] = {}

request_logger = logging.getLogger("matchpal.request")
task_logger = logging.getLogger("matchpal.task")


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on every record (None outside requests and tasks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if _SANE_ID.fullmatch(incoming) else new_request_id()
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = rid
            request_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "organization": _organization(request),
                    "user_id": _user_id(request),
                },
            )
            return response
        finally:
            request_id.reset(token)


def _organization(request: HttpRequest) -> str | None:
    organization = getattr(request, "organization", None)
    return getattr(organization, "slug", None)


def _user_id(request: HttpRequest) -> int | None:
    # Only a user the request already loaded: asking `request.user` here would read the session
    # and the user on pages that never needed them.
    user = request.__dict__.get("_cached_user")
    return user.pk if user is not None and user.is_authenticated else None


@before_task_publish.connect
def _send_request_id(headers: dict[str, Any] | None = None, **_kwargs: object) -> None:
    rid = request_id.get()
    if headers is not None and rid is not None:
        headers.setdefault("request_id", rid)


@task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **_kwargs: object) -> None:
    # A task run eagerly (inside a request, in tests) keeps that request's id as it is.
    if task is not None and not task.request.is_eager:
        request_id.set(getattr(task.request, "request_id", None))
    if task_id is not None:
        _started_at[task_id] = time.perf_counter()


@task_postrun.connect
def _task_finished(
    task_id: str | None = None,
    task: Any = None,
    state: str | None = None,
    **_kwargs: object,
) -> None:
    started = _started_at.pop(task_id, None) if task_id is not None else None
    task_logger.info(
        "%s %s",
        getattr(task, "name", "?"),
        state,
        extra={
            "task": getattr(task, "name", None),
            "task_id": task_id,
            "state": state,
            "duration_ms": (
                round((time.perf_counter() - started) * 1000, 1) if started is not None else None
            ),
        },
    )
    if task is not None and not task.request.is_eager:
        request_id.set(None)  # the worker's next task starts clean
