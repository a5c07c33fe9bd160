"""Tenant-scoped reads of providers: the organization is always part of the query."""

import uuid
from collections.abc import Iterable
from datetime import date

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from matchpal.models import Organization, ServiceType, User
from providers.models import (
    AvailabilityException,
    AvailabilityWindow,
    Provider,
    ProviderService,
)


def service_types_for_form(
    *, organization: Organization, provider: Provider | None = None
) -> QuerySet[ServiceType]:
    """What a provider form offers: the active service types, plus the deactivated ones that
    `provider` already offers."""
    offered = Q(is_active=True)
    if provider is not None:
        offered |= Q(
            pk__in=ProviderService.objects.filter(provider=provider).values("service_type_id")
        )
    return ServiceType.objects.filter(organization=organization).filter(offered).order_by("name")


def provider_list(*, organization: Organization) -> QuerySet[Provider]:
    return (
        Provider.objects.filter(organization=organization)
        .select_related("user")
        .prefetch_related(Prefetch("service_types", queryset=ServiceType.objects.order_by("name")))
    )


def provider_get(*, organization: Organization, public_id: uuid.UUID) -> Provider:
    provider = provider_list(organization=organization).filter(public_id=public_id).first()
    if provider is None:
        raise Http404("No such provider.")
    return provider


def provider_for_user(*, organization: Organization, user: User) -> Provider | None:
    return provider_list(organization=organization).filter(user=user).first()


def lock_provider(*, pk: int) -> None:
    """Lock the provider's row `FOR NO KEY UPDATE OF` itself, for the writers whose rules count
    every session of the provider (docs/sessions.md, the lock order of session writes)."""
    list(
        Provider.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk=pk)
        .values_list("pk", flat=True)
    )


def availability_of(
    *,
    organization: Organization,
    provider_ids: Iterable[int],
    first_day: date,
    last_day: date,
) -> tuple[list[AvailabilityWindow], list[AvailabilityException]]:
    """The weekly windows of the providers, and their exceptions dated from `first_day` to
    `last_day` (inclusive): two queries whatever their number (`provider_ids` may be a
    `values_list` queryset: a subquery)."""
    ids = provider_ids
    windows = list(
        AvailabilityWindow.objects.filter(organization=organization, provider_id__in=ids)
    )
    exceptions = list(
        AvailabilityException.objects.filter(
            organization=organization,
            provider_id__in=ids,
            date__range=(first_day, last_day),
        )
    )
    return windows, exceptions


def exceptions_ahead(
    *, organization: Organization, provider: Provider, since: date
) -> QuerySet[AvailabilityException]:
    """The provider's exceptions from `since` on, the first 50 (a page shows them)."""
    return AvailabilityException.objects.filter(
        organization=organization, provider=provider, date__gte=since
    ).order_by("date", "start", "id")[:50]


def window_get(
    *, organization: Organization, provider: Provider, public_id: uuid.UUID
) -> AvailabilityWindow:
    window = AvailabilityWindow.objects.filter(
        organization=organization, provider=provider, public_id=public_id
    ).first()
    if window is None:
        raise Http404("No such hours.")
    return window


def exception_get(
    *, organization: Organization, provider: Provider, public_id: uuid.UUID
) -> AvailabilityException:
    exception = AvailabilityException.objects.filter(
        organization=organization, provider=provider, public_id=public_id
    ).first()
    if exception is None:
        raise Http404("No such exception.")
    return exception
