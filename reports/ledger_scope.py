"""What the Usage and Financial reports share: their filters, the date range as instants in the
center's time zone, and the ledger entries a filter keeps.

Both reports read the ledger (`GrantEntry`), never the balance columns summed on a page: an
entry is dated by when it was written (`created_at`), so the figures of a range add up to the
change of the balances over that range. docs/reports.md has each figure's definition.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, cast

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from grants.models import Grant, GrantEntry, GrantServiceType
from matchpal.models import Membership, Organization, ServiceType
from providers.models import Provider
from students.models import Student

Period = Literal["day", "week", "month"]


@dataclass(frozen=True)
class LedgerFilters:
    """A report's filters: the range (both days included, in the center's time zone), and at
    most one service type, provider and student, already fetched inside the organization."""

    start: date
    end: date
    period: Period = "month"
    service_type: ServiceType | None = None
    provider: Provider | None = None
    student: Student | None = None

    def bounds(self, organization: Organization) -> tuple[datetime, datetime]:
        """The range as instants: from the start day's midnight to the midnight after the end
        day, in the center's zone (a day of a daylight-saving change is 23 or 25 hours)."""
        tz = organization.tz
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz),
        )

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def require_admin(membership: Membership) -> None:
    """The ledger reports are the center's books: admins only (DESIGN §2)."""
    if not membership.is_admin:
        raise PermissionDenied


def end_of(day: date, organization: Organization) -> datetime:
    """The instant a day ends in the center's zone, or now when that is still to come: "at a
    date" means what the ledger said at the close of that day."""
    close = datetime.combine(day + timedelta(days=1), time.min, tzinfo=organization.tz)
    return min(close, timezone.now())


def covers(service_type: ServiceType, grant: str = "grant_id") -> Exists:
    """The entry's grant covers the service type (`grant="pk"` for a query of grants)."""
    return Exists(GrantServiceType.objects.filter(grant=OuterRef(grant), service_type=service_type))


def filtered_grants[G: QuerySet[Grant]](grants: G, filters: LedgerFilters) -> G:
    """The grants of the filter's student that cover its service type (the provider filter is
    the caller's: hours outstanding belong to no provider, ended grants' to their allocations)."""
    if filters.student is not None:
        grants = grants.filter(student=filters.student)
    if filters.service_type is not None:
        grants = grants.filter(covers(filters.service_type, grant="pk"))
    return grants


def ledger_entries(
    *,
    organization: Organization,
    filters: LedgerFilters,
    by_type: bool = True,
    grants_checked: bool = True,
) -> QuerySet[GrantEntry]:
    """The organization's entries a filter keeps.

    - student: the entries of the student's grants;
    - provider: the entries of that provider's relationships (consumption, restorations,
      holds): purchases, refunds and expiries belong to no provider and drop out;
    - service type: an entry for a relationship is of the relationship's service type; any
      other entry (a credit, a refund, an expiry) is of every type its grant covers, so a grant
      covering two types counts under each (as on the balance cards). `by_type=False` leaves
      the service type out (the per-type table groups by it instead).

    The grant is checked to be the organization's too (`grants_checked=False` leaves that to
    the composite foreign key that already holds it: a count of the entries then reads their
    index `grant_entry_org_created` alone, no grant, unless a filter needs it).
    """
    entries = GrantEntry.objects.filter(organization=organization)
    if grants_checked:
        entries = entries.filter(grant__organization=organization)
    if filters.student is not None:
        entries = entries.filter(grant__student=filters.student)
    if filters.provider is not None:
        entries = entries.filter(relationship__provider=filters.provider)
    if by_type and filters.service_type is not None:
        entries = entries.filter(
            Q(relationship__service_type=filters.service_type)
            | Q(relationship__isnull=True) & covers(filters.service_type)
        )
    return entries


def rows(queryset: QuerySet[Any, Any]) -> list[dict[str, Any]]:
    """A `values()` queryset's rows, evaluated (the type checker cannot follow its aliases)."""
    return cast(list[dict[str, Any]], list(queryset))


@dataclass(frozen=True)
class Unused:
    """The rows whose sum is the hours outstanding at an instant (`rows`), the path from a row
    to its grant (`grant`: "" for grants, "grant__" for entries) and what to sum (`amount`)."""

    rows: QuerySet[Any]
    grant: str
    amount: Any


def unused_hours(
    *, organization: Organization, filters: LedgerFilters, day: date, from_ledger: bool = False
) -> Unused:
    """The hours outstanding at the close of `day`: the unused hours (free to book and
    reserved) of the grants valid then, of the filter's student and covering its service type
    (hours belong to no provider: that filter does not apply).

    Before today, from the ledger up to that instant: per grant the entries' `usable_delta +
    held_delta` sum to `total − used` while it is active and to 0 once expired or revoked (an
    expiry releases its holds). For today the same sum is the usable grants' `total − used`
    (`Grant.objects.usable`): one row per grant instead of its whole history, the same figure
    (`from_ledger` forces the ledger, for the test that keeps them equal)."""
    now = timezone.now()
    close = datetime.combine(day + timedelta(days=1), time.min, tzinfo=organization.tz)
    if close >= now and not from_ledger:
        grants = filtered_grants(
            Grant.objects.usable(at=now).filter(organization=organization), filters
        )
        return Unused(grants.order_by(), "", F("total") - F("used"))
    instant = min(close, now)
    entries = GrantEntry.objects.filter(
        organization=organization,
        grant__organization=organization,
        created_at__lte=instant,
        grant__valid_from__lte=instant,
    ).filter(Q(grant__expires_at__isnull=True) | Q(grant__expires_at__gt=instant))
    if filters.student is not None:
        entries = entries.filter(grant__student=filters.student)
    if filters.service_type is not None:
        entries = entries.filter(covers(filters.service_type))
    return Unused(entries.order_by(), "grant__", F("usable_delta") + F("held_delta"))
