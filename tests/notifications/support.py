"""What the notification tests share: who was told what, in the app and by email."""

from django.core.mail import EmailMultiAlternatives

from matchpal.models import Notification, Organization, User


def told(outbox: list[EmailMultiAlternatives]) -> list[tuple[str, str]]:
    """(address, subject) of every email sent, sorted."""
    return sorted((address, m.subject) for m in outbox for address in m.to)


def email_to(outbox: list[EmailMultiAlternatives], address: str) -> EmailMultiAlternatives:
    [found] = [m for m in outbox if address in m.to]
    return found


def html_of(message: EmailMultiAlternatives) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return str(html)


def inbox(user: User, organization: Organization) -> list[tuple[str, str]]:
    """(kind, text) of the user's notices, newest first."""
    return list(
        Notification.objects.filter(organization=organization, user=user)
        .order_by("-id")
        .values_list("kind", "text")
    )
