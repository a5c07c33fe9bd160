"""Helpers shared by the relationship and session tests: a pinned clock, policies, pairings
made through the services, and compact views of balances, ledger entries and emails."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from grants.models import Allocation, Grant, GrantEntry
from matchpal.models import Membership, Organization, Role, ServiceType, User
from providers.models import Provider
from relationships import services as rel_services
from relationships.models import Relationship
from students.models import Student
from tests.conftest import Tenant
from tests.factories import MembershipFactory, ProviderFactory, UserFactory, make_grant

NY = ZoneInfo("America/New_York")
# A Wednesday noon in New York, in a week without a daylight-saving change: Monday June 9 to
# Sunday June 15, 2025.
NOW = datetime(2025, 6, 11, 12, 0, tzinfo=NY)


@pytest.fixture
def clock() -> Iterator[object]:
    """Pins the clock at NOW; request it before any fixture that writes rows."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def at(day: int, hour: int, minute: int = 0, *, month: int = 6) -> datetime:
    """A New York wall-clock time in 2025 (June by default)."""
    return datetime(2025, month, day, hour, minute, tzinfo=NY)


def service(org: Organization, name: str = "Tutoring") -> ServiceType:
    return ServiceType.objects.get(organization=org, name=name)


def set_policy(org: Organization, **fields: object) -> Organization:
    Organization.objects.filter(pk=org.pk).update(**fields)
    org.refresh_from_db()
    return org


def past_grant(student: Student, minutes: int = 600, **kwargs: object) -> Grant:
    """A grant valid for the last 30 days, so it covers sessions in the past."""
    kwargs.setdefault("valid_from", timezone.now() - timedelta(days=30))
    return make_grant(student=student, minutes=minutes, **kwargs)


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
        actor=tenant.admin,
        organization=org,
        student=student or tenant.student,
        provider=provider or tenant.provider,
        service_type=service(org, service_type),
        quantity=quantity,
        unit=unit,
        **kwargs,
    )


def pair(
    tenant: Tenant, relationship: Relationship, *, paired_at: datetime | None = None
) -> Relationship:
    """Accepted (by an admin on the provider's behalf), paired 30 days ago unless told."""
    rel_services.relationship_accept(actor=tenant.admin, relationship=relationship)
    Relationship.objects.filter(pk=relationship.pk).update(
        paired_at=paired_at or timezone.now() - timedelta(days=30)
    )
    relationship.refresh_from_db()
    return relationship


def paired(
    tenant: Tenant, *, quantity: int = 600, paired_at: datetime | None = None, **kwargs: object
) -> Relationship:
    return pair(tenant, propose(tenant, quantity=quantity, **kwargs), paired_at=paired_at)


def balance(grant: Grant) -> tuple[int, int, int]:
    """(total, used, held) as stored, to the minute."""
    grant.refresh_from_db()
    return grant.total, grant.used, grant.held


def holds(relationship: Relationship) -> list[tuple[int, int, int]]:
    """(grant id, held, consumed) of each allocation of the relationship."""
    return list(
        Allocation.objects.filter(relationship=relationship)
        .order_by("grant_id")
        .values_list("grant_id", "held", "consumed")
    )


def entries(**match: object) -> list[tuple[str, int, int, int]]:
    """(kind, total, used, held) deltas of the ledger entries matching, oldest first."""
    return list(
        GrantEntry.objects.filter(**match)
        .order_by("id")
        .values_list("kind", "total_delta", "used_delta", "held_delta")
    )


def mails(outbox: list) -> list[tuple[str, str, list[str]]]:  # type: ignore[type-arg]
    return [(m.subject, m.body, list(m.to)) for m in outbox]


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


MONEY = Decimal("0.01")
