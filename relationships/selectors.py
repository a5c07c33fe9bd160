"""Tenant-scoped reads of relationships, narrowed to what the member's role may see."""

import uuid

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from matchpal.models import Membership, Organization, User
from matchpal.selectors import membership_of
from relationships.models import Relationship, RelationshipStatus


def visible_to(membership: Membership) -> Q:
    if membership.is_admin:
        return Q()
    if membership.is_provider:
        return Q(provider__user_id=membership.user_id)
    return Q(student__user_id=membership.user_id)


def acting_membership(*, actor: User, relationship: Relationship) -> Membership | None:
    """The actor's membership of the relationship's organization, or None (one query)."""
    return membership_of(user=actor, organization_id=relationship.organization_id)


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


def relationship_list(
    *, organization: Organization, membership: Membership
) -> QuerySet[Relationship]:
    return (
        Relationship.objects.filter(visible_to(membership), organization=organization)
        .select_related("student", "provider", "service_type")
        .annotate(
            held=Coalesce(Sum("allocations__held"), 0),
            consumed=Coalesce(Sum("allocations__consumed"), 0),
        )
    )


def relationship_get(
    *, organization: Organization, membership: Membership, public_id: uuid.UUID
) -> Relationship:
    """A relationship the member may see; otherwise 404 (another provider's pairing is not
    theirs to know about)."""
    relationship = (
        relationship_list(organization=organization, membership=membership)
        .filter(public_id=public_id)
        .first()
    )
    if relationship is None:
        raise Http404("No such relationship.")
    return relationship


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
