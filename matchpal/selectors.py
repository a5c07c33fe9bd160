"""Tenant-scoped reads of memberships and invitations."""

import uuid

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from matchpal.models import Invitation, Membership, Organization, ServiceType, User


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name", "organization__slug")
    )


def member_list(*, organization: Organization) -> QuerySet[Membership]:
    """By role, then the user's email, then id: the order of `membership_org_role_email`, so a
    page (deep ones too) reads its ids from that index alone and joins only its own rows to
    their users. `user_email` is the database's copy of `user.email` (matchpal 0014)."""
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("role", "user_email", "pk")
    )


def member_get(*, organization: Organization, public_id: uuid.UUID) -> Membership:
    membership = member_list(organization=organization).filter(public_id=public_id).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def pending_invitations(*, organization: Organization) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            organization=organization,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )


def invitation_get(*, organization: Organization, public_id: uuid.UUID) -> Invitation:
    invitation = Invitation.objects.filter(organization=organization, public_id=public_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def invitation_by_token(*, token: str) -> Invitation | None:
    return Invitation.objects.select_related("organization").filter(token=token).first()


def service_type_list(*, organization: Organization) -> QuerySet[ServiceType]:
    """Active ones first, each with the number of providers who offer it."""
    return (
        ServiceType.objects.filter(organization=organization)
        .annotate(provider_count=Count("providers"))
        .order_by("-is_active", "name", "pk")
    )


def service_type_get(*, organization: Organization, public_id: uuid.UUID) -> ServiceType:
    service_type = ServiceType.objects.filter(
        organization=organization, public_id=public_id
    ).first()
    if service_type is None:
        raise Http404("No such service type.")
    return service_type


def member_user_ids(*, organization: Organization, user_ids: list[int]) -> list[int]:
    """Which of these users are members of the organization (have a login there)."""
    return list(
        Membership.objects.filter(organization=organization, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
