"""The Redis cache (matchpal/cache.py): Django's, with one redis-py client per connection pool
reused by every call instead of one made per call."""

import pytest
from django.core.cache import cache

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
