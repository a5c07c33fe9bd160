"""Tenant-scoped reads of providers: the organization is always part of the query."""

import copy
import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from matchpal import prebuilt
from matchpal.compiled import Compiled, available, stand_in
from matchpal.models import Organization, ServiceType, User
from matchpal.pagination import CompiledList
from providers.models import (
    AvailabilityException,
    AvailabilityVersion,
    AvailabilityWindow,
    Provider,
    ProviderService,
    ProviderStatus,
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


# What a row of the providers list shows (`providers.templatetags.provider_tags.provider_row`),
# besides its service types: not the bio, the phone, the pay rate or the login's own row.
LIST_FIELDS = ("public_id", "organization_id", "name", "email", "user_id", "status")


def provider_rows(*, organization: Organization) -> QuerySet[Provider]:
    """The providers list's rows (`providers.views.provider_list`): the columns a row shows, in
    the list's order, which the index `provider_org_name` holds (organization, name, id): the
    list's count and its page's ids are read from it alone. Their service types are read for
    the page's rows only (`with_service_types`)."""
    return (
        Provider.objects.filter(organization=organization).only(*LIST_FIELDS).order_by("name", "id")
    )


# The providers list opened unfiltered (the page an admin opens), its two statements compiled
# once (docs/performance.md, "The providers list and the center's week at a large center").
unfiltered_list = CompiledList(
    lambda organization: provider_rows(organization=stand_in(Organization, organization)),
    organization=int,
)


# The service types of a page of providers, by name (their names are unique in the center). Only
# table names are formatted in; the organization and the keys are parameters.
_SERVICE_NAMES = f"""
    SELECT ps.provider_id, st.id, st.name
    FROM {ProviderService._meta.db_table} ps
    JOIN {ServiceType._meta.db_table} st
      ON st.id = ps.service_type_id AND st.organization_id = ps.organization_id
    WHERE ps.organization_id = %s AND ps.provider_id = ANY(%s)
    ORDER BY st.name"""  # noqa: S608


def with_service_types(providers: list[Provider], *, organization: Organization) -> None:
    """Give each of `providers` (a page of the list) its service types, by name, as
    `prefetch_related("service_types")` ordered by name would, in one query of the names alone;
    each provider's are set as its prefetched rows (`Provider.offered`, and
    `service_types.all()` without a query), not through a related manager and a queryset made
    per provider as `prefetch_related` does."""
    if not providers:
        return
    ids = [p.pk for p in providers]
    links: Iterable[tuple[Any, ...]]
    if available(DEFAULT_DB_ALIAS):
        # One statement whatever the page's length (the keys as one array), prepared on the
        # connection: no ORM query built per request.
        links = prebuilt.fetch(_SERVICE_NAMES, [organization.pk, ids])
    else:
        links = (
            ProviderService.objects.filter(organization=organization, provider_id__in=ids)
            .order_by("service_type__name")
            .values_list("provider_id", "service_type_id", "service_type__name")
        )
    offered: dict[int, list[ServiceType]] = {p.pk: [] for p in providers}
    kinds: dict[int, ServiceType] = {}
    for provider_id, type_id, name in links:
        service_type = kinds.get(type_id)
        if service_type is None:
            service_type = ServiceType.from_db(DEFAULT_DB_ALIAS, ["id", "name"], (type_id, name))
            kinds[type_id] = service_type
        offered[provider_id].append(service_type)
    template = ServiceType.objects.none()
    for provider in providers:
        rows = copy.copy(template)
        rows._result_cache = offered[provider.pk]
        rows._prefetch_done = True  # type: ignore[attr-defined]
        provider._prefetched_objects_cache = {"service_types": rows}  # type: ignore[attr-defined]


def provider_get(*, organization: Organization, public_id: uuid.UUID) -> Provider:
    provider = provider_list(organization=organization).filter(public_id=public_id).first()
    if provider is None:
        raise Http404("No such provider.")
    return provider


def provider_for_user(*, organization: Organization, user: User) -> Provider | None:
    return provider_list(organization=organization).filter(user=user).first()


# Compiled once: the provider home names the provider and links to their pages; it shows
# nothing of what `provider_list` adds (their service types, a query of their own).
_record_of_user = Compiled(
    lambda organization, user: Provider.objects.filter(
        organization=organization, user=user
    ).order_by("pk")[:1],
    organization=int,
    user=int,
)


def provider_record_for_user(*, organization: Organization, user: User) -> Provider | None:
    """The provider record of the login in the organization (one at most,
    `provider_one_record_per_user`), without its service types: one compiled query."""
    rows = _record_of_user.rows(organization=organization.pk, user=user.pk)
    return rows[0] if rows else None


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


def week_availability_sql(*, organization: Organization, first_day: date) -> tuple[str, list[Any]]:
    """The active providers' hours of the week from `first_day` (a Monday) as plain numbers, for
    a caller's one statement (`sessions_app.slots.center_week`): rows of (kind, provider id,
    day, start minute, end minute), minutes of the local day. Kind "w" is a weekly window (day
    = its weekday, Monday 0); an exception has its own kind, "extra" hours or "off" (day = days
    after `first_day`; a whole day off is 0 to 1440). Openings round inwards to the minute, time off
    outwards."""
    window, exception = AvailabilityWindow._meta.db_table, AvailabilityException._meta.db_table
    # Only table names are formatted in; every value is a parameter.
    provider = Provider._meta.db_table
    active = f"SELECT id FROM {provider} WHERE organization_id = %s AND status = %s"  # noqa: S608
    sql = f"""
        SELECT 'w', w.provider_id, w.weekday::int,
               ceil(date_part('epoch', w.start) / 60)::int,
               floor(date_part('epoch', w."end") / 60)::int
        FROM {window} w
        WHERE w.organization_id = %s AND w.provider_id IN ({active})
        UNION ALL
        SELECT x.kind, x.provider_id, x.date - %s::date,
               CASE WHEN x.kind = 'off' THEN coalesce(floor(date_part('epoch', x.start) / 60), 0)
                    ELSE ceil(date_part('epoch', x.start) / 60) END::int,
               CASE WHEN x.kind = 'off' THEN coalesce(ceil(date_part('epoch', x."end") / 60), 1440)
                    ELSE floor(date_part('epoch', x."end") / 60) END::int
        FROM {exception} x
        WHERE x.organization_id = %s AND x.date BETWEEN %s::date AND %s::date
          AND x.provider_id IN ({active})"""  # noqa: S608
    org, status, last_day = organization.pk, ProviderStatus.ACTIVE, first_day + timedelta(days=6)
    params: list[Any] = [org, org, status, first_day, org, first_day, last_day, org, status]
    return sql, params


def week_availability_stamp_sql(
    *, organization: Organization, first_day: date
) -> tuple[str, list[Any]]:
    """A fingerprint of everything `week_availability_sql` reads, for a caller's cache key
    (`sessions_app.slots.center_week`): one row, one text column. For the active providers, every
    weekly window of the organization, and the week's exceptions, the number of rows and the sum
    of a hash of the columns the counts depend on: any insert, edit or delete of such a row, or a
    provider's status change, gives another text (a pure function of the rows, so it is the same
    whatever order transactions commit in)."""
    window, exception = AvailabilityWindow._meta.db_table, AvailabilityException._meta.db_table
    provider = Provider._meta.db_table
    # Only table names are formatted in; every value is a parameter.
    sql = f"""
        SELECT concat_ws(',', p.n, p.h, w.n, w.h, x.n, x.h) FROM
          (SELECT count(*) n, coalesce(sum(hash_record_extended(ROW(id), 0)), 0) h
           FROM {provider} WHERE organization_id = %s AND status = %s) p,
          (SELECT count(*) n, coalesce(sum(hash_record_extended(
                ROW(provider_id, weekday, start, "end"), 0)), 0) h
           FROM {window} WHERE organization_id = %s) w,
          (SELECT count(*) n, coalesce(sum(hash_record_extended(
                ROW(provider_id, kind, date, start, "end"), 0)), 0) h
           FROM {exception}
           WHERE organization_id = %s AND date BETWEEN %s::date AND %s::date) x"""  # noqa: S608
    org, last_day = organization.pk, first_day + timedelta(days=6)
    return sql, [org, ProviderStatus.ACTIVE, org, org, first_day, last_day]


# The version of the organization's hours (`AvailabilityVersion`, kept by the triggers of
# providers 0004): 0 before their first write. One parameter, the organization.
HOURS_VERSION_SQL = (
    f"SELECT coalesce((SELECT n FROM {AvailabilityVersion._meta.db_table} "  # noqa: S608
    "WHERE organization_id = %s), 0)"
)


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
