"""Tenancy writes: organizations, memberships, invitations. Each runs in one transaction."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from matchpal.constraints import violated_constraint
from matchpal.errors import ConflictError, DomainError
from matchpal.models import (
    Invitation,
    Membership,
    Notification,
    Organization,
    Role,
    ServiceType,
    User,
)
from matchpal.notifications import email_subject
from matchpal.quantities import format_minutes

DEFAULT_SERVICE_TYPES = ("Tutoring", "Advising")
RESERVED_SLUGS = frozenset({"new", "admin", "accounts", "static", "api"})

# Called inside the acceptance transaction with (invitation, user): the students and providers
# apps register theirs in AppConfig.ready() to link the login to the invited record. This keeps
# imports pointing one way (students/providers → matchpal).
InvitationHandler = Callable[[Invitation, User], None]
_invitation_handlers: list[InvitationHandler] = []


def register_invitation_handler(handler: InvitationHandler) -> None:
    if handler not in _invitation_handlers:
        _invitation_handlers.append(handler)


class OrganizationCreationDisabled(DomainError):
    pass


class InvitationInvalid(DomainError):
    pass


class LastAdminError(ConflictError):
    pass


class DuplicateServiceType(ConflictError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"This organization already has a service type called “{name}”.", field="name"
        )


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    if base in RESERVED_SLUGS:
        base = f"{base}-org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def organization_create(
    *, actor: User, name: str, time_zone: str = "UTC", slug: str | None = None
) -> Organization:
    """Create an organization with its default service types; the actor becomes its admin."""
    if not settings.MATCHPAL_ALLOW_ORG_CREATION and not actor.is_superuser:
        raise OrganizationCreationDisabled(
            "Creating organizations is turned off on this server; ask its operator."
        )
    with transaction.atomic():
        organization = Organization.objects.create(
            name=name.strip(), slug=slug or _unique_slug(name), time_zone=time_zone
        )
        ServiceType.objects.bulk_create(
            ServiceType(organization=organization, name=n) for n in DEFAULT_SERVICE_TYPES
        )
        Membership.objects.create(user=actor, organization=organization, role=Role.ADMIN)
    return organization


# --- The policy's rules, checked together ---------------------------------------------------

# Upper bounds of the policy: beyond them a value is a typo, not a rule (and some would
# overflow the week and day arithmetic of the session rules).
MAX_SESSION_BOUND = 24 * 60  # minutes: a session lasts at most a day
MAX_WEEK_MINUTES = 7 * 24 * 60
MAX_SESSIONS_PER_DAY = 24
MAX_NOTES_LENGTH = 2000
MAX_GRACE_HOURS = 365 * 24
MAX_LATE_WINDOW_HOURS = 30 * 24
MAX_DAYS = 365  # response window, dispute window
MAX_LOW_BALANCE_MINUTES = 1000 * 60

STEP_TOO_SMALL = "The duration step must be at least 1 minute."
MIN_TOO_SMALL = "The minimum must be at least 1 minute."
MAX_TOO_LONG = f"A session lasts at most {format_minutes(MAX_SESSION_BOUND)}; lower the maximum."
RESPONSE_DAYS_OUT_OF_RANGE = f"Give providers between 1 and {MAX_DAYS} days to respond."
DISPUTE_DAYS_OUT_OF_RANGE = f"The dispute window is between 1 and {MAX_DAYS} days."
SUSPENSION_COUNT_OUT_OF_RANGE = (
    "Suspend booking after between 1 and 50 no-shows, or leave it blank."
)
SUSPENSION_DAYS_OUT_OF_RANGE = f"Count no-shows over between 1 and {MAX_DAYS} days."
CHECKIN_OVERDUE_OUT_OF_RANGE = "A check-in is overdue between 0 and 72 hours after the session."
RECAP_TOO_LONG = "A recap's minimum length is at most 2000 characters."
SHORT_SHARE_OUT_OF_RANGE = "A very short session is under a share between 1 and 100 %."
GAP_DAYS_OUT_OF_RANGE = f"A long gap is between 1 and {MAX_DAYS} days."
MAX_WARNING_CANCELLATIONS = 100
CANCELLATIONS_OUT_OF_RANGE = (
    f"Repeated cancellations are between 1 and {MAX_WARNING_CANCELLATIONS} cancellations."
)
CANCELLATION_DAYS_OUT_OF_RANGE = f"The cancellations' window is between 1 and {MAX_DAYS} days."
SHORT_DAYS_OUT_OF_RANGE = f"The very short sessions' window is between 1 and {MAX_DAYS} days."
MAX_IRREGULAR_PERCENT = 1000
IRREGULAR_OUT_OF_RANGE = (
    f"Irregular scheduling is a variation between 1 and {MAX_IRREGULAR_PERCENT} %."
)
NOTES_TOO_LONG = f"The notes' minimum length is at most {MAX_NOTES_LENGTH} characters."
GRACE_TOO_LONG = f"The grace period is at most {MAX_GRACE_HOURS} hours (a year)."
LATE_WINDOW_TOO_LONG = f"The late cancellation window is at most {MAX_LATE_WINDOW_HOURS} hours."
LOW_BALANCE_TOO_HIGH = (
    f"The low-balance threshold is at most {MAX_LOW_BALANCE_MINUTES} minutes "
    f"({format_minutes(MAX_LOW_BALANCE_MINUTES)})."
)
SESSIONS_PER_DAY_OUT_OF_RANGE = (
    f"Between 1 and {MAX_SESSIONS_PER_DAY} sessions a day; leave it blank for no limit."
)


def not_a_multiple(what: str, minutes: int, step: int) -> str:
    return f"The {what} ({minutes} min) is not a multiple of the duration step ({step} min)."


def max_below_min(high: int, low: int) -> str:
    return f"The maximum ({high} min) is below the minimum ({low} min)."


def revision_out_of_range(high: int) -> str:
    return (
        f"The revision value is between 1 minute and the session maximum ({format_minutes(high)})."
    )


def weekly_out_of_range(low: int) -> str:
    return (
        f"A weekly maximum is between the session minimum ({low} min) and "
        f"{MAX_WEEK_MINUTES} minutes (a whole week); leave it blank for no limit."
    )


MAX_NOTICE_HOURS: Final = 24 * 30
NOTICE_TOO_LONG: Final = f"Give at most {MAX_NOTICE_HOURS} hours (30 days)."
HORIZON_OUT_OF_RANGE: Final = "Give between 1 and 365 days."
BOOKING_LENGTH_OUT_OF_RANGE: Final = "A booked session lasts between 5 and 1440 minutes."
BOOKING_STEP_OUT_OF_RANGE: Final = "Give a step between 5 minutes and a day (1440)."
REMINDER_HOURS_OUT_OF_RANGE = (
    "Remind between 2 and 168 hours (a week) before; the 1-hour reminder comes anyway."
)


def policy_errors(values: dict[str, Any]) -> dict[str, str]:
    """Every rule the policy's values must meet together, as {field: message}.

    A field missing from `values` (it failed its own validation) is left out of the checks that
    need it; a limit that is None means "no limit". One home for the settings form and for
    `organization_update`."""
    errors: dict[str, str] = {}

    def given(name: str) -> bool:
        return values.get(name) is not None

    def refuse(name: str, message: str) -> None:
        errors.setdefault(name, message)

    step = values.get("duration_step_minutes")
    low, high = values.get("min_session_minutes"), values.get("max_session_minutes")
    if step is not None and step < 1:
        refuse("duration_step_minutes", STEP_TOO_SMALL)
        step = None
    if low is not None and low < 1:
        refuse("min_session_minutes", MIN_TOO_SMALL)
        low = None
    if high is not None and high > MAX_SESSION_BOUND:
        refuse("max_session_minutes", MAX_TOO_LONG)
        high = None
    if step is not None:
        if low is not None and low % step:
            refuse("min_session_minutes", not_a_multiple("minimum", low, step))
        if high is not None and high % step:
            refuse("max_session_minutes", not_a_multiple("maximum", high, step))
    if low is not None and high is not None and high < low:
        refuse("max_session_minutes", max_below_min(high, low))
        high = None
    revision = values.get("revision_minutes")
    if revision is not None and not 1 <= revision <= (high or MAX_SESSION_BOUND):
        refuse("revision_minutes", revision_out_of_range(high or MAX_SESSION_BOUND))
    per_day = values.get("max_sessions_per_pair_per_day")
    if per_day is not None and not 1 <= per_day <= MAX_SESSIONS_PER_DAY:
        refuse("max_sessions_per_pair_per_day", SESSIONS_PER_DAY_OUT_OF_RANGE)
    # A weekly maximum below the session minimum would refuse every session.
    for weekly in ("weekly_max_minutes_per_student_service", "weekly_max_minutes_per_provider"):
        value = values.get(weekly)
        if value is not None and not (low or 1) <= value <= MAX_WEEK_MINUTES:
            refuse(weekly, weekly_out_of_range(low or 1))
    bounds = [
        ("proposal_response_days", 1, MAX_DAYS, RESPONSE_DAYS_OUT_OF_RANGE),
        ("dispute_window_days", 1, MAX_DAYS, DISPUTE_DAYS_OUT_OF_RANGE),
        ("notes_min_length", 0, MAX_NOTES_LENGTH, NOTES_TOO_LONG),
        ("logging_grace_hours", 0, MAX_GRACE_HOURS, GRACE_TOO_LONG),
        ("late_cancellation_window_hours", 0, MAX_LATE_WINDOW_HOURS, LATE_WINDOW_TOO_LONG),
        ("low_balance_threshold_minutes", 0, MAX_LOW_BALANCE_MINUTES, LOW_BALANCE_TOO_HIGH),
        ("warning_short_session_percent", 1, 100, SHORT_SHARE_OUT_OF_RANGE),
        ("warning_gap_days", 1, MAX_DAYS, GAP_DAYS_OUT_OF_RANGE),
        ("warning_cancellations", 1, MAX_WARNING_CANCELLATIONS, CANCELLATIONS_OUT_OF_RANGE),
        ("warning_cancellation_days", 1, MAX_DAYS, CANCELLATION_DAYS_OUT_OF_RANGE),
        ("no_show_suspension_count", 1, 50, SUSPENSION_COUNT_OUT_OF_RANGE),
        ("no_show_suspension_days", 1, MAX_DAYS, SUSPENSION_DAYS_OUT_OF_RANGE),
        ("checkin_overdue_hours", 0, 72, CHECKIN_OVERDUE_OUT_OF_RANGE),
        ("student_recap_min_length", 0, 2000, RECAP_TOO_LONG),
        ("warning_short_session_days", 1, MAX_DAYS, SHORT_DAYS_OUT_OF_RANGE),
        ("warning_irregular_percent", 1, MAX_IRREGULAR_PERCENT, IRREGULAR_OUT_OF_RANGE),
        ("booking_notice_hours", 0, MAX_NOTICE_HOURS, NOTICE_TOO_LONG),
        ("booking_horizon_days", 1, MAX_DAYS, HORIZON_OUT_OF_RANGE),
        ("booking_slot_minutes", 5, MAX_SESSION_BOUND, BOOKING_LENGTH_OUT_OF_RANGE),
        ("booking_slot_step_minutes", 5, 24 * 60, BOOKING_STEP_OUT_OF_RANGE),
        ("session_reminder_hours", 2, 168, REMINDER_HOURS_OUT_OF_RANGE),
    ]
    for name, lowest, highest, message in bounds:
        if given(name) and not lowest <= values[name] <= highest:
            refuse(name, message)
    return errors


def organization_update(
    *, actor: User, organization: Organization, fields: dict[str, object]
) -> Organization:
    """Change the organization's name, time zone or policy; the policy's rules are checked
    together (`policy_errors`), so no combination that breaks them is ever stored."""
    with transaction.atomic():
        for field, value in fields.items():
            setattr(organization, field, value)
        errors = policy_errors(
            {f.name: getattr(organization, f.name) for f in Organization._meta.concrete_fields}
        )
        if errors:
            raise ValidationError(errors)
        organization.full_clean()
        organization.save(update_fields=list(fields))
    return organization


def _send_invitation_email(invitation_id: int, accept_url: str) -> None:
    invitation = Invitation.objects.select_related("organization", "invited_by").get(
        pk=invitation_id
    )
    context = {"invitation": invitation, "accept_url": accept_url}
    send_mail(
        subject=email_subject(f"You are invited to {invitation.organization.name}"),
        message=render_to_string("matchpal/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def invitation_create(
    *,
    actor: User,
    organization: Organization,
    email: str,
    role: str,
    base_url: str,
    student_id: int | None = None,
    provider_id: int | None = None,
) -> Invitation:
    """Invite `email` with `role`; the email goes out after commit.

    A pending invitation of the same person to the same organization is revoked, so only the
    newest link works.
    """
    email = email.strip()
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ConflictError(f"{email} is already a member of {organization.name}.")
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(
            organization=organization,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            invited_by=actor,
            student_id=student_id,
            provider_id=provider_id,
        )
        accept_url = base_url.rstrip("/") + reverse("invitation_accept", args=[invitation.token])
        transaction.on_commit(lambda: _send_invitation_email(invitation.pk, accept_url))
    return invitation


def invitation_revoke(*, actor: User, invitation: Invitation) -> None:
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise ConflictError("This invitation was already accepted or revoked.")


def invitation_accept(*, user: User, token: str) -> Membership:
    """Make `user` a member through the invitation; single use, refused once expired."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("organization")
            .filter(token=token)
            .first()
        )
        if invitation is None or invitation.revoked_at is not None:
            raise InvitationInvalid("This invitation link is not valid. Ask for a new one.")
        if invitation.accepted_at is not None:
            raise InvitationInvalid("This invitation has already been used.")
        if invitation.expires_at <= timezone.now():
            raise InvitationInvalid("This invitation has expired. Ask for a new one.")
        membership = Membership.objects.filter(
            user=user, organization=invitation.organization
        ).first()
        if membership is None:
            membership = Membership.objects.create(
                user=user, organization=invitation.organization, role=invitation.role
            )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        for handler in _invitation_handlers:
            handler(invitation, user)
    return membership


def link_invited_record(
    *, invitation: Invitation, user: User, model: type[Any], record_id: int | None, label: str
) -> None:
    """Link the new login to the record an invitation was for; failing that, to the
    organization's record with the same email and no login; failing that, to a new record.

    `model` is the Student or Provider model, passed in by its app's invitation handler."""
    records = model.objects.select_for_update().filter(organization_id=invitation.organization_id)
    record = records.filter(pk=record_id).first() if record_id is not None else None
    if record is None:
        record = records.filter(email__iexact=user.email, user__isnull=True).first()
    if record is None:
        if records.filter(user=user).exists():
            return
        record = model(
            organization_id=invitation.organization_id,
            name=user.name or user.email.split("@")[0],
            email=user.email,
        )
    if record.user_id not in (None, user.pk):
        raise ConflictError(f"This {label} record is already linked to another login.")
    record.user = user
    record.save()


def _lock_admins(organization: Organization) -> int:
    # Locking every admin row serialises concurrent demotions, so two admins demoting each
    # other at once cannot leave the organization without one.
    return len(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )


def membership_change_role(*, actor: User, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise DomainError(f"“{role}” is not a role.")
    with transaction.atomic():
        admins = _lock_admins(membership.organization)
        membership.refresh_from_db(fields=["role"])
        if membership.role == Role.ADMIN and role != Role.ADMIN and admins <= 1:
            raise LastAdminError(
                "This is the organization's last admin; make someone else an admin first."
            )
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def membership_remove(*, actor: User, membership: Membership) -> None:
    with transaction.atomic():
        admins = _lock_admins(membership.organization)
        membership.refresh_from_db(fields=["role"])
        if membership.role == Role.ADMIN and admins <= 1:
            raise LastAdminError(
                "This is the organization's last admin; make someone else an admin first."
            )
        membership.delete()


def user_leave_organization(*, user: User, organization: Organization) -> bool:
    """Erasure's part of a login (privacy.services.student_erase): the membership of this
    organization, its notices and the invitations sent to its address here are deleted. A login
    left without any organization is closed for good: deactivated, its address and name replaced,
    its password unusable, its allauth addresses deleted (a session it still holds stops working:
    inactive users are refused). Returns whether the login was closed. A login that belongs to
    other organizations stays theirs."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        Membership.objects.filter(user=user, organization=organization).delete()
        Notification.objects.filter(user=user, organization=organization).delete()
        Invitation.objects.filter(organization=organization, email__iexact=user.email).delete()
        if Membership.objects.filter(user=user).exists():
            return False
        EmailAddress.objects.filter(user=user).delete()
        user.email = f"erased-{user.pk}@erased.invalid"
        user.name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["email", "name", "is_active", "password"])
        return True


def purge_expired_invitations(*, older_than_days: int = 30) -> int:
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = Invitation.objects.filter(accepted_at__isnull=True, expires_at__lt=cutoff).delete()
    return deleted


# --- Service types ----------------------------------------------------------------------------
# Never deleted: providers, packages, grants and relationships refer to them (PROTECT foreign
# keys), and their history must keep its name. Renaming fixes a typo; deactivating retires one
# (forms stop offering it, what already uses it goes on working).


def _service_type_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise DomainError("Give the service type a name.", field="name")
    return name


def _service_type_save(service_type: ServiceType, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            service_type.save(update_fields=update_fields)
    except IntegrityError as exc:
        # The case-insensitive unique name; checked here rather than before the write so two
        # admins adding the same name at once get this message too.
        if violated_constraint(exc) == "service_type_name_unique":
            raise DuplicateServiceType(service_type.name) from exc
        raise


def service_type_create(
    *,
    actor: User,
    organization: Organization,
    name: str,
    client_rate: Decimal | None = None,
) -> ServiceType:
    service_type = ServiceType(
        organization=organization,
        name=_service_type_name(name),
        client_rate=Decimal("0.00") if client_rate is None else client_rate,
    )
    _service_type_save(service_type)
    return service_type


def service_type_rename(
    *, actor: User, service_type: ServiceType, name: str, client_rate: Decimal | None = None
) -> ServiceType:
    """Rename a service type and, when given, change its default client rate (relationships
    already proposed keep their own rates)."""
    old = service_type.name, service_type.client_rate
    service_type.name = _service_type_name(name)
    if client_rate is not None:
        service_type.client_rate = client_rate
    try:
        _service_type_save(service_type, update_fields=["name", "client_rate"])
    except DomainError:
        # The caller's object still says what the database holds.
        service_type.name, service_type.client_rate = old
        raise
    return service_type


def service_type_set_active(*, actor: User, service_type: ServiceType, active: bool) -> ServiceType:
    service_type.is_active = active
    _service_type_save(service_type, update_fields=["is_active"])
    return service_type
