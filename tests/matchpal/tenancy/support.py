"""Helpers shared by the tenancy tests: organizations, memberships and invitations."""

from matchpal import services
from matchpal.models import Invitation, Organization, Role, User

BASE_URL = "http://testserver/"
LAST_ADMIN = "This is the organization's last admin; make someone else an admin first."
ALREADY_DONE = "This invitation was already accepted or revoked."


def invite(
    organization: Organization, actor: User, email: str, role: str = Role.PROVIDER, **kwargs: object
) -> Invitation:
    return services.invitation_create(
        actor=actor, organization=organization, email=email, role=role, base_url=BASE_URL, **kwargs
    )
