"""Telling people things: in-app notifications (same transaction) and email (after commit)."""

from collections.abc import Iterable

from django.core.mail import send_mail
from django.db import transaction

from matchpal.models import Membership, Notification, Organization, Role


def send_email_on_commit(*, subject: str, body: str, to: Iterable[str]) -> None:
    recipients = sorted({address for address in to if address})
    if not recipients:
        return
    transaction.on_commit(
        lambda: send_mail(
            subject=f"[Matchpal] {subject}",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    )


def notify_admins(
    *, organization: Organization, text: str, link: str = "", email_body: str | None = None
) -> list[Notification]:
    """An in-app notification for every admin of the organization, and one email after commit."""
    admins = list(
        Membership.objects.filter(organization=organization, role=Role.ADMIN).select_related("user")
    )
    notifications = Notification.objects.bulk_create(
        Notification(organization=organization, user=m.user, text=text[:500], link=link)
        for m in admins
    )
    send_email_on_commit(
        subject=text[:120], body=email_body or text, to=[m.user.email for m in admins]
    )
    return notifications
