"""Queueing a Celery task from a request while the broker may be down.

The broker is Redis. When it cannot be reached, kombu retries for about 0.7 s and raises its
`OperationalError`; raised from a view, or from a callback run at the commit of the view's
transaction, it would answer 500 after the change was saved. `enqueue` logs it and says the task
was not queued, so the caller can tell the person or mark its row (docs/deploy.md, "When Redis
is down"). With the broker up it is `task.delay`.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from celery import Task
from kombu.exceptions import OperationalError
from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)


def enqueue(task: Task, *args: Any) -> bool:
    """Queue `task` with `args`; False (logged) when the broker cannot be reached."""
    try:
        task.delay(*args)
    except OperationalError as error:
        logger.warning(
            "Task %s%r not queued: the broker cannot be reached (%s).", task.name, args, error
        )
        return False
    return True


# --- The Redis transport, one client per channel ----------------------------------------------
#
# kombu's Redis channel builds a new `redis.Redis` for every message it publishes
# (`Channel.conn_or_acquire` with no client), and a client's constructor fills its table of
# some 340 response callbacks: a fifth of the CPU of queueing a task (`tell_logged`, once per
# session logged). The client is only a handle on the channel's connection pool and is safe to
# share, so the channel keeps one. Everything else is kombu's own transport.


class _Channel(kombu_redis.Channel):
    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client or self._shared_client

    @cached_property
    def _shared_client(self) -> Any:
        return self._create_client()  # type: ignore[no-untyped-call]  # kombu is untyped


class RedisTransport(kombu_redis.Transport):
    """`CELERY_BROKER_TRANSPORT` for a `redis://` broker (settings.py)."""

    Channel = _Channel
