"""A student's statement: where the hours went over a range of days.

Computed from the ledger alone (`GrantEntry`, append-only): a grant's balance at an instant is
the sum of its entries before that instant, so for every grant and every column (total, used,
reserved, free to book) the opening balance plus the movements in the range is the closing
balance, exactly, and a statement whose range ends today closes on the grant's own columns.
docs/reports.md, "A student's statement", defines each figure.

Four queries whatever the history: the grants with their opening and closing balances, their
service types, the totals per unit, and the movements.
"""

from dataclasses import dataclass
from typing import Any, Final

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    CharField,
    F,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, TruncDate

from grants.models import EntryKind, Grant, GrantEntry
from matchpal.models import Organization, ServiceType
from reports.framework import Scope
from students.models import Student

ONLY_OWN_STATEMENT: Final = "A student sees only their own statement."
PROVIDERS_SEE_NO_STATEMENT: Final = "Statements are for the center's admins and the student."
# A statement is one document: it lists every movement of its range, up to this many (a
# student's year holds a few hundred); past it the page asks for a shorter range.
MOVEMENTS_MAX: Final = 2000

COLUMNS: Final = {"total": "total_delta", "used": "used_delta", "held": "held_delta"}


def _sum(field: str, condition: Q) -> Coalesce:
    return Coalesce(Sum(field, filter=condition), 0, output_field=IntegerField())


@dataclass(frozen=True)
class StatementQuery:
    """Whose statement, over the days and service type of a report scope (the center's days)."""

    scope: Scope
    student: Student

    @property
    def organization(self) -> Organization:
        return self.scope.organization

    def check_access(self) -> None:
        """Admins see any student's; a student only their own; a provider none."""
        membership = self.scope.membership
        if membership.is_admin:
            return
        if membership.is_student:
            if self.student.user_id != membership.user_id:
                raise PermissionDenied(ONLY_OWN_STATEMENT)
            return
        raise PermissionDenied(PROVIDERS_SEE_NO_STATEMENT)


def _entries(query: StatementQuery) -> QuerySet[GrantEntry]:
    """The student's entries (of grants covering the service type, when one is chosen)."""
    query.check_access()
    entries = GrantEntry.objects.filter(
        organization=query.organization,
        grant__organization=query.organization,
        grant__student=query.student,
    )
    if query.scope.service_type is not None:
        entries = entries.filter(grant__service_types=query.scope.service_type)
    return entries


def _balances(prefix: str, before: Q) -> dict[str, Any]:
    """A grant's (or a unit's) balance from its entries matching `before`, over the rows'
    `prefix` (`entries__` from a grant, nothing from the entries themselves)."""
    figures = {name: _sum(f"{prefix}{column}", before) for name, column in COLUMNS.items()}
    figures["free"] = _sum(f"{prefix}usable_delta", before)
    return figures


def _movement_figures(prefix: str, during: Q) -> dict[str, Any]:
    """What moved in the range, by kind of movement: each a sum of one column of the entries of
    some kinds, signed so that a figure is what a family reads ("refunded 2 h")."""

    def kind(*kinds: str) -> Q:
        return during & Q(**{f"{prefix}kind__in": kinds})

    p = prefix
    return {
        "purchased": _sum(f"{p}total_delta", kind(EntryKind.CREDIT)),
        "adjusted": _sum(f"{p}total_delta", kind(EntryKind.ADJUST)),
        "transferred_in": _sum(f"{p}total_delta", kind(EntryKind.TRANSFER_IN)),
        "transferred_out": -_sum(f"{p}total_delta", kind(EntryKind.TRANSFER_OUT)),
        "refunded": -_sum(f"{p}total_delta", kind(EntryKind.REFUND)),
        "consumed": _sum(f"{p}used_delta", kind(EntryKind.CONSUME)),
        "restored": -_sum(f"{p}used_delta", kind(EntryKind.RESTORE)),
        "reserved": _sum(f"{p}held_delta", kind(EntryKind.HOLD)),
        "released": -_sum(f"{p}held_delta", kind(EntryKind.RELEASE)),
        "expired": -_sum(f"{p}usable_delta", kind(EntryKind.EXPIRE)),
        "extended": _sum(f"{p}usable_delta", kind(EntryKind.EXTEND)),
    }


def _range_conditions(query: StatementQuery, prefix: str) -> tuple[Q, Q, Q]:
    """(before the range, before its end, inside it) on the entries' time."""
    start, end = query.scope.starts, query.scope.ends
    before = Q(**{f"{prefix}created_at__lt": start})
    by_end = Q(**{f"{prefix}created_at__lt": end})
    during = Q(**{f"{prefix}created_at__gte": start}) & by_end
    return before, by_end, during


def _prefixed(figures: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{name}": value for name, value in figures.items()}


def statement_grants(query: StatementQuery) -> QuerySet[Grant]:
    """The student's grants that existed by the range's end (an entry before it), soonest
    expiry first, each with `opening_*` and `closing_*` total, used, held and free (to book),
    and what moved in the range (`_movement_figures`). Free to book is the grant's usable
    balance (`GrantEntry.usable_delta`): an expired grant's unused hours are not free."""
    query.check_access()
    grants = Grant.objects.filter(organization=query.organization, student=query.student)
    if query.scope.service_type is not None:
        grants = grants.filter(service_types=query.scope.service_type)
    before, by_end, during = _range_conditions(query, "entries__")
    return (
        grants.annotate(
            **_prefixed(_balances("entries__", before), "opening_"),
            **_prefixed(_balances("entries__", by_end), "closing_"),
            **_movement_figures("entries__", during),
            entries_by_end=Sum(Value(1), filter=by_end),
        )
        .filter(entries_by_end__gt=0)
        .select_related("package")
        .prefetch_related(Prefetch("service_types", queryset=ServiceType.objects.order_by("name")))
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )


def statement_units(query: StatementQuery) -> QuerySet[Any, Any]:
    """The same figures added up per unit (minutes, sessions): one row per unit the student
    has entries of by the range's end. Units never add up together."""
    before, by_end, during = _range_conditions(query, "")
    return (
        _entries(query)
        .filter(by_end)
        .order_by()
        .values(unit=F("grant__unit"))
        .annotate(
            **_prefixed(_balances("", before), "opening_"),
            **_prefixed(_balances("", by_end), "closing_"),
            **_movement_figures("", during),
        )
        .order_by("unit")
    )


# Each kind of entry as the statement names it to a family.
MOVEMENT_LABELS: Final = {
    EntryKind.CREDIT: "Purchased",
    EntryKind.ADJUST: "Adjusted",
    EntryKind.HOLD: "Reserved",
    EntryKind.RELEASE: "Released",
    EntryKind.CONSUME: "Used",
    EntryKind.RESTORE: "Given back",
    EntryKind.TRANSFER_IN: "Transferred in",
    EntryKind.TRANSFER_OUT: "Transferred out",
    EntryKind.REFUND: "Refunded",
    EntryKind.EXPIRE: "Expired",
    EntryKind.EXTEND: "Extended",
}


def statement_movements(query: StatementQuery, opening_free: dict[str, int]) -> QuerySet[Any, Any]:
    """Every entry in the range, oldest first, as a row: its day (the center's), what it was
    (`movement`), its grant and unit, its deltas, the session it paid for (its day and public
    id), the provider (the session's, or the relationship's for a hold or a release), the
    reason, and `free_after`: the student's free to book hours of the entry's unit after it, the
    unit's opening figure (`opening_free`) plus a running sum over the range."""
    _, _, during = _range_conditions(query, "")
    tz = query.organization.tz
    opening = Case(
        *(When(grant__unit=unit, then=Value(value)) for unit, value in opening_free.items()),
        default=Value(0),
        output_field=IntegerField(),
    )
    rows: QuerySet[Any, Any] = (
        _entries(query)
        .filter(during)
        .annotate(
            free_after=opening
            + Window(
                Sum("usable_delta"),
                partition_by=[F("grant__unit")],
                order_by=[F("created_at").asc(), F("id").asc()],
            ),
            day=TruncDate("created_at", tzinfo=tz),
            movement=Case(
                *(When(kind=kind, then=Value(label)) for kind, label in MOVEMENT_LABELS.items()),
                default=F("kind"),
                output_field=CharField(),
            ),
            session_day=TruncDate("session__starts_at", tzinfo=tz),
            provider=Coalesce(
                "session__relationship__provider__name", "relationship__provider__name"
            ),
        )
        .values(
            "id",
            "created_at",
            "day",
            "kind",
            "movement",
            "grant_id",
            "total_delta",
            "used_delta",
            "held_delta",
            "usable_delta",
            "free_after",
            "session_day",
            "provider",
            "reason",
            unit=F("grant__unit"),
            grant_reference=F("grant__reference"),
            session_public_id=F("session__public_id"),
        )
        .order_by("created_at", "id")
    )
    return rows


@dataclass(frozen=True)
class Statement:
    """A statement's figures, read."""

    query: StatementQuery
    grants: list[Grant]
    units: list[dict[str, Any]]
    movements: list[dict[str, Any]]
    truncated: bool


def statement(query: StatementQuery) -> Statement:
    """Every figure of the statement page: four queries whatever the history."""
    units = list(statement_units(query))
    opening_free = {row["unit"]: row["opening_free"] for row in units}
    movements = list(statement_movements(query, opening_free)[: MOVEMENTS_MAX + 1])
    return Statement(
        query=query,
        grants=list(statement_grants(query)),
        units=units,
        movements=movements[:MOVEMENTS_MAX],
        truncated=len(movements) > MOVEMENTS_MAX,
    )
