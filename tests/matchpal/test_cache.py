"""The Redis cache (matchpal/cache.py): Django's, with one redis-py client per connection pool
reused by every call instead of one made per call, read as an empty cache that drops writes
while Redis cannot be reached."""

import logging
import socket
import time
from unittest.mock import Mock

import pytest
import redis
from django.core.cache import cache, caches

from matchpal.cache import RETRY_AFTER, RedisCache, unreachable
from tests.support import UNREACHABLE_REDIS

pytestmark = pytest.mark.usefixtures("redis_cache")


def test_every_call_uses_the_one_client_of_its_pool() -> None:
    from matchpal.cache import RedisCacheClient

    backend = cache._cache  # type: ignore[attr-defined]
    assert isinstance(backend, RedisCacheClient)
    client = backend.get_client("a")
    assert backend.get_client("b") is client
    assert backend.get_client(None, write=True) is client  # one server: reads and writes
    assert client.connection_pool is backend._get_connection_pool(False)


def test_the_cache_reads_and_writes_as_djangos_does() -> None:
    cache.set("floor-key", {"a": 1}, 30)
    assert cache.get("floor-key") == {"a": 1}
    assert cache.add("floor-key", "other") is False
    assert cache.add("floor-count", 1) is True
    assert cache.incr("floor-count") == 2
    assert cache.get("floor-count") == 2
    cache.set_many({"floor-x": 1, "floor-y": "two"}, 30)
    assert cache.get_many(["floor-x", "floor-y", "floor-z"]) == {"floor-x": 1, "floor-y": "two"}
    assert cache.delete("floor-key") is True
    assert cache.get("floor-key", "gone") == "gone"
    cache.delete_many(["floor-x", "floor-y", "floor-count"])
    assert cache.get("floor-x") is None


# --- Redis unreachable ----------------------------------------------------------------------


def _unreachable_cache() -> RedisCache:
    return RedisCache(UNREACHABLE_REDIS, {})


def test_an_unreachable_redis_reads_as_an_empty_cache_that_drops_writes() -> None:
    down = _unreachable_cache()

    assert down.get("k") is None
    assert down.get("k", "fallback") == "fallback"
    assert down.get_many(["a", "b"]) == {}
    assert down.has_key("k") is False
    assert "k" not in down
    assert down.set("k", 1) is None
    assert down.set_many({"a": 1, "b": 2}) == ["a", "b"]  # the keys not stored
    assert down.touch("k") is False
    assert down.delete("k") is False
    assert down.delete_many(["a"]) is None
    with pytest.raises(ValueError, match="not found"):  # a missing key: callers count anew
        down.incr("k")
    # A lock taken with `add` (allauth's rate limits) is granted: the request goes through.
    assert down.add("lock", True) is True
    assert down.is_unreachable() is True
    assert unreachable(down) is True


def test_the_first_failure_is_logged_and_the_next_calls_skip_redis(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="matchpal.cache")
    down = _unreachable_cache()
    down.get("a")
    connect = Mock(side_effect=AssertionError("Redis asked again within RETRY_AFTER"))
    monkeypatch.setattr(down._cache, "get", connect)  # type: ignore[attr-defined]

    for _ in range(50):
        assert down.get("a") is None
        down.set("a", 1)

    warnings = [r for r in caplog.records if r.name == "matchpal.cache"]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert "Redis cannot be reached (ConnectionError" in warnings[0].getMessage()
    connect.assert_not_called()


def test_redis_is_asked_again_after_a_pause_and_its_return_is_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="matchpal.cache")
    backend = cache._cache  # type: ignore[attr-defined]
    frontend = caches["default"]
    refuse = Mock(side_effect=redis.exceptions.ConnectionError("refused"))
    monkeypatch.setattr(backend, "get", refuse)
    assert frontend.get("back-key", "missed") == "missed"
    assert unreachable(cache) is True
    monkeypatch.undo()
    frontend.set("back-key", "kept")  # skipped: within the pause
    assert frontend.get("back-key", "missed") == "missed"

    later = time.monotonic() + RETRY_AFTER
    monkeypatch.setattr("matchpal.cache.monotonic", lambda: later)
    frontend.set("back-key", "kept")

    assert frontend.get("back-key") == "kept"
    assert unreachable(cache) is False
    messages = [r.getMessage() for r in caplog.records if r.name == "matchpal.cache"]
    assert len(messages) == 2
    assert messages[1].startswith("Redis answers again after")


def test_a_redis_that_does_not_answer_is_given_up_on_after_its_timeout() -> None:
    # A socket that accepts connections and never answers: a Redis hung, or packets dropped
    # after the connection.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        hung = RedisCache(f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"socket_timeout": 0.2}})
        started = time.monotonic()

        assert hung.get("k", "fallback") == "fallback"
        assert hung.get("k", "fallback") == "fallback"  # within the pause: not asked

        assert time.monotonic() - started < 1
        assert unreachable(hung) is True
