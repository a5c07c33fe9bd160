"""The Redis broker's transport keeps one client per channel (matchpal/broker.py): kombu's own
built a client for every message published. Publishing still reaches Redis, through it."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from matchpal.broker import RedisTransport
from matchpal.celery import app

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"), reason="a redis:// broker"
)


def test_a_channel_publishes_through_one_client() -> None:
    queue = f"tests-transport-{uuid.uuid4().hex}"
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, RedisTransport)
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        with channel.conn_or_acquire(client=first) as given:
            assert given is first
        simple = connection.SimpleQueue(queue)
        try:
            simple.put({"n": 1})
            simple.put({"n": 2})
            assert simple.qsize() == 2
            assert simple.get(timeout=1).payload == {"n": 1}
        finally:
            simple.queue.delete()
            simple.close()


def test_a_tls_broker_keeps_kombu_s_own_transport() -> None:
    """Naming a transport would turn off what kombu infers from rediss:// (TLS): only a plain
    redis:// broker gets this one. Settings are read once per process: read in a new one."""
    code = (
        "from matchpal.celery import app; c = app.connection_for_write(); "
        "print(type(c.transport).__module__, bool(c.ssl))"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "matchpal.settings",
        "DEBUG": "true",
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "MATCHPAL_VAR_DIR": os.environ.get("TMPDIR", "/tmp") + "/matchpal-transport-check",
    }
    answers = {}
    for url in ("redis://127.0.0.1:6379/0", "rediss://127.0.0.1:6380/0"):
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
            env={**env, "REDIS_URL": url},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        answers[url.split(":", 1)[0]] = done.stdout.splitlines()[-1].split()
    assert answers == {
        "redis": ["matchpal.broker", "False"],
        "rediss": ["kombu.transport.redis", "True"],
    }
