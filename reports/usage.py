"""The Usage report's figures: hours purchased against hours consumed per period, usage per
service type, the utilization of the grants that ended in the range, the hours outstanding at a
date (the center's liability) and each student's consumption velocity.

Every figure is one SQL aggregate over the ledger, grouped by unit (minutes and sessions are
never added together); each function runs one query whatever the amount of data, on PostgreSQL
and on SQLite. docs/reports.md, "Usage", defines each figure.
"""

from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, Trunc
from django.utils import timezone

from grants.models import (
    Allocation,
    EntryKind,
    Grant,
    GrantEntry,
    GrantStatus,
    Unit,
)
from matchpal.models import Membership, Organization, ServiceType
from reports import rollups
from reports.ledger_scope import (
    LedgerFilters,
    covers,
    filtered_grants,
    ledger_entries,
    require_admin,
    rows,
    unused_hours,
)
from reports.models import LEDGER_GRAINS, LedgerDay

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


def rolled_up(filters: LedgerFilters) -> bool:
    """Are the range's flows, per-type figures and velocity read from the ledger's roll-ups
    (`reports.models.LedgerDay`, `StudentLedgerPeriod`)? On PostgreSQL, for the whole center or
    one service type; a student's or a provider's figures (a few entries, found through the
    grant or the relationship) and SQLite read the ledger."""
    return rollups.available() and filters.student is None and filters.provider is None


def _ledger_days(organization: Organization, filters: LedgerFilters) -> "QuerySet[LedgerDay]":
    """The roll-up's day rows of the range: the center's, or those of the filter's type."""
    days = LedgerDay.objects.filter(
        organization=organization, day__gte=filters.start, day__lte=filters.end
    )
    if filters.service_type is not None:
        return days.filter(of_service_type=filters.service_type)
    return days.filter(of_service_type__isnull=True)


def purchased_vs_consumed(
    *,
    organization: Organization,
    membership: Membership,
    filters: LedgerFilters,
    unit: str | None = None,
) -> list[dict[str, Any]]:
    """Per period (the first day of each day, week or month in the center's zone), for grants of
    `unit` (or per period and unit, with `unit` in each row, when None: one pass for both):
    hours purchased, adjusted, transferred, refunded, consumed, restored, consumed net of
    restorations, and expired unused. Periods without entries are left out."""
    require_admin(membership)
    if rolled_up(filters):
        days = _ledger_days(organization, filters)
        if unit is not None:
            days = days.filter(unit=unit)
        by_unit = ["unit"] if unit is None else []
        return rows(
            days.annotate(period=Trunc("day", filters.period, output_field=DateField()))
            .order_by()
            .values("period", *by_unit)
            .annotate(**_flows())
            .order_by(*by_unit, "period")
        )
    start, end = filters.bounds(organization)
    entries = ledger_entries(organization=organization, filters=filters).filter(
        created_at__gte=start, created_at__lt=end
    )
    keys: dict[str, Any] = {}
    if unit is None:
        keys["unit"] = F("grant__unit")
    else:
        entries = entries.filter(grant__unit=unit)
    return rows(
        entries.annotate(
            period=Trunc(
                "created_at", filters.period, output_field=DateField(), tzinfo=organization.tz
            )
        )
        .order_by()
        .values("period", **keys)
        .annotate(**_flows())
        .order_by(*keys, "period")
    )


def flow_totals(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> list[dict[str, Any]]:
    """`purchased_vs_consumed` over the whole range, one row per unit."""
    require_admin(membership)
    if rolled_up(filters):
        return rows(
            _ledger_days(organization, filters)
            .order_by()
            .values("unit")
            .annotate(**_flows())
            .order_by("unit")
        )
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
    restorations (by the relationships of that type). Three queries: the types, and one
    grouped pass over the range's entries for each figure, put side by side per type."""
    require_admin(membership)
    types = ServiceType.objects.filter(organization=organization)
    if filters.service_type is not None:
        types = types.filter(pk=filters.service_type.pk)
    if rolled_up(filters):
        consumed, purchased = _types_rolled_up(organization, filters)
        return _side_by_side(types, purchased, consumed)
    start, end = filters.bounds(organization)
    entries = ledger_entries(organization=organization, filters=filters, by_type=False).filter(
        created_at__gte=start, created_at__lt=end
    )

    def per_unit(field: str, name: str) -> dict[str, Coalesce]:
        return {
            f"{name}_{unit}": Coalesce(Sum(field, filter=Q(grant__unit=unit)), 0)
            for unit in Unit.values
        }

    consumed = {
        row.pop("type_id"): row
        for row in rows(
            entries.filter(relationship__isnull=False)
            .order_by()
            .values(type_id=F("relationship__service_type_id"))
            .annotate(**per_unit("used_delta", "consumed"))
        )
    }
    purchased = {
        row.pop("type_id"): row
        for row in rows(
            entries.filter(kind=EntryKind.CREDIT)
            .order_by()
            .values(type_id=F("grant__grantservicetype__service_type_id"))
            .annotate(**per_unit("total_delta", "purchased"))
        )
    }
    return _side_by_side(types, purchased, consumed)


def _types_rolled_up(
    organization: Organization, filters: LedgerFilters
) -> tuple[dict[Any, dict[str, Any]], dict[Any, dict[str, Any]]]:
    """`usage_by_service_type`'s two grouped passes over the roll-up's rows of the types: the
    consumption by the relationships' types, the credits of the grants covering each type."""
    days = LedgerDay.objects.filter(
        organization=organization,
        day__gte=filters.start,
        day__lte=filters.end,
        of_service_type__isnull=False,
    )
    if filters.service_type is not None:
        days = days.filter(of_service_type=filters.service_type)

    def per_unit(field: str, name: str) -> dict[str, Coalesce]:
        return {
            f"{name}_{unit}": Coalesce(Sum(field, filter=Q(unit=unit)), 0) for unit in Unit.values
        }

    consumed = {
        row.pop("type_id"): row
        for row in rows(
            days.filter(by_relationship=True)
            .order_by()
            .values(type_id=F("of_service_type"))
            .annotate(**per_unit("used_delta", "consumed"))
        )
    }
    purchased = {
        row.pop("type_id"): row
        for row in rows(
            days.filter(by_relationship=False, kind=EntryKind.CREDIT)
            .order_by()
            .values(type_id=F("of_service_type"))
            .annotate(**per_unit("total_delta", "purchased"))
        )
    }
    return consumed, purchased


def _side_by_side(
    types: "QuerySet[ServiceType]",
    purchased: dict[Any, dict[str, Any]],
    consumed: dict[Any, dict[str, Any]],
) -> list[dict[str, Any]]:
    """A row per type (in name order): its purchases and consumption, 0 where it had none."""
    nothing = {f"{name}_{unit}": 0 for name in ("purchased", "consumed") for unit in Unit.values}
    return [
        {
            "name": name,
            **nothing,
            **purchased.get(pk, {}),
            **consumed.get(pk, {}),
        }
        for pk, name in types.order_by("name", "pk").values_list("pk", "name")
    ]


ENDED_EXPIRED = "expired"
ENDED_REFUNDED = "refunded"
ENDED_USED_UP = "used_up"


def ended_grants(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> "QuerySet[Any]":
    """The grants that ended in the range, annotated with how they ended (`ending`).

    A grant has ended when, today, it is expired (ended by its latest expiry entry), revoked
    (refunded in full: ended by its refund) or used up (`used = total > 0`: ended by its latest
    consumption); a grant extended or restored since is running again and not counted. `had`
    is its total before refunds (credits, adjustments and transfers), `used` what it used."""
    require_admin(membership)
    start, end = filters.bounds(organization)
    if rollups.available():
        grants = _ended_rolled_up(organization, start, end)
    else:
        grants = _ended_from_ledger(organization, start, end)
    grants = filtered_grants(grants, filters)
    if filters.provider is not None:
        grants = grants.filter(
            Exists(
                Allocation.objects.filter(
                    grant=OuterRef("pk"), relationship__provider=filters.provider
                )
            )
        )
    return grants.annotate(ending=_ending()).order_by()


def _ended_rolled_up(organization: Organization, start: Any, end: Any) -> "QuerySet[Grant]":
    """The grants whose latest entry of the kind matching their state today (`GrantEnding`,
    kept per grant by the ledger's trigger) falls in the range: one row per ended grant, not
    the range's entries."""
    ended_at = Case(
        When(status=GrantStatus.EXPIRED, then=F("report_ending__last_expire_at")),
        When(status=GrantStatus.REVOKED, then=F("report_ending__last_refund_at")),
        default=F("report_ending__last_consume_at"),
    )
    return (
        Grant.objects.filter(organization=organization)
        .filter(
            Q(status__in=[GrantStatus.EXPIRED, GrantStatus.REVOKED])
            | Q(status=GrantStatus.ACTIVE, total__gt=0, used=F("total"))
        )
        .alias(ended_at=ended_at)
        .filter(ended_at__gte=start, ended_at__lt=end)
    )


def _ended_from_ledger(organization: Organization, start: Any, end: Any) -> "QuerySet[Grant]":
    """`_ended_rolled_up` from the range's entries (SQLite: no roll-ups)."""
    # An entry that ends its grant: the kind that matches the grant's state today.
    ends = (
        Q(kind=EntryKind.EXPIRE, grant__status=GrantStatus.EXPIRED)
        | Q(kind=EntryKind.REFUND, grant__status=GrantStatus.REVOKED)
        | Q(
            kind=EntryKind.CONSUME,
            grant__status=GrantStatus.ACTIVE,
            grant__total__gt=0,
            grant__used=F("grant__total"),
        )
    )
    endings = GrantEntry.objects.filter(ends, organization=organization)
    # Its latest such entry is in the range: one is, and none came after. Both read the
    # range's entries (or those after it) rather than every ended grant's history.
    return Grant.objects.filter(
        organization=organization,
        pk__in=endings.filter(created_at__gte=start, created_at__lt=end).values("grant_id"),
    ).exclude(Exists(endings.filter(grant=OuterRef("pk"), created_at__gte=end)))


def _ending(prefix: str = "") -> Case:
    """How a grant that ended ended, from its status."""
    return Case(
        When(**{prefix + "status": GrantStatus.EXPIRED}, then=Value(ENDED_EXPIRED)),
        When(**{prefix + "status": GrantStatus.REVOKED}, then=Value(ENDED_REFUNDED)),
        default=Value(ENDED_USED_UP),
        output_field=CharField(),
    )


def _per_unit(figures: dict[str, tuple[Any, str, str]]) -> dict[str, Any]:
    """Each figure (name: aggregate, field, path to the grant) per unit: `<name>_minutes` and
    `<name>_sessions`."""
    return {
        f"{name}_{unit}": Coalesce(aggregate(field, filter=Q(**{prefix + "unit": unit})), 0)
        for name, (aggregate, field, prefix) in figures.items()
        for unit in Unit.values
    }


# Per grant: how many, their totals and what they used. Refunds took hours out of a grant's
# total: `had = total + refunded`, the refunds summed from their (few) entries by a second
# query, so no grant's whole history is read.
_GRANT_FIGURES = _per_unit(
    {"grants": (Count, "pk", ""), "total": (Sum, "total", ""), "used": (Sum, "used", "")}
)
_REFUND_FIGURES = _per_unit({"refunded": (Sum, "total_delta", "grant__")})
_ROLLED_REFUND_FIGURES = _per_unit({"refunded": (Sum, "report_ending__refunded", "")})


def _with_had(row: dict[str, Any], refunds: dict[str, Any]) -> dict[str, Any]:
    """The grants' figures with `had` (total before refunds) in place of their totals."""
    for unit in Unit.values:
        refunded = row.pop(f"refunded_{unit}", None) or refunds.get(f"refunded_{unit}") or 0
        row[f"had_{unit}"] = row.pop(f"total_{unit}") - refunded
    return row


def grant_utilization(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> list[dict[str, Any]]:
    """Per way of ending (expired, refunded, used up) and per unit: the grants that ended in
    the range, the hours they had and the hours they used (`utilization = used ÷ had`). Two
    grouped queries: the grants, and their refund entries (one on PostgreSQL, where each
    ended grant's refunds are kept beside it: `GrantEnding.refunded`)."""
    ended = ended_grants(organization=organization, membership=membership, filters=filters)
    if rollups.available():
        return [
            _with_had(row, {})
            for row in rows(
                ended.values("ending")
                .annotate(**_GRANT_FIGURES, **_ROLLED_REFUND_FIGURES)
                .order_by("ending")
            )
        ]
    refunds = {
        row.pop("ending"): row
        for row in rows(
            GrantEntry.objects.filter(
                organization=organization,
                kind=EntryKind.REFUND,
                grant__in=ended.values("pk"),
            )
            .annotate(ending=_ending("grant__"))
            .order_by()
            .values("ending")
            .annotate(**_REFUND_FIGURES)
        )
    }
    return [
        _with_had(row, refunds.get(row["ending"], {}))
        for row in rows(ended.values("ending").annotate(**_GRANT_FIGURES).order_by("ending"))
    ]


def utilization_totals(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> dict[str, Any]:
    """`grant_utilization` over every grant that ended in the range: one row (two queries)."""
    ended = ended_grants(organization=organization, membership=membership, filters=filters)
    if rollups.available():
        return _with_had(ended.aggregate(**_GRANT_FIGURES, **_ROLLED_REFUND_FIGURES), {})
    refunds = GrantEntry.objects.filter(
        organization=organization, kind=EntryKind.REFUND, grant__in=ended.values("pk")
    ).aggregate(**_REFUND_FIGURES)
    return _with_had(ended.aggregate(**_GRANT_FIGURES), refunds)


def outstanding_at(
    *, organization: Organization, membership: Membership, filters: LedgerFilters, day: date
) -> list[dict[str, Any]]:
    """The hours outstanding at the close of `day` (or now, for today), per unit: the center's
    liability (`reports.ledger_scope.unused_hours` says how it is read)."""
    require_admin(membership)
    unused = unused_hours(organization=organization, filters=filters, day=day)
    return [
        {"unit": unit, "outstanding": outstanding}
        for unit, outstanding in unused.rows.values_list(unused.grant + "unit")
        .annotate(outstanding=Sum(unused.amount))
        .order_by(unused.grant + "unit")
    ]


def outstanding_by_student(
    *, organization: Organization, membership: Membership, filters: LedgerFilters, day: date
) -> "QuerySet[Any, Any]":
    """`outstanding_at` per student with hours outstanding, minutes and sessions side by side,
    the most minutes first. A query (the export streams every row)."""
    require_admin(membership)
    unused = unused_hours(organization=organization, filters=filters, day=day)
    grant, amount = unused.grant, unused.amount
    of_unit = {unit: Q(**{grant + "unit": unit}) for unit in Unit.values}
    students: QuerySet[Any, Any] = (
        unused.rows.values(
            student_key=F(grant + "student__public_id"), student_name=F(grant + "student__name")
        )
        .annotate(
            outstanding_minutes=Coalesce(Sum(amount, filter=of_unit[Unit.MINUTES]), 0),
            outstanding_sessions=Coalesce(Sum(amount, filter=of_unit[Unit.SESSIONS]), 0),
        )
        .filter(Q(outstanding_minutes__gt=0) | Q(outstanding_sessions__gt=0))
        .order_by("-outstanding_minutes", "-outstanding_sessions", "student_name", "student_key")
    )
    return students


def consumption_velocity(
    *,
    organization: Organization,
    membership: Membership,
    filters: LedgerFilters,
    unit: str | None = None,
) -> list[dict[str, Any]]:
    """Per student who consumed `unit` in the range and has some free to book now: consumed net
    of restorations, the same per week of the range, what is free to book now, and at that pace
    the days it lasts (`free × days in range ÷ consumed`, rounded down). The `VELOCITY_ROWS`
    that run out soonest first; each row's `runs_out` is today plus its days. (Students with
    nothing free have run out already: the admin home's low-balance list has them.)"""
    require_admin(membership)
    if rolled_up(filters):
        return _velocity_rolled_up(organization, filters, unit)
    start, end = filters.bounds(organization)
    days = filters.days
    # One grouped pass over the student's entries: the range's consumption, and what is free
    # to book now as the sum of `usable_delta` over the grants usable now (per grant it sums
    # to the available balance while active: GrantEntry). No subquery per student.
    now = timezone.now()
    consumed = Q(created_at__gte=start, created_at__lt=end)
    if filters.provider is not None:
        consumed &= Q(relationship__provider=filters.provider)
    usable_now = Q(grant__status=GrantStatus.ACTIVE, grant__valid_from__lte=now) & (
        Q(grant__expires_at__isnull=True) | Q(grant__expires_at__gt=now)
    )
    if filters.service_type is not None:
        consumed &= Q(relationship__service_type=filters.service_type)
        usable_now &= Q(covers(filters.service_type))
    entries = GrantEntry.objects.filter(organization=organization, grant__organization=organization)
    if unit is not None:
        entries = entries.filter(grant__unit=unit)
    if filters.student is not None:
        entries = entries.filter(grant__student=filters.student)
    found = rows(
        entries.filter(consumed | usable_now)
        .order_by()
        .values(
            "grant__student__public_id",
            student_name=F("grant__student__name"),
            of_unit=F("grant__unit"),
        )
        .annotate(
            consumed=Coalesce(Sum("used_delta", filter=consumed), 0),
            free=Coalesce(Sum("usable_delta", filter=usable_now), 0),
        )
        .filter(consumed__gt=0, free__gt=0)
        .annotate(
            per_week=ExpressionWrapper(F("consumed") * 7.0 / days, output_field=FloatField()),
            days_left=ExpressionWrapper(
                F("free") * days / F("consumed"), output_field=IntegerField()
            ),
        )
        # The first `VELOCITY_ROWS` of each unit: both units in one pass.
        .annotate(
            place=Window(
                RowNumber(),
                partition_by=[F("of_unit")],
                order_by=[
                    F("days_left").asc(),
                    F("student_name").asc(),
                    F("grant__student__public_id").asc(),
                ],
            )
        )
        .filter(place__lte=VELOCITY_ROWS)
        .order_by("of_unit", "days_left", "student_name", "grant__student__public_id")
    )
    today = timezone.localdate(timezone=organization.tz)
    for row in found:
        row["student_id"] = row.pop("grant__student__public_id")
        row["unit"] = row.pop("of_unit")
        del row["place"]
        row["runs_out"] = today + timedelta(days=row["days_left"])
    return found


# `consumption_velocity` from the roll-ups: the range's consumption per student from their
# month and day rows (`rollups.cover`), what is free to book now from their usable grants'
# `total − used − held` (what their entries' `usable_delta` sum to), side by side, the first
# `VELOCITY_ROWS` of each unit. One statement.
#
# For the whole center, what is free now is read from the students' summaries
# (`grants.models.StudentBalance`: `total − used − held` over their active grants, one row per
# student and unit) less what their active grants not usable now hold (not valid yet, or past
# their date before the daily job marked them: few, through `grant_active_valid_from` and the
# index on status and expiry), rather than grouping the center's every active grant (17 of the
# 53 ms of this statement at the large center). A service type's reads the grants covering it.
_VELOCITY = """
WITH consumed AS (
    SELECT student_id, unit, sum(used_delta)::bigint AS consumed
    FROM reports_studentledgerperiod
    WHERE organization_id = %(org)s AND ({cover}) {consumed_where}
    GROUP BY student_id, unit
    HAVING sum(used_delta) > 0
), free AS ({free}
), paced AS (
    SELECT s.public_id, s.name, c.unit, c.consumed::integer AS consumed,
        f.free::integer AS free, c.consumed * 7.0 / %(days)s AS per_week,
        (f.free * %(days)s / c.consumed)::integer AS days_left
    FROM consumed c
    JOIN free f ON f.student_id = c.student_id AND f.unit = c.unit
    JOIN students_student s ON s.id = c.student_id
), placed AS (
    SELECT *, row_number() OVER (
        PARTITION BY unit ORDER BY days_left, name, public_id) AS place
    FROM paced
)
SELECT public_id, name, unit, consumed, free, per_week, days_left FROM placed
WHERE place <= %(rows)s
ORDER BY unit, days_left, name, public_id
"""

_FREE_OF_TYPE = """
    SELECT g.student_id, g.unit, sum(g.total - g.used - g.held)::bigint AS free
    FROM grants_grant g
    WHERE g.organization_id = %(org)s AND g.status = 'active' AND g.valid_from <= %(now)s
        AND (g.expires_at IS NULL OR g.expires_at > %(now)s) {free_where}
        AND EXISTS (SELECT 1 FROM grants_grantservicetype gst
            WHERE gst.grant_id = g.id AND gst.service_type_id = %(type)s)
    GROUP BY g.student_id, g.unit
    HAVING sum(g.total - g.used - g.held) > 0"""

# Free now never exceeds the summary (a grant's available is never negative): only the
# summaries above zero are read, through `student_balance_org_free`.
_FREE_OF_CENTER = """
    SELECT b.student_id, b.unit, (b.active_available - coalesce(off.off, 0))::bigint AS free
    FROM grants_studentbalance b
    LEFT JOIN (
        SELECT g.student_id, g.unit, sum(g.total - g.used - g.held) AS off
        FROM grants_grant g
        WHERE g.organization_id = %(org)s AND g.status = 'active'
            AND (g.valid_from > %(now)s OR g.expires_at <= %(now)s) {free_where}
        GROUP BY g.student_id, g.unit
    ) off ON off.student_id = b.student_id AND off.unit = b.unit
    WHERE b.organization_id = %(org)s AND b.active_available > 0 {balance_where}
        AND b.active_available - coalesce(off.off, 0) > 0"""


def _velocity_rolled_up(
    organization: Organization, filters: LedgerFilters, unit: str | None
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "org": organization.pk,
        "now": timezone.now(),
        "days": filters.days,
        "rows": VELOCITY_ROWS,
    }
    runs = []
    for n, (grain, first, last) in enumerate(
        rollups.blocks(filters.start, filters.end, LEDGER_GRAINS)
    ):
        runs.append(f"(grain = %(grain{n})s AND first_day BETWEEN %(first{n})s AND %(last{n})s)")
        params.update({f"grain{n}": grain, f"first{n}": first, f"last{n}": last})
    consumed_where = free_where = balance_where = ""
    if unit is not None:
        consumed_where += " AND unit = %(unit)s"
        free_where += " AND g.unit = %(unit)s"
        balance_where += " AND b.unit = %(unit)s"
        params["unit"] = unit
    if filters.service_type is not None:
        consumed_where += " AND service_type_id = %(type)s"
        free = _FREE_OF_TYPE.format(free_where=free_where)
        params["type"] = filters.service_type.pk
    else:
        free = _FREE_OF_CENTER.format(free_where=free_where, balance_where=balance_where)
    sql = _VELOCITY.format(cover=" OR ".join(runs), consumed_where=consumed_where, free=free)
    today = timezone.localdate(timezone=organization.tz)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return [
        {
            "student_id": public_id,
            "student_name": name,
            "unit": of_unit,
            "consumed": consumed,
            "free": free,
            "per_week": float(per_week),
            "days_left": days_left,
            "runs_out": today + timedelta(days=days_left),
        }
        for public_id, name, of_unit, consumed, free, per_week, days_left in found
    ]
