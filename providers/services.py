from collections.abc import Iterable
from decimal import Decimal

from django.db import IntegrityError, transaction

from matchpal.constraints import violated_constraint
from matchpal.errors import ConflictError, DomainError
from matchpal.models import Invitation, Organization, Role, ServiceType, User
from matchpal.services import invitation_create, link_invited_record
from providers.models import Provider, ProviderService, ProviderStatus

EDITABLE_FIELDS = ("name", "email", "phone", "bio", "default_pay_rate")
SELF_EDITABLE_FIELDS = ("name", "phone", "bio")


class DuplicateProviderEmail(DomainError):
    def __init__(self, email: str) -> None:
        super().__init__(
            f"Another provider of this organization already uses {email}.", field="email"
        )


def _set_service_types(provider: Provider, service_types: Iterable[ServiceType]) -> None:
    chosen = list(service_types)
    if any(st.organization_id != provider.organization_id for st in chosen):
        raise DomainError(
            "A service type of another organization was chosen.", field="service_types"
        )
    ProviderService.objects.filter(provider=provider).exclude(service_type__in=chosen).delete()
    existing = set(
        ProviderService.objects.filter(provider=provider).values_list("service_type_id", flat=True)
    )
    ProviderService.objects.bulk_create(
        ProviderService(
            organization_id=provider.organization_id, provider=provider, service_type=st
        )
        for st in chosen
        if st.pk not in existing
    )


def _save(
    provider: Provider,
    service_types: Iterable[ServiceType] | None,
    update_fields: list[str] | None = None,
) -> Provider:
    try:
        with transaction.atomic():
            provider.save(update_fields=update_fields)
            if service_types is not None:
                _set_service_types(provider, service_types)
    except IntegrityError as exc:
        if violated_constraint(exc) == "provider_email_unique_in_org":
            raise DuplicateProviderEmail(provider.email) from exc
        raise
    return provider


def provider_create(
    *,
    actor: User,
    organization: Organization,
    name: str,
    email: str = "",
    phone: str = "",
    bio: str = "",
    default_pay_rate: Decimal = Decimal("0"),
    service_types: Iterable[ServiceType] = (),
) -> Provider:
    provider = Provider(
        organization=organization,
        name=name.strip(),
        email=email.strip(),
        phone=phone,
        bio=bio,
        default_pay_rate=default_pay_rate,
    )
    return _save(provider, service_types)


def provider_update(
    *,
    actor: User,
    provider: Provider,
    service_types: Iterable[ServiceType] | None = None,
    **fields: object,
) -> Provider:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    for field, value in fields.items():
        setattr(
            provider,
            field,
            value.strip() if isinstance(value, str) and field in ("name", "email") else value,
        )
    return _save(provider, service_types, update_fields=[*fields, "updated_at"])


def provider_update_own_profile(*, actor: User, provider: Provider, **fields: str) -> Provider:
    if provider.user_id != actor.pk:
        raise DomainError("You can only edit your own profile.")
    unknown = set(fields) - set(SELF_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable by the provider: {sorted(unknown)}")
    return provider_update(actor=actor, provider=provider, service_types=None, **fields)


def provider_set_status(*, actor: User, provider: Provider, status: str) -> Provider:
    """Deactivate or reactivate. Providers are never deleted: their history stays."""
    provider.status = status
    return _save(provider, None, update_fields=["status", "updated_at"])


def provider_invite(*, actor: User, provider: Provider, base_url: str) -> Invitation:
    if provider.user_id is not None:
        raise ConflictError(f"{provider.name} can already sign in.")
    if not provider.email:
        raise DomainError(f"Add an email address to {provider.name} before inviting them.")
    if provider.status != ProviderStatus.ACTIVE:
        raise ConflictError(f"{provider.name} is inactive; reactivate them first.")
    return invitation_create(
        actor=actor,
        organization=provider.organization,
        email=provider.email,
        role=Role.PROVIDER,
        base_url=base_url,
        provider_id=provider.pk,
    )


def provider_link_invited_user(invitation: Invitation, user: User) -> None:
    """Accepting a provider invitation links the login to a provider record."""
    if invitation.role == Role.PROVIDER:
        link_invited_record(
            invitation=invitation,
            user=user,
            model=Provider,
            record_id=invitation.provider_id,
            label="provider",
        )
