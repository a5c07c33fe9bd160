"""Queueing a Celery task from a request while the broker may be down.

The broker is Redis. When it cannot be reached, kombu retries for about 0.7 s and raises its
`OperationalError`; raised from a view, or from a callback run at the commit of the view's
transaction, it would answer 500 after the change was saved. `enqueue` logs it and says the task
was not queued, so the caller can tell the person or mark its row (docs/deploy.md, "When Redis
is down"). With the broker up it is `task.delay`.
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import Any

from celery import Task
from kombu.exceptions import OperationalError
from kombu.transport import redis as kombu_redis
from kombu.utils.uuid import uuid

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


# --- A task queued through the thread's own producer ------------------------------------------
#
# `task.delay` goes through `apply_async` and `send_task`, which read some ten of Celery's
# settings through Django's (each a chain of lookups, most of them misses), acquire a producer
# from Celery's pool and release it, ask kombu's declaration cache about the queue again
# (copying and binding the queue and its exchange each time) and write the arguments'
# `argsrepr` through `saferepr`: most of the CPU of queueing the student's notice, once per
# session logged (docs/performance.md, "The log form's POST, the client's side").
# `KeptProducerTask.delay` builds the same message with Celery's own `create_task_message` and
# publishes it with Celery's own `send_task_message` (the route, headers, signals, serializer,
# delivery mode and retry policy are Celery's; a broker that cannot be reached raises kombu's
# `OperationalError` as before), through a producer kept per thread on a connection of its own
# (kombu's producers are not thread-safe) and made again for a new broker pool (another broker
# URL, a forked process) or after an error; the queue is declared by the producer's first
# message of the task. Anything else (keyword arguments, eager mode, a call from inside a
# task, arguments that are not plain numbers or strings) takes `Task.delay` unchanged.


class _Kept(threading.local):
    pool: Any = None
    producer: Any = None
    declared: frozenset[str] = frozenset()


_kept = _Kept()


def _producer(app: Any) -> Any:
    """The thread's producer on `app`'s broker pool (made on first use, again after an error
    or for another pool)."""
    pool = app.pool
    if _kept.producer is None or _kept.pool is not pool:
        _drop_producer()
        _kept.pool, _kept.producer = pool, app.amqp.Producer(app.connection_for_write())
    return _kept.producer


def _drop_producer() -> None:
    producer = _kept.producer
    _kept.pool, _kept.producer, _kept.declared = None, None, frozenset()
    if producer is not None:
        with suppress(Exception):
            producer.connection.release()


def _plain(args: tuple[Any, ...]) -> bool:
    """Arguments whose `repr` is what Celery's `saferepr` writes for them."""
    return all(type(arg) is int or (type(arg) is str and len(arg) <= 200) for arg in args)


class KeptProducerTask(Task):
    """A task whose `delay(*args)` publishes Celery's message through the thread's kept
    producer (see above)."""

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        app = self._get_app()
        if (
            kwargs
            or app.conf.task_always_eager
            or app.current_worker_task is not None
            or not _plain(args)
            or (self.soft_time_limit and self.time_limit)
        ):
            return super().delay(*args, **kwargs)
        if self.typing:
            self.__header__(*args)  # apply_async's check of the arguments
        # What apply_async and send_task make of a task's own options and no others.
        options = {k: v for k, v in self._get_exec_options().items() if v is not None}
        options.setdefault("ignore_result", self.ignore_result)
        time_limit = options.pop("time_limit", None)
        soft_time_limit = options.pop("soft_time_limit", None)
        ignore_result = options.pop("ignore_result", None)
        if options.pop("expires", None) is not None:
            return super().delay(*args)
        options = app.amqp.router.route(options, self.name, args, {}, self)
        task_id = uuid()
        message = app.amqp.create_task_message(
            task_id,
            self.name,
            args,
            {},
            time_limit=time_limit,
            soft_time_limit=soft_time_limit,
            reply_to=app.thread_oid,
            create_sent_event=app.conf.task_send_sent_event,
            ignore_result=ignore_result,
            argsrepr=repr(args),
            kwargsrepr="{}",
        )
        if self.name in _kept.declared:
            options["declare"] = []  # the producer's first message of the task declared it
        producer = _producer(app)
        try:
            with producer.connection._reraise_as_library_errors():
                if not ignore_result:
                    app.backend.on_task_call(producer, task_id)
                app.amqp.send_task_message(producer, self.name, message, **options)
        except BaseException:
            _drop_producer()
            raise
        _kept.declared |= {self.name}
        result = self.AsyncResult(task_id)
        result.ignored = ignore_result
        return result
