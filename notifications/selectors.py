"""Tenant-scoped reads: a member's inbox, the unread count the bell shows, the email log."""

import uuid

from django.db.models import QuerySet
from django.http import Http404

from matchpal.models import Membership, Notification, Organization
from notifications import kinds
from notifications.models import CenterEmailDefault, EmailDelivery, EmailPreference


def inbox(*, membership: Membership) -> QuerySet[Notification]:
    return Notification.objects.filter(
        organization_id=membership.organization_id, user_id=membership.user_id
    ).order_by("-id")


def notice_get(*, membership: Membership, public_id: uuid.UUID) -> Notification:
    notice = inbox(membership=membership).filter(public_id=public_id).first()
    if notice is None:
        raise Http404("No such notice.")
    return notice


def email_log(*, organization: Organization) -> QuerySet[EmailDelivery]:
    return (
        EmailDelivery.objects.filter(organization=organization)
        .defer("text", "html", "attachments")
        .order_by("-id")
    )


def email_get(*, organization: Organization, public_id: uuid.UUID) -> EmailDelivery:
    delivery = (
        EmailDelivery.objects.filter(organization=organization, public_id=public_id)
        .select_related("dispatch")
        .first()
    )
    if delivery is None:
        raise Http404("No such email.")
    return delivery


def center_choices(*, organization: Organization) -> dict[str, bool]:
    """The center's email default for every kind (its own, else the kind's)."""
    own = dict(
        CenterEmailDefault.objects.filter(organization=organization).values_list("kind", "email")
    )
    return {key: own.get(key, kind.email) for key, kind in kinds.KINDS.items()}


def member_choices(*, membership: Membership) -> dict[str, bool]:
    """Whether the member gets each kind of their role by email: their choice, else the
    center's."""
    center = center_choices(organization=membership.organization)
    own = dict(
        EmailPreference.objects.filter(
            organization_id=membership.organization_id, user_id=membership.user_id
        ).values_list("kind", "email")
    )
    return {
        kind.key: own.get(kind.key, center[kind.key]) for kind in kinds.for_role(membership.role)
    }
