"""Django's Redis cache, with one redis-py client per connection pool instead of one per call.

Django's `RedisCacheClient.get_client` makes a new `redis.Redis` on every cache operation.
redis-py 8 builds its table of response callbacks, its retry policy and its event dispatcher in
that constructor: 0.39 ms of Python measured on a loaded machine, nearly the round trip to
Redis itself, paid by every signed-in request (its session is read from the cache) and every
rate-limit count. A client holds no connection of its own (it takes one from the pool per
command and gives it back) and redis-py documents it as safe to share between threads, so one
client per pool serves every call. Everything else is Django's (docs/performance.md, "The
per-request floor").
"""

from collections.abc import Callable
from typing import Any

from django.core.cache.backends import redis as django_redis


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


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
