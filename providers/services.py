import datetime
from collections.abc import Iterable
from datetime import time
from decimal import Decimal
from typing import Final

from django.db import IntegrityError, transaction

from matchpal.constraints import violated_constraint
from matchpal.errors import ConflictError, DomainError, PermissionDeniedError
from matchpal.models import Invitation, Membership, Organization, Role, ServiceType, User
from matchpal.services import invitation_create, link_invited_record
from providers.models import (
    AvailabilityException,
    AvailabilityWindow,
    ExceptionKind,
    MeetingMode,
    Provider,
    ProviderService,
    ProviderStatus,
)
from providers.selectors import lock_provider

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


# Availability (docs/scheduling.md, "Availability"): the provider keeps their own hours, an
# admin anyone's. Times are wall-clock times in the organization's zone.

AVAILABILITY_NOT_YOURS: Final = "Only the provider or an admin can change these hours."
END_BEFORE_START: Final = "The end comes after the start (hours cannot run past midnight)."
EXTRA_NEEDS_TIMES: Final = "Give the start and end of the extra hours."
BOTH_TIMES: Final = "Give both the start and the end, or neither for the whole day."


def _check_editor(membership: Membership, provider: Provider) -> None:
    if membership.organization_id != provider.organization_id:
        raise PermissionDeniedError(AVAILABILITY_NOT_YOURS)
    if membership.is_admin:
        return
    if not (membership.is_provider and provider.user_id == membership.user_id):
        raise PermissionDeniedError(AVAILABILITY_NOT_YOURS)


def availability_window_add(
    *,
    membership: Membership,
    provider: Provider,
    weekday: int,
    start: time,
    end: time,
    mode: str,
    location: str = "",
) -> AvailabilityWindow:
    """Weekly hours; refused when they overlap the provider's other hours that weekday."""
    _check_editor(membership, provider)
    if end <= start:
        raise DomainError(END_BEFORE_START, field="end")
    with transaction.atomic():
        lock_provider(pk=provider.pk)
        clash = (
            AvailabilityWindow.objects.filter(
                organization_id=provider.organization_id,
                provider=provider,
                weekday=weekday,
                start__lt=end,
                end__gt=start,
            )
            .order_by("start")
            .first()
        )
        if clash is not None:
            raise DomainError(
                f"These hours overlap your {clash.get_weekday_display()} hours "
                f"{clash.start:%H:%M}–{clash.end:%H:%M}.",
                field="start",
            )
        return AvailabilityWindow.objects.create(
            organization_id=provider.organization_id,
            provider=provider,
            weekday=weekday,
            start=start,
            end=end,
            mode=mode,
            location=location.strip(),
        )


def availability_window_remove(*, membership: Membership, window: AvailabilityWindow) -> None:
    """Sessions already booked in these hours stay booked."""
    _check_editor(membership, window.provider)
    window.delete()


def availability_exception_add(
    *,
    membership: Membership,
    provider: Provider,
    kind: str,
    date: datetime.date,
    start: time | None,
    end: time | None,
    mode: str = MeetingMode.IN_PERSON,
    location: str = "",
    note: str = "",
) -> AvailabilityException:
    """Time off (a whole day without times) or one-off extra hours on `date`. Time off does
    not cancel what is already booked: the provider or an admin cancels those sessions."""
    _check_editor(membership, provider)
    if (start is None) != (end is None):
        raise DomainError(BOTH_TIMES, field="end" if end is None else "start")
    if kind == ExceptionKind.EXTRA and start is None:
        raise DomainError(EXTRA_NEEDS_TIMES, field="start")
    if start is not None and end is not None and end <= start:
        raise DomainError(END_BEFORE_START, field="end")
    return AvailabilityException.objects.create(
        organization_id=provider.organization_id,
        provider=provider,
        kind=kind,
        date=date,
        start=start,
        end=end,
        mode=mode,
        location=location.strip(),
        note=note.strip(),
    )


def availability_exception_remove(
    *, membership: Membership, exception: AvailabilityException
) -> None:
    _check_editor(membership, exception.provider)
    exception.delete()
