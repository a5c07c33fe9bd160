"""Recompute every balance column from the ledger, in one aggregated SQL pass per table."""

from dataclasses import dataclass

from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from grants.models import Allocation, Grant, GrantEntry


@dataclass(frozen=True)
class Difference:
    what: str
    pk: int
    column: str
    stored: int
    from_ledger: int

    def __str__(self) -> str:
        return (
            f"{self.what} {self.pk}: {self.column} is {self.stored}, "
            f"the ledger says {self.from_ledger}"
        )


def _entry_sum(field: str, **match: object) -> Coalesce:
    rows = (
        GrantEntry.objects.filter(**match)
        .order_by()
        .values(*match.keys())
        .annotate(s=Sum(field))
        .values("s")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def find_differences(*, organization_id: int | None = None) -> list[Difference]:
    scope = Q() if organization_id is None else Q(organization_id=organization_id)
    differences: list[Difference] = []

    grants = (
        Grant.objects.filter(scope)
        .annotate(
            l_total=_entry_sum("total_delta", grant=OuterRef("pk")),
            l_used=_entry_sum("used_delta", grant=OuterRef("pk")),
            l_held=_entry_sum("held_delta", grant=OuterRef("pk")),
            a_held=Coalesce(
                Subquery(
                    Allocation.objects.filter(grant=OuterRef("pk"))
                    .order_by()
                    .values("grant")
                    .annotate(s=Sum("held"))
                    .values("s"),
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
        )
        .filter(
            ~Q(total=F("l_total"))
            | ~Q(used=F("l_used"))
            | ~Q(held=F("l_held"))
            | ~Q(held=F("a_held"))
        )
        .values_list("pk", "total", "used", "held", "l_total", "l_used", "l_held", "a_held")
    )
    for pk, total, used, held, l_total, l_used, l_held, a_held in grants:
        for column, stored, computed in (
            ("total", total, l_total),
            ("used", used, l_used),
            ("held", held, l_held),
        ):
            if stored != computed:
                differences.append(Difference("grant", pk, column, stored, computed))
        if held != a_held:
            differences.append(
                Difference("grant", pk, "held (sum of its allocations)", held, a_held)
            )

    allocations = (
        Allocation.objects.filter(scope)
        .annotate(
            l_held=_entry_sum("held_delta", allocation=OuterRef("pk")),
            l_consumed=_entry_sum("used_delta", allocation=OuterRef("pk")),
        )
        .filter(~Q(held=F("l_held")) | ~Q(consumed=F("l_consumed")))
        .values_list("pk", "held", "consumed", "l_held", "l_consumed")
    )
    for pk, held, consumed, l_held, l_consumed in allocations:
        if held != l_held:
            differences.append(Difference("allocation", pk, "held", held, l_held))
        if consumed != l_consumed:
            differences.append(Difference("allocation", pk, "consumed", consumed, l_consumed))
    return differences
