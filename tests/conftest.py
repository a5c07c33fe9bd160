"""Personas: an admin, a provider and a student of organization A, and an admin of B."""

import os
from collections.abc import Iterator

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from matchpal.models import Membership, Organization
from tests.support import NOW, Tenant, client_for, make_tenant


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return make_tenant("Alpha Tutoring", "alpha")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return make_tenant("Beta Advising", "beta")


@pytest.fixture
def org_a(tenant_a: Tenant) -> Organization:
    return tenant_a.organization


@pytest.fixture
def admin_client_a(tenant_a: Tenant) -> Client:
    return client_for(tenant_a.admin)


@pytest.fixture
def provider_client_a(tenant_a: Tenant) -> Client:
    return client_for(tenant_a.provider_user)


@pytest.fixture
def student_client_a(tenant_a: Tenant) -> Client:
    return client_for(tenant_a.student_user)


@pytest.fixture
def admin_client_b(tenant_b: Tenant) -> Client:
    return client_for(tenant_b.admin)


@pytest.fixture
def clock() -> Iterator[object]:
    """Pins the clock at NOW; request it before any fixture that writes rows."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Rate-limit counters live in the cache: every test starts from zero. The test cache is this
    process's memory (tests/settings.py), so clearing it touches no other xdist worker."""
    cache.clear()


@pytest.fixture
def redis_cache(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The production cache, Redis at REDIS_URL, for a test about behaviour that depends on it.
    Only this worker's keys are used and deleted: the database is shared with other workers and
    with Celery."""
    prefix = "test-" + os.environ.get("PYTEST_XDIST_WORKER", "main")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }

    def delete_this_workers_keys() -> None:
        client = cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)

    delete_this_workers_keys()
    yield
    delete_this_workers_keys()


__all__ = ["Membership", "Tenant", "client_for", "make_tenant"]
