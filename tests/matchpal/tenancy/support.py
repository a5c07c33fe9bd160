"""Helpers shared by the tenancy tests: organizations, memberships and invitations."""

from django.contrib.messages import get_messages

from matchpal import services
from matchpal.models import Invitation, Organization, Role, User

BASE_URL = "http://testserver/"
LAST_ADMIN = "This is the organization's last admin; make someone else an admin first."
ALREADY_DONE = "This invitation was already accepted or revoked."


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The messages added while handling this request (not those left by earlier ones)."""
    return [str(m) for m in get_messages(response.wsgi_request)._queued_messages]


def invite(
    organization: Organization, actor: User, email: str, role: str = Role.PROVIDER, **kwargs: object
) -> Invitation:
    return services.invitation_create(
        actor=actor, organization=organization, email=email, role=role, base_url=BASE_URL, **kwargs
    )
