"""`KeptProducerTask.delay` (matchpal/broker.py) publishes the message Celery's own `delay`
publishes, through a producer kept per thread: the same headers, body and properties (but the
ids), the request id among the headers, and kombu's `OperationalError` when the broker cannot be
reached, after which the next message goes out on a new producer."""

import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Task
from celery.result import EagerResult
from django.conf import settings

from matchpal import broker, logs
from matchpal.celery import app
from sessions_app.tasks import tell_logged
from tests.support import broker_down

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"), reason="a redis:// broker"
)

IDS = ("id", "root_id", "correlation_id", "reply_to", "delivery_tag")


@contextlib.contextmanager
def published() -> Iterator[list[dict[str, Any]]]:
    """Publishing for real (not eagerly) to the tests' own queue, emptied before and after;
    yields the messages found on it at the end, oldest first, each decoded."""
    queue = app.conf.task_default_queue
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    found: list[dict[str, Any]] = []
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_purge(queue)
        try:
            yield found
            with channel.conn_or_acquire() as client:
                raw = client.lrange(queue, 0, -1)
            for message in reversed(raw):  # LPUSH: the newest first
                decoded = json.loads(message)
                decoded["body"] = json.loads(base64.b64decode(decoded["body"]))
                found.append(decoded)
        finally:
            channel.queue_purge(queue)
            app.conf.task_always_eager = saved


def without_ids(message: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in message["headers"].items() if k not in IDS}
    properties = {k: v for k, v in message["properties"].items() if k not in IDS}
    return {**message, "headers": headers, "properties": properties}


def test_the_message_is_celery_s_own() -> None:
    token = logs.request_id.set("req-kept-producer")
    try:
        with published() as messages:
            Task.delay(tell_logged, 5, 7)  # Celery's own path
            tell_logged.delay(5, 7)  # the kept producer's, declaring the queue
            tell_logged.delay(5, 7)  # and once declared
    finally:
        logs.request_id.reset(token)

    assert len(messages) == 3
    celery_s, *kept = messages
    assert celery_s["headers"]["task"] == "sessions_app.tasks.tell_logged"
    assert celery_s["body"][0] == [5, 7]
    assert celery_s["headers"]["request_id"] == "req-kept-producer"
    for message in kept:
        assert without_ids(message) == without_ids(celery_s)
        assert message["headers"]["root_id"] == message["headers"]["id"]
    ids = {m["headers"]["id"] for m in messages} | {
        m["properties"]["delivery_tag"] for m in messages
    }
    assert len(ids) == 6


def test_the_result_is_celery_s_result() -> None:
    with published() as messages:
        result = tell_logged.delay(5, 7)
    assert result.id == messages[0]["headers"]["id"]
    assert result.ignored is False


def test_other_calls_take_celery_s_path(db: None) -> None:
    """Eagerly (the tests' setting) the task runs here; keyword arguments, or arguments that
    are not plain numbers and strings, go through Celery's `delay`."""
    assert isinstance(tell_logged.delay(0, 0), EagerResult)
    with published() as messages:
        tell_logged.delay(session_id=5, actor_id=7)
        tell_logged.delay(5.0, 7)
    assert [m["body"][:2] for m in messages] == [
        [[], {"session_id": 5, "actor_id": 7}],
        [[5.0, 7], {}],
    ]
    assert messages[1]["headers"]["argsrepr"] == "(5.0, 7)"


def test_the_wrong_arguments_are_refused_as_celery_refuses_them() -> None:
    with published() as messages, pytest.raises(TypeError):
        tell_logged.delay(5)
    assert messages == []


def test_a_broker_down_raises_and_the_next_message_goes_out_on_a_new_producer() -> None:
    with published() as messages:
        tell_logged.delay(1, 2)
        first = broker._kept.producer
        with broker_down():
            assert not broker.enqueue(tell_logged, 3, 4)  # kombu's OperationalError, logged
        tell_logged.delay(5, 6)
        assert broker._kept.producer is not first
    assert [m["body"][0] for m in messages] == [[1, 2], [5, 6]]


def test_each_thread_keeps_its_own_producer() -> None:
    here = broker._producer(app)
    assert broker._producer(app) is here
    there: list[Any] = []
    thread = threading.Thread(target=lambda: there.append(broker._producer(app)))
    thread.start()
    thread.join()
    assert len(there) == 1
    assert there[0] is not here
