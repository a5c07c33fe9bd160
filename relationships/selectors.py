"""Reads of relationships: tenant-scoped lists narrowed to what the member's role may see,
and what one relationship holds and was given."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.core.paginator import Page
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest

from grants.models import Allocation
from matchpal.compiled import Compiled, stand_in
from matchpal.models import Membership, Organization, Role
from matchpal.pagination import CompiledList
from relationships.models import Relationship, RelationshipStatus, RelationshipStatusChange

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class Allocations(TypedDict):
    """What `relationship_list` adds to each relationship: its allocations' totals."""

    held: int
    consumed: int


def visible_to(membership: Membership) -> Q:
    if membership.is_admin:
        return Q()
    if membership.is_provider:
        return Q(provider__user_id=membership.user_id)
    return Q(student__user_id=membership.user_id)


def acts_for(
    membership: Membership | None, relationship: Relationship, *, provider: bool = True
) -> bool:
    """Whether the member may act on the relationship: an admin of its organization, or, where
    the change is also the provider's (`provider`), its own provider. Every relationship and
    session transition asks this one rule."""
    if membership is None or membership.organization_id != relationship.organization_id:
        return False
    if membership.is_admin:
        return True
    return (
        provider and membership.is_provider and relationship.provider.user_id == membership.user_id
    )


def _allocations_sum(column: str) -> Coalesce:
    """The relationship's allocations' `column` summed, as a subquery per relationship shown:
    a join grouped by relationship would sum every relationship of the organization before a
    page of them could be cut in the list's order (docs/indexes.md)."""
    sums = (
        Allocation.objects.filter(relationship=OuterRef("pk"))
        .order_by()
        .values("relationship")
        .annotate(total=Sum(column))
        .values("total")
    )
    return Coalesce(Subquery(sums), 0)


@dataclass(frozen=True, slots=True)
class Named:
    name: str


@dataclass(frozen=True, slots=True)
class Pairing:
    """A relationship as the provider home lists it (its proposals and My students): what the
    rows show (`relationship_tags.proposal_row`, `paired_row`), read as values
    (`PAIRING_FIELDS`, `pairings`) rather than as a relationship, its student and its service
    type, three instances of every column a row (docs/performance.md, "The pairing's page and
    the homes' rows")."""

    pk: int
    public_id: uuid.UUID
    unit: str
    respond_by: datetime | None
    held: int
    student: Named
    service_type: Named


# `relationship_list`'s values that make a `Pairing`, in its fields' order.
PAIRING_FIELDS = (
    "pk",
    "public_id",
    "unit",
    "respond_by",
    "held",
    "student__name",
    "service_type__name",
)


def pairings(rows: list[Any]) -> list[Pairing]:
    """The `Pairing` of each row of `relationship_list(…).values_list(*PAIRING_FIELDS)`."""
    return [
        Pairing(pk, public_id, unit, respond_by, held, Named(student), Named(service_type))
        for pk, public_id, unit, respond_by, held, student, service_type in rows
    ]


def relationship_list(
    *, organization: Organization, membership: Membership
) -> "QuerySet[WithAnnotations[Relationship, Allocations]]":
    return (
        Relationship.objects.filter(visible_to(membership), organization=organization)
        .select_related("student", "provider", "service_type")
        .annotate(held=_allocations_sum("held"), consumed=_allocations_sum("consumed"))
    )


def _listed(organization: int, user: int, role: str) -> QuerySet[Relationship]:
    """The relationships list as the member with login `user` and `role` sees it, newest first
    (the list page's order), built from values (stand-ins) for the statements compiled below."""
    member = stand_in(Membership, 0, organization_id=organization, user_id=user, role=role)
    return relationship_list(
        organization=stand_in(Organization, organization), membership=member
    ).order_by("-created_at", "-id")


# The list unfiltered, as an admin and as a provider opens it, compiled once (per-request
# work built once: docs/performance.md, "The lists and the provider's home within 15x").
_unfiltered = {
    Role.ADMIN: CompiledList(
        lambda organization: _listed(organization, 0, Role.ADMIN), organization=int
    ),
    Role.PROVIDER: CompiledList(
        lambda organization, user: _listed(organization, user, Role.PROVIDER),
        organization=int,
        user=int,
    ),
}


def unfiltered_page(request: HttpRequest, *, membership: Membership) -> Page[Any]:
    """The page of the unfiltered list the member (an admin or a provider) asked for: the page
    `paginate` gives for `relationship_list` in the list's order."""
    if membership.is_admin:
        return _unfiltered[Role.ADMIN].paginate(request, organization=membership.organization_id)
    assert membership.is_provider
    return _unfiltered[Role.PROVIDER].paginate(
        request, organization=membership.organization_id, user=membership.user_id
    )


def relationship_get(
    *, organization: Organization, membership: Membership, public_id: uuid.UUID
) -> "WithAnnotations[Relationship, Allocations]":
    """A relationship the member may see; otherwise 404 (another provider's pairing is not
    theirs to know about). The statement is `relationship_list`'s, compiled once per process
    and role (`matchpal.compiled`): built and compiled on every request, it was a fifth of the
    relationship page's Python (docs/performance.md, "The pairing's page and the homes' rows")."""
    values: dict[str, object] = {"organization": organization.pk, "public_id": public_id}
    if not membership.is_admin:
        values["user"] = membership.user_id
    found = _get[membership.role].rows(**values)
    if not found:
        raise Http404("No such relationship.")
    relationship: WithAnnotations[Relationship, Allocations] = found[0]
    return relationship


def _get_query(
    role: str, organization: int, public_id: uuid.UUID, user: int = 0
) -> "QuerySet[WithAnnotations[Relationship, Allocations]]":
    """`relationship_get`'s query as the ORM writes it (`.first()`'s order and limit)."""
    member = stand_in(Membership, 0, organization_id=organization, user_id=user, role=role)
    found = relationship_list(
        organization=stand_in(Organization, organization), membership=member
    ).filter(public_id=public_id)
    return (found if found.ordered else found.order_by("pk"))[:1]


def _get_for(role: str) -> Compiled:
    if role == Role.ADMIN:
        return Compiled(
            lambda organization, public_id: _get_query(role, organization, public_id),
            organization=int,
            public_id=uuid.UUID,
        )
    return Compiled(
        lambda organization, user, public_id: _get_query(role, organization, public_id, user),
        organization=int,
        user=int,
        public_id=uuid.UUID,
    )


_get: dict[str, Compiled] = {role: _get_for(role) for role in Role.values}

# The changes of a relationship, oldest first (the model's order), with who made them: the
# relationship page's "History", compiled once.
_status_history = Compiled(
    lambda organization, relationship: RelationshipStatusChange.objects.filter(
        organization_id=organization, relationship_id=relationship
    ).select_related("actor"),
    organization=int,
    relationship=int,
)


def status_history(*, relationship: Relationship) -> list[RelationshipStatusChange]:
    """The relationship's status and allocation changes, oldest first, each with its actor."""
    return _status_history.rows(
        organization=relationship.organization_id, relationship=relationship.pk
    )


def relationship_to_act_on(
    *, organization: Organization, membership: Membership, public_id: uuid.UUID
) -> Relationship:
    """`relationship_get` without the hours it holds, for a page that acts on it and does not
    show them (logging a session): no sums over its allocations, one light query, compiled
    once per process and role (`matchpal.compiled`: the log form's POST is the providers'
    most frequent request). The same visibility and the same 404."""
    values: dict[str, object] = {"organization": organization.pk, "public_id": public_id}
    if not membership.is_admin:
        values["user"] = membership.user_id
    found = _to_act_on[membership.role].rows(**values)
    if not found:
        raise Http404("No such relationship.")
    relationship: Relationship = found[0]
    return relationship


def _to_act_on_query(
    role: str, organization: int, public_id: uuid.UUID, user: int = 0
) -> "QuerySet[Relationship]":
    """`relationship_to_act_on`'s query as the ORM writes it (`.first()`'s order and limit)."""
    member = stand_in(Membership, 0, user_id=user, role=role)
    found = Relationship.objects.filter(
        visible_to(member), organization_id=organization, public_id=public_id
    ).select_related("student", "provider", "service_type")
    return (found if found.ordered else found.order_by("pk"))[:1]


def _compiled_for(role: str) -> Compiled:
    """The role's statement: an admin's names no user (every relationship of the center)."""
    if role == Role.ADMIN:
        return Compiled(
            lambda organization, public_id: _to_act_on_query(role, organization, public_id),
            organization=int,
            public_id=uuid.UUID,
        )
    return Compiled(
        lambda organization, user, public_id: _to_act_on_query(role, organization, public_id, user),
        organization=int,
        user=int,
        public_id=uuid.UUID,
    )


_to_act_on: dict[str, Compiled] = {role: _compiled_for(role) for role in Role.values}


def proposals_for_provider(
    *, organization: Organization, membership: Membership
) -> QuerySet[Relationship]:
    return (
        relationship_list(organization=organization, membership=membership)
        .filter(status=RelationshipStatus.PROPOSED)
        .order_by("respond_by")
    )


def paired_for_provider(
    *, organization: Organization, membership: Membership
) -> QuerySet[Relationship]:
    return (
        relationship_list(organization=organization, membership=membership)
        .filter(status=RelationshipStatus.PAIRED)
        .order_by("student__name")
    )


def allocated(relationship: Relationship) -> dict[str, int]:
    """Held, consumed and allocated (= held + consumed) of one relationship."""
    sums = relationship.allocations.aggregate(held=Sum("held"), consumed=Sum("consumed"))
    held, consumed = sums["held"] or 0, sums["consumed"] or 0
    return {"held": held, "consumed": consumed, "allocated": held + consumed}


def response_window_days(relationship: Relationship) -> int:
    """The days the provider was given to answer: those of the policy when it was proposed."""
    if relationship.respond_by is None:
        return relationship.organization.proposal_response_days
    # `respond_by` is set a moment before the row's `created_at`: round to whole days.
    return max(1, round((relationship.respond_by - relationship.created_at) / timedelta(days=1)))
