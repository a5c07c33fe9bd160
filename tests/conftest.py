"""Personas: an admin, a provider and a student of organization A, and an admin of B; and the
order the tests run in (the long ones first)."""

import os
from collections.abc import Iterator

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from matchpal.models import Membership, Organization
from tests.support import (
    NOW,
    UNREACHABLE_REDIS,
    Tenant,
    broker_down,
    client_for,
    make_tenant,
)

# Tests of ten seconds and more, longest first, started before all others. `--dist worksteal`
# hands each worker half the list in order and lets an idle one take the end of the other's
# queue: a long test left at the end would run alone on one worker while the other waits.
LONG_FIRST = (
    "tests/test_bench_pages.py::test_every_page_of_each_role_answers_200",
    "tests/test_on_sqlite.py::test_the_sqlite_marked_tests_pass_on_sqlite",
    "tests/sessions_app/test_stateful.py",
    "tests/grants/test_stateful.py",
    "tests/test_compose_processes.py",
    "tests/test_backup_restore.py",
    "tests/test_form_fuzzing.py::test_hostile_values_never_answer_5xx_nor_half_save[org_settings-",
    "tests/test_form_fuzzing.py::test_hostile_values_never_answer_5xx_nor_half_save[woocommerce:store_edit-",
    "tests/test_smoke.py::test_with_debug_off_pages_need_collectstatic",
    "tests/browser/",
    "tests/grants/test_constraints.py::test_reconcile_exit_status_from_the_command_line",
    "tests/matchpal/test_form_renderer.py::test_every_page_is_the_same_with_djangos_renderer",
    "tests/test_form_fuzzing.py",
)


def long_first_rank(nodeid: str) -> int:
    """The place of a test among LONG_FIRST; every other test after them."""
    return next(
        (rank for rank, prefix in enumerate(LONG_FIRST) if nodeid.startswith(prefix)),
        len(LONG_FIRST),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: long_first_rank(item.nodeid))  # stable: the rest keep their order


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
            "BACKEND": "matchpal.cache.RedisCache",
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


@pytest.fixture
def redis_unreachable(settings) -> None:  # type: ignore[no-untyped-def]
    """Redis down: the production cache and `/readyz` pointed where no Redis answers."""
    settings.CACHES = {
        "default": {"BACKEND": "matchpal.cache.RedisCache", "LOCATION": UNREACHABLE_REDIS}
    }
    settings.REDIS_URL = UNREACHABLE_REDIS


@pytest.fixture
def broker_unreachable() -> Iterator[None]:
    """Redis down for Celery: tasks published for real to a port where nothing listens
    (`tests.support.broker_down`), instead of run eagerly."""
    with broker_down():
        yield


__all__ = ["Membership", "Tenant", "client_for", "make_tenant"]
