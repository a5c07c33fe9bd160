"""What a load balancer or an orchestrator asks of a web process.

`/healthz` says the process answers (liveness: restart it when this fails). `/readyz` says it
can serve (readiness): the database answers, Redis answers, and Celery beat's heartbeat is
recent. Beat sends `matchpal.tasks.beat_heartbeat` every minute and a worker stamps the time
in the cache, so a recent stamp also says a worker takes tasks from the broker; beat stamps it
itself when it starts, so a new stack is ready without waiting a minute (docs/deploy.md).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from matchpal.cache import unreachable

HEARTBEAT_KEY = "matchpal:beat-heartbeat"
HEARTBEAT_EVERY = timedelta(minutes=1)
# Five missed beats: a worker busy with a long export for a few minutes is not an outage.
HEARTBEAT_STALE_AFTER = timedelta(minutes=5)
# Each probe gives up quickly: a load balancer's own timeout is a few seconds.
PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def stamp_heartbeat(at: datetime | None = None) -> None:
    """Beat's heartbeat, kept a day (a stamp that old is stale anyway)."""
    cache.set(HEARTBEAT_KEY, (at or timezone.now()).isoformat(), timeout=24 * 3600)


def last_heartbeat() -> datetime | None:
    value = cache.get(HEARTBEAT_KEY)
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "not ready", whatever the driver raised
        return Check("database", False, type(error).__name__)
    return Check("database", True, "ok")


def check_redis() -> Check:
    """Celery's broker and the cache. The embedded setup (no REDIS_URL) has no Redis to ask."""
    if not settings.REDIS_URL:
        return Check("redis", True, "not configured")
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
            socket_timeout=PROBE_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as error:
        return Check("redis", False, type(error).__name__)
    return Check("redis", True, "ok")


def check_beat() -> Check:
    try:
        stamped = last_heartbeat()
    except Exception as error:  # a cache error other than Redis unreachable (read as empty)
        return Check("beat", False, type(error).__name__)
    if stamped is None:
        # The stamp is in the cache, which reads as empty while Redis is down (matchpal/cache.py).
        return Check(
            "beat", False, "cache unreachable" if unreachable(cache) else "no heartbeat yet"
        )
    age = timezone.now() - stamped
    if age > HEARTBEAT_STALE_AFTER:
        return Check("beat", False, f"last heartbeat {int(age.total_seconds())} s ago")
    return Check("beat", True, f"last heartbeat {max(int(age.total_seconds()), 0)} s ago")


def readiness() -> list[Check]:
    return [check_database(), check_redis(), check_beat()]
