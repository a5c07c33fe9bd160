"""Helpers shared by the tests: tenants (`Tenant`, `make_tenant`) and clients signed in as any
user, a pinned clock, policies and people, pairings made through the services, sessions logged
through them, and compact views of balances, ledger entries, emails and messages. Fixtures live
in tests/conftest.py; these are plain functions."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from grants.models import Allocation, Grant, GrantEntry, Package, PackageServiceType
from grants.reconcile import find_differences
from matchpal.celery import app as celery_app
from matchpal.models import Membership, Organization, Role, ServiceType, User
from providers.models import Provider
from relationships import services as rel_services
from relationships.models import Relationship
from reports import rollups
from sessions_app import services as session_services
from sessions_app.models import Session
from sessions_app.services import SessionRuleError
from students.models import Student
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    ProviderFactory,
    StudentFactory,
    UserFactory,
    make_grant,
)

# --- Tenants and their clients ------------------------------------------------------------------


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


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


# --- Redis down: the cache and the broker -------------------------------------------------------

# Nothing listens on port 1: a connection there is refused at once (the `redis_unreachable`
# fixture: the cache with Redis down).
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def _reset_broker_pools() -> None:
    # What Celery itself does after a fork: the next publish takes a pool for the URL set now
    # (kombu keeps one per URL, so the real broker's pool is found again afterwards).
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextlib.contextmanager
def broker_down() -> Iterator[str]:
    """Celery publishing for real (not eagerly) to a Redis URL on a loopback port where nothing
    listens (the port stays bound, so nothing else takes it): every enqueue fails as it would
    with Redis down."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{reserved.getsockname()[1]}/0"
        saved = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = url, False
        _reset_broker_pools()
        try:
            yield url
        finally:
            celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
            _reset_broker_pools()


# --- The clock ----------------------------------------------------------------------------------

NY = ZoneInfo("America/New_York")
# A Wednesday noon in New York, in a week without a daylight-saving change: Monday June 9 to
# Sunday June 15, 2025. The `clock` fixture pins the clock here.
NOW = datetime(2025, 6, 11, 12, 0, tzinfo=NY)


def at(day: int, hour: int, minute: int = 0, *, month: int = 6) -> datetime:
    """A New York wall-clock time in 2025 (June by default)."""
    return datetime(2025, month, day, hour, minute, tzinfo=NY)


def whole_hours_ago(hours: int) -> datetime:
    """The start of the hour `hours` hours before this one."""
    return timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


def hours_ago(hours: float) -> datetime:
    """Now minus `hours`, to the minute."""
    return (timezone.now() - timedelta(hours=hours)).replace(second=0, microsecond=0)


def later(minutes: float):  # type: ignore[no-untyped-def]
    """The clock moved `minutes` ahead (and ticking) inside the `with` block."""
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=True)


# --- Organizations, people, policies -------------------------------------------------------------


def service_type(org: Organization, name: str = "Tutoring") -> ServiceType:
    return ServiceType.objects.get(organization=org, name=name)


def set_policy(org: Organization, **fields: object) -> Organization:
    Organization.objects.filter(pk=org.pk).update(**fields)
    org.refresh_from_db()
    return org


def other_provider(
    tenant: Tenant,
    email: str = "other.provider@alpha.example",
    services: tuple[str, ...] = ("Tutoring",),
) -> tuple[User, Provider]:
    """A second provider of the tenant's organization, with a login."""
    user = UserFactory(email=email)
    MembershipFactory(user=user, organization=tenant.organization, role=Role.PROVIDER)
    provider = ProviderFactory(
        organization=tenant.organization, user=user, email=email, services=list(services)
    )
    return user, provider


def second_admin(tenant: Tenant, email: str = "admin2@alpha.example") -> User:
    user = UserFactory(email=email)
    MembershipFactory(user=user, organization=tenant.organization, role=Role.ADMIN)
    return user


def membership(user: User, org: Organization) -> Membership:
    return Membership.objects.get(user=user, organization=org)


def member(user: User, org: Organization | None = None) -> Membership:
    """The user's membership as a tenant view resolves it (`matchpal.tenancy.membership_for`):
    what the session and relationship services take as the one who acts. Of `org`, or, without
    it, the user's only membership (a user of two organizations must say which)."""
    memberships = Membership.objects.select_related("organization", "user").filter(user=user)
    if org is not None:
        memberships = memberships.filter(organization=org)
    return memberships.get()


MONEY = Decimal("0.01")

# --- Grants and packages -----------------------------------------------------------------------


def past_grant(student: Student, minutes: int = 600, **kwargs: object) -> Grant:
    """A grant valid for the last 30 days, so it covers sessions in the past."""
    kwargs.setdefault("valid_from", timezone.now() - timedelta(days=30))
    return make_grant(student=student, minutes=minutes, **kwargs)


def make_package(
    org,  # type: ignore[no-untyped-def]
    *,
    name: str = "Ten hours",
    quantity: int = 600,
    unit: str = "minutes",
    validity_days: int | None = 90,
    service_types=("Tutoring",),
) -> Package:
    package = Package.objects.create(
        organization=org,
        name=name,
        quantity=quantity,
        unit=unit,
        validity_days=validity_days,
        price="450.00",
    )
    for st_name in service_types:
        PackageServiceType.objects.create(
            organization=org, package=package, service_type=service_type(org, st_name)
        )
    return package


# --- Pairings -----------------------------------------------------------------------------------


def propose(
    tenant: Tenant,
    *,
    quantity: int = 600,
    student: Student | None = None,
    provider: Provider | None = None,
    service_type: str = "Tutoring",
    unit: str = "minutes",
    **kwargs: object,
) -> Relationship:
    org = tenant.organization
    return rel_services.relationship_propose(
        membership=member(tenant.admin, org),
        organization=org,
        student=student or tenant.student,
        provider=provider or tenant.provider,
        service_type=ServiceType.objects.get(organization=org, name=service_type),
        quantity=quantity,
        unit=unit,
        **kwargs,
    )


def pair(
    tenant: Tenant, relationship: Relationship, *, paired_at: datetime | None = None
) -> Relationship:
    """Accepted (by an admin on the provider's behalf), paired 30 days ago unless told."""
    rel_services.relationship_accept(
        membership=member(tenant.admin, tenant.organization), relationship=relationship
    )
    Relationship.objects.filter(pk=relationship.pk).update(
        paired_at=paired_at or timezone.now() - timedelta(days=30)
    )
    relationship.refresh_from_db()
    return relationship


def paired(
    tenant: Tenant, *, quantity: int = 600, paired_at: datetime | None = None, **kwargs: object
) -> Relationship:
    return pair(tenant, propose(tenant, quantity=quantity, **kwargs), paired_at=paired_at)


# --- Sessions -----------------------------------------------------------------------------------


def fresh(session: Session) -> Session:
    """The session as stored now."""
    session.refresh_from_db()
    return session


def log(
    tenant: Tenant,
    relationship: Relationship,
    starts_at: datetime | None = None,
    duration: int = 60,
    *,
    membership: Membership | None = None,
    by: str = "provider",
    **kwargs: Any,
) -> Session:
    """A session logged through the service: by the pair's provider (or the admin, with
    `by="admin"`, or any `membership`), at 10:15 on June 10 unless `starts_at` says otherwise."""
    if membership is None:
        user = tenant.admin if by == "admin" else tenant.provider_user
        membership = member(user, tenant.organization)
    return session_services.session_log(
        membership=membership,
        relationship=relationship,
        starts_at=starts_at or at(10, 15),
        duration=duration,
        **kwargs,
    )


def log_as_admin(
    tenant: Tenant,
    relationship: Relationship,
    starts_at: datetime | None = None,
    duration: int = 60,
    **kwargs: Any,
) -> Session:
    """`log`, by the organization's admin unless a `membership` is given."""
    return log(tenant, relationship, starts_at, duration, by="admin", **kwargs)


def refused(
    action: Callable[[], object], message: str, error: type[Exception] = SessionRuleError
) -> None:
    """`action()` raises `error` with exactly this message."""
    with pytest.raises(error) as raised:
        action()
    assert raised.value.message == message  # type: ignore[attr-defined]


def raises_exactly(exc_type: type[Exception], message: str):  # type: ignore[no-untyped-def]
    """A `with` block that must raise `exc_type` with exactly this message, not a fragment of it."""
    return pytest.raises(exc_type, match=f"^{re.escape(message)}$")


# --- Balances and the ledger --------------------------------------------------------------------


def balance(grant: Grant, *, with_status: bool = False) -> tuple[Any, ...]:
    """(total, used, held) as stored now, to the minute; the status last when `with_status`."""
    grant.refresh_from_db()
    if with_status:
        return grant.total, grant.used, grant.held, grant.status
    return grant.total, grant.used, grant.held


def holds(relationship: Relationship) -> list[tuple[int, int, int]]:
    """(grant id, held, consumed) of each allocation of the relationship."""
    return list(
        Allocation.objects.filter(relationship=relationship)
        .order_by("grant_id")
        .values_list("grant_id", "held", "consumed")
    )


def allocation(relationship, grant: Grant) -> tuple[int, int] | None:  # type: ignore[no-untyped-def]
    """(held, consumed) of the relationship's hold on the grant, None when it has none."""
    row = (
        Allocation.objects.filter(relationship=relationship, grant=grant)
        .values_list("held", "consumed")
        .first()
    )
    return row


def entries(grant: Grant | None = None, **filters: object) -> list[tuple[str, int, int, int]]:
    """The ledger entries as (kind, total_delta, used_delta, held_delta), oldest first: those
    of `grant` when given, and matching `filters`."""
    qs = GrantEntry.objects.filter(**filters)
    if grant is not None:
        qs = qs.filter(grant=grant)
    return list(qs.order_by("pk").values_list("kind", "total_delta", "used_delta", "held_delta"))


def assert_reconciled() -> None:
    """The balances are their ledger's sums, and (on PostgreSQL) the Sessions report's roll-ups
    the sessions' figures."""
    assert find_differences() == []
    if rollups.available():
        assert rollups.find_differences() == []


def snapshot() -> tuple[list, list, int]:  # type: ignore[type-arg]
    """Every balance column and the number of entries: equal before and after = nothing changed."""
    return (
        list(
            Grant.objects.order_by("pk").values_list(
                "pk", "total", "used", "held", "status", "expires_at"
            )
        ),
        list(Allocation.objects.order_by("pk").values_list("pk", "held", "consumed")),
        GrantEntry.objects.count(),
    )


# --- Emails and messages ------------------------------------------------------------------------


def mails(outbox: list, kind: str | None = None) -> list[tuple[str, str, list[str]]]:  # type: ignore[type-arg]
    """(subject, text, addresses) of the emails sent (of one kind of notice, if given), in
    order. A notice goes to each address alone (docs/notifications.md): the same subject and
    sentence to several people is one row with their addresses sorted, and its text is the
    sentence the inbox shows too (the email's greeting, facts and links are left to
    tests/notifications)."""
    rows: dict[tuple[str, str], list[str]] = {}
    for m in outbox:
        if kind is not None and m.extra_headers.get("X-Matchpal-Kind") != kind:
            continue
        rows.setdefault((m.subject, notice_text(m.body)), []).extend(m.to)
    return [(subject, text, sorted(to)) for (subject, text), to in rows.items()]


def notice_text(body: str) -> str:
    """The sentence of a notice's email (after the center's name and the greeting); any other
    email's whole body."""
    if "Choose which emails you get:" not in body:
        return body
    parts = body.split("\n\n")
    return parts[2] if parts[1].startswith("Hello ") else parts[1]


def messages_of(response, *, earlier_too: bool = False) -> list[str]:  # type: ignore[no-untyped-def]
    """The messages added while handling this request (not those left by earlier ones, unless
    `earlier_too`)."""
    if earlier_too:
        return [str(m) for m in get_messages(response.wsgi_request)]
    return [str(m) for m in get_messages(response.wsgi_request)._queued_messages]
