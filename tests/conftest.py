"""Personas: an admin, a provider and a student of organization A, and an admin of B."""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from matchpal.models import Membership, Organization, Role, User
from providers.models import Provider
from students.models import Student
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    ProviderFactory,
    StudentFactory,
    UserFactory,
)
from tests.support import NOW


@dataclass
class Tenant:
    organization: Organization
    admin: User
    provider_user: User
    student_user: User
    provider: Provider
    student: Student


def make_tenant(name: str, slug: str) -> Tenant:
    org = OrganizationFactory(name=name, slug=slug)
    admin = UserFactory(email=f"admin@{slug}.example")
    provider_user = UserFactory(email=f"provider@{slug}.example")
    student_user = UserFactory(email=f"student@{slug}.example")
    MembershipFactory(user=admin, organization=org, role=Role.ADMIN)
    MembershipFactory(user=provider_user, organization=org, role=Role.PROVIDER)
    MembershipFactory(user=student_user, organization=org, role=Role.STUDENT)
    provider = ProviderFactory(organization=org, user=provider_user, email=provider_user.email)
    student = StudentFactory(organization=org, user=student_user, email=student_user.email)
    return Tenant(org, admin, provider_user, student_user, provider, student)


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return make_tenant("Alpha Tutoring", "alpha")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return make_tenant("Beta Advising", "beta")


@pytest.fixture
def org_a(tenant_a: Tenant) -> Organization:
    return tenant_a.organization


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


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
