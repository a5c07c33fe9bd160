"""The Usage report's figures: hours purchased against hours consumed per period, usage per
service type, the utilization of the grants that ended in the range, the hours outstanding at a
date (the center's liability) and each student's consumption velocity.

Every figure is one SQL aggregate over the ledger, grouped by unit (minutes and sessions are
never added together); each function runs one query whatever the amount of data, on PostgreSQL
and on SQLite. docs/reports.md, "Usage", defines each figure.
"""

from datetime import date, timedelta
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone

from grants.models import (
    Allocation,
    EntryKind,
    Grant,
    GrantEntry,
    GrantServiceType,
    GrantStatus,
    Unit,
)
from matchpal.models import Membership, Organization, ServiceType
from reports.ledger_scope import LedgerFilters, end_of, ledger_entries, require_admin, rows

VELOCITY_ROWS = 50


def _sum(field: str, condition: Q | None = None, *, negate: bool = False) -> Coalesce:
    total = Sum(field, filter=condition) if condition is not None else Sum(field)
    value = Coalesce(total, 0, output_field=IntegerField())
    return Coalesce(-total, 0, output_field=IntegerField()) if negate else value


def _flows() -> dict[str, Any]:
    """What a set of entries did, by what it was for. `expired` is what expiries took out of
    the usable balance, less what extensions that re-activated a grant put back."""
    return {
        "purchased": _sum("total_delta", Q(kind=EntryKind.CREDIT)),
        "adjusted": _sum("total_delta", Q(kind=EntryKind.ADJUST)),
        "transferred": _sum(
            "total_delta", Q(kind__in=[EntryKind.TRANSFER_IN, EntryKind.TRANSFER_OUT])
        ),
        "refunded": _sum("total_delta", Q(kind=EntryKind.REFUND), negate=True),
        "consumed": _sum("used_delta", Q(kind=EntryKind.CONSUME)),
        "restored": _sum("used_delta", Q(kind=EntryKind.RESTORE), negate=True),
        "net_consumed": _sum("used_delta"),
        "expired": _sum(
            "usable_delta", Q(kind__in=[EntryKind.EXPIRE, EntryKind.EXTEND]), negate=True
        ),
    }


def purchased_vs_consumed(
    *, organization: Organization, membership: Membership, filters: LedgerFilters, unit: str
) -> list[dict[str, Any]]:
    """Per period (the start of each day, week or month in the center's zone), for grants of
    `unit`: hours purchased, adjusted, transferred, refunded, consumed, restored, consumed net
    of restorations, and expired unused. Periods without entries are left out."""
    require_admin(membership)
    start, end = filters.bounds(organization)
    return rows(
        ledger_entries(organization=organization, filters=filters)
        .filter(created_at__gte=start, created_at__lt=end, grant__unit=unit)
        .annotate(
            period=Trunc(
                "created_at", filters.period, output_field=DateTimeField(), tzinfo=organization.tz
            )
        )
        .order_by()
        .values("period")
        .annotate(**_flows())
        .order_by("period")
    )


def flow_totals(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> list[dict[str, Any]]:
    """`purchased_vs_consumed` over the whole range, one row per unit."""
    require_admin(membership)
    start, end = filters.bounds(organization)
    return rows(
        ledger_entries(organization=organization, filters=filters)
        .filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .values(unit=F("grant__unit"))
        .annotate(**_flows())
        .order_by("unit")
    )


def usage_by_service_type(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> list[dict[str, Any]]:
    """Per service type, in the range: minutes and sessions purchased (credits of grants
    covering the type: a grant covering two types counts under each) and consumed net of
    restorations (by the relationships of that type). One query: a subquery per figure."""
    require_admin(membership)
    start, end = filters.bounds(organization)
    entries = ledger_entries(organization=organization, filters=filters, by_type=False).filter(
        created_at__gte=start, created_at__lt=end
    )

    def figure(unit: str, field: str, condition: Q) -> Coalesce:
        matching = (
            entries.filter(condition, grant__unit=unit)
            .order_by()
            .values("organization")
            .annotate(value=Sum(field))
            .values("value")
        )
        return Coalesce(Subquery(matching), 0)

    def purchased(unit: str) -> Coalesce:
        covering = GrantServiceType.objects.filter(
            grant=OuterRef("grant_id"), service_type=OuterRef(OuterRef("pk"))
        )
        return figure(unit, "total_delta", Q(Exists(covering), kind=EntryKind.CREDIT))

    def consumed(unit: str) -> Coalesce:
        return figure(unit, "used_delta", Q(relationship__service_type=OuterRef("pk")))

    types = ServiceType.objects.filter(organization=organization)
    if filters.service_type is not None:
        types = types.filter(pk=filters.service_type.pk)
    return rows(
        types.order_by("name", "pk")
        .values("name")
        .annotate(
            purchased_minutes=purchased("minutes"),
            consumed_minutes=consumed("minutes"),
            purchased_sessions=purchased("sessions"),
            consumed_sessions=consumed("sessions"),
        )
    )


ENDED_EXPIRED = "expired"
ENDED_REFUNDED = "refunded"
ENDED_USED_UP = "used_up"


def ended_grants(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> tuple["QuerySet[Any]", dict[str, Any]]:
    """The grants that ended in the range, annotated with how they ended (`ending`), and the
    figures to aggregate over them (per unit: grants, `had`, `used`; `utilization = used ÷
    had`).

    A grant has ended when, today, it is expired (ended by its latest expiry entry), revoked
    (refunded in full: ended by its refund) or used up (`used = total > 0`: ended by its latest
    consumption); a grant extended or restored since is running again and not counted. `had`
    is its total before refunds (credits, adjustments and transfers), `used` what it used."""
    require_admin(membership)
    start, end = filters.bounds(organization)
    own = GrantEntry.objects.filter(grant=OuterRef("pk"))

    def latest(kind: str) -> Subquery:
        return Subquery(
            own.filter(kind=kind).order_by("-created_at", "-pk").values("created_at")[:1]
        )

    refunded = (
        own.filter(kind=EntryKind.REFUND)
        .order_by()
        .values("grant")
        .annotate(value=Sum("total_delta"))
        .values("value")
    )
    grants = Grant.objects.filter(organization=organization).filter(
        Q(status__in=[GrantStatus.EXPIRED, GrantStatus.REVOKED])
        | Q(status=GrantStatus.ACTIVE, total__gt=0, used=F("total"))
    )
    if filters.student is not None:
        grants = grants.filter(student=filters.student)
    if filters.service_type is not None:
        grants = grants.filter(
            Exists(
                GrantServiceType.objects.filter(
                    grant=OuterRef("pk"), service_type=filters.service_type
                )
            )
        )
    if filters.provider is not None:
        grants = grants.filter(
            Exists(
                Allocation.objects.filter(
                    grant=OuterRef("pk"), relationship__provider=filters.provider
                )
            )
        )
    annotated = grants.annotate(
        ended_at=Case(
            When(status=GrantStatus.EXPIRED, then=latest(EntryKind.EXPIRE)),
            When(status=GrantStatus.REVOKED, then=latest(EntryKind.REFUND)),
            default=latest(EntryKind.CONSUME),
            output_field=DateTimeField(),
        ),
        ending=Case(
            When(status=GrantStatus.EXPIRED, then=Value(ENDED_EXPIRED)),
            When(status=GrantStatus.REVOKED, then=Value(ENDED_REFUNDED)),
            default=Value(ENDED_USED_UP),
            output_field=CharField(),
        ),
        before_refunds=F("total") - Coalesce(Subquery(refunded), 0),
    ).filter(ended_at__gte=start, ended_at__lt=end)
    return annotated.order_by(), _ended_figures()


def _ended_figures() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for unit in Unit.values:
        of_unit = Q(unit=unit)
        figures[f"grants_{unit}"] = Count("pk", filter=of_unit)
        figures[f"had_{unit}"] = Coalesce(Sum("before_refunds", filter=of_unit), 0)
        figures[f"used_{unit}"] = Coalesce(Sum("used", filter=of_unit), 0)
    return figures


def grant_utilization(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> list[dict[str, Any]]:
    """Per way of ending (expired, refunded, used up) and per unit: the grants that ended in
    the range, the hours they had and the hours they used (`utilization = used ÷ had`)."""
    ended, figures = ended_grants(organization=organization, membership=membership, filters=filters)
    return rows(ended.values("ending").annotate(**figures).order_by("ending"))


def utilization_totals(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> dict[str, Any]:
    """`grant_utilization` over every grant that ended in the range: one row."""
    ended, figures = ended_grants(organization=organization, membership=membership, filters=filters)
    return ended.aggregate(**figures)


def outstanding_at(
    *, organization: Organization, membership: Membership, filters: LedgerFilters, day: date
) -> list[dict[str, Any]]:
    """The hours outstanding at the close of `day` (or now, for today), per unit: the unused
    hours (free to book and reserved) of the grants valid then, computed from the ledger up to
    that instant: the grant columns only know today.

    Per grant the entries' `usable_delta + held_delta` sum to `total − used` while it is active
    and to 0 once expired or revoked (an expiry releases its holds), so one sum over the entries
    up to the instant gives each grant's unused hours as they were. A grant counts when valid
    from that instant at the latest and not past its expiry date (as `Grant.objects.usable`)."""
    require_admin(membership)
    return rows(
        _outstanding_entries(organization, filters, day)
        .values(unit=F("grant__unit"))
        .annotate(outstanding=Sum(F("usable_delta") + F("held_delta")))
        .order_by("unit")
    )


def _outstanding_entries(
    organization: Organization, filters: LedgerFilters, day: date
) -> QuerySet[GrantEntry]:
    instant = end_of(day, organization)
    return (
        ledger_entries(organization=organization, filters=filters)
        .filter(created_at__lte=instant, grant__valid_from__lte=instant)
        .filter(Q(grant__expires_at__isnull=True) | Q(grant__expires_at__gt=instant))
        .order_by()
    )


def outstanding_by_student(
    *, organization: Organization, membership: Membership, filters: LedgerFilters, day: date
) -> "QuerySet[Any, Any]":
    """`outstanding_at` per student with hours outstanding, minutes and sessions side by side,
    the most minutes first. A query (the export streams every row)."""
    require_admin(membership)
    unused = F("usable_delta") + F("held_delta")
    return (
        _outstanding_entries(organization, filters, day)
        .values("grant__student__public_id", student_name=F("grant__student__name"))
        .annotate(
            outstanding_minutes=Coalesce(Sum(unused, filter=Q(grant__unit=Unit.MINUTES)), 0),
            outstanding_sessions=Coalesce(Sum(unused, filter=Q(grant__unit=Unit.SESSIONS)), 0),
        )
        .filter(Q(outstanding_minutes__gt=0) | Q(outstanding_sessions__gt=0))
        .order_by("-outstanding_minutes", "-outstanding_sessions", "student_name")
    )


def consumption_velocity(
    *, organization: Organization, membership: Membership, filters: LedgerFilters, unit: str
) -> list[dict[str, Any]]:
    """Per student who consumed `unit` in the range: consumed net of restorations, the same
    per week of the range, what is free to book now, and at that pace the days it lasts
    (`free × days in range ÷ consumed`, rounded down; 0 when nothing is free). The
    `VELOCITY_ROWS` that run out soonest first; each row's `runs_out` is today plus its days."""
    require_admin(membership)
    start, end = filters.bounds(organization)
    days = filters.days
    free = (
        Grant.objects.usable()
        .filter(
            organization=organization,
            student=OuterRef("grant__student"),
            unit=OuterRef("grant__unit"),
        )
        .order_by()
        .values("student")
        .annotate(value=Sum(F("total") - F("used") - F("held")))
        .values("value")
    )
    found = rows(
        ledger_entries(organization=organization, filters=filters)
        .filter(created_at__gte=start, created_at__lt=end, grant__unit=unit)
        .order_by()
        .values(
            "grant__student__public_id",
            student_name=F("grant__student__name"),
            unit=F("grant__unit"),
        )
        .annotate(consumed=Sum("used_delta"), free=Coalesce(Subquery(free), 0))
        .filter(consumed__gt=0)
        .annotate(
            per_week=F("consumed") * 7.0 / days,
            days_left=Case(
                When(free__gt=0, then=F("free") * days / F("consumed")),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .order_by("days_left", "student_name")[:VELOCITY_ROWS]
    )
    today = timezone.localdate(timezone=organization.tz)
    for row in found:
        row["student_id"] = row.pop("grant__student__public_id")
        row["runs_out"] = today + timedelta(days=row["days_left"])
    return found
