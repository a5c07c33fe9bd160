"""Django's Redis cache, with one redis-py client per connection pool instead of one per call,
and a cache that cannot be reached read as an empty one instead of failing the request.

Django's `RedisCacheClient.get_client` makes a new `redis.Redis` on every cache operation.
redis-py 8 builds its table of response callbacks, its retry policy and its event dispatcher in
that constructor: 0.39 ms of Python measured on a loaded machine, nearly the round trip to
Redis itself, paid by every signed-in request (its session is read from the cache) and every
rate-limit count. A client holds no connection of its own (it takes one from the pool per
command and gives it back) and redis-py documents it as safe to share between threads, so one
client per pool serves every call. Everything else is Django's (docs/performance.md, "The
per-request floor").

When Redis cannot be reached (refused, timed out, still loading its data after a restart),
Django's backend raises from every call, and every caller would answer 500: the session store,
allauth's rate limits (which take a lock in the cache), the admin home. Here such a call behaves
as on a cache that is up and empty, the way Django's memcached backends behave when their server
is gone: a read misses, a write is dropped, `incr` raises the ValueError of a missing key. After
a failure the cache is not asked again for `RETRY_AFTER` seconds, so a Redis whose packets are
dropped costs one connection timeout per process every few seconds rather than one per call;
the first failure logs a warning and the first success afterwards says Redis is back (once per
outage, not per call). What each caller then does is in docs/deploy.md, "When Redis is down":
pages read from the database, and every limit counted in the cache lets requests through (a
lock taken with `add` is granted). Other Redis errors (a wrong command, a full memory) still
raise: they are bugs or a misconfiguration, not an outage.

The happy path pays no round trip for this: about 0.15 µs of Python a call (an attribute read
and one more frame; `timeit` at load average 2.4, against a stubbed client), next to the round
trip of at least 0.5 ms it wraps.
"""

import logging
from collections.abc import Callable, Iterable
from time import monotonic
from typing import Any

import redis
from django.core.cache.backends import redis as django_redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT

logger = logging.getLogger(__name__)

# Seconds a process leaves the cache alone after a call failed to reach it.
RETRY_AFTER = 5.0
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisCacheClient(django_redis.RedisCacheClient):
    # Set and defined by Django's client; the type stubs leave them out.
    _client: Callable[..., Any]
    _get_connection_pool: Callable[[bool], Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            # Keyed by the pool, which `_pools` keeps for the cache's lifetime.
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


_Django = django_redis.RedisCache  # its methods, called unbound: no `super()` object per call


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
        # Django's `caches` makes one backend per thread, so this state is per thread too.
        self._down_since: float | None = None
        self._retry_at = 0.0

    def is_unreachable(self) -> bool:
        """Whether the last call failed to reach Redis (and no call has reached it since)."""
        return self._down_since is not None

    def _guarded[T](self, fallback: T, call: Callable[..., T], *args: Any) -> T:
        if self._down_since is not None and monotonic() < self._retry_at:
            return fallback
        try:
            result = call(*args)
        except UNREACHABLE as error:
            self._failed(error)
            return fallback
        if self._down_since is not None:
            logger.info(
                "Redis answers again after %.0f s: the cache is used again.",
                monotonic() - self._down_since,
            )
            self._down_since = None
        return result

    def _failed(self, error: Exception) -> None:
        now = monotonic()
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "Redis cannot be reached (%s: %s): pages are served without the cache, and the "
                "limits counted in it let requests through, until it answers again.",
                type(error).__name__,
                error,
            )
        self._retry_at = now + RETRY_AFTER

    # Each of Django's operations, with what an empty cache that drops writes would answer.

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        # Granted: allauth's rate limits take their lock with `add`; a refusal would make them
        # wait a second and then refuse every sign-in.
        return self._guarded(True, _Django.add, self, key, value, timeout, version)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guarded(default, _Django.get, self, key, default, version)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._guarded(None, _Django.set, self, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guarded(False, _Django.touch, self, key, timeout, version)

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._guarded(False, _Django.delete, self, key, version)

    def get_many(self, keys: Iterable[Any], version: Any = None) -> dict[Any, Any]:
        return self._guarded({}, _Django.get_many, self, keys, version)

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._guarded(False, _Django.has_key, self, key, version)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        missing = object()
        value = self._guarded(missing, _Django.incr, self, key, delta, version)
        if value is missing:
            raise ValueError(f"Key '{key}' not found")  # Django's answer for a missing key
        return value  # type: ignore[return-value]

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> list[Any]:
        return self._guarded(list(data), _Django.set_many, self, data, timeout, version)

    def delete_many(self, keys: Iterable[Any], version: Any = None) -> None:
        self._guarded(None, _Django.delete_many, self, keys, version)


def unreachable(backend: Any) -> bool:
    """Whether the last call to this cache (a backend, or Django's `cache` proxy) failed to reach
    it. Other backends (the tests' memory, `make run`'s files) have no server to lose."""
    is_unreachable = getattr(backend, "is_unreachable", None)
    return is_unreachable is not None and bool(is_unreachable())
