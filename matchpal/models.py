"""Tenancy: users, organizations (the tenant) with their policy, memberships and invitations."""

import secrets
import uuid
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who can sign in. Email is the login; it is unique whatever its case."""

    email = models.EmailField("email address", max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Raised to end every session of the person at once: a sign-out that could not remove the
    # session's copy from the cache (Redis down) does it (matchpal/sessions.py).
    session_generation = models.PositiveIntegerField(default=0, db_default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """The hash every signed-in session carries and every request checks against this row
        (Django's `get_session_auth_hash` and its fallbacks call this): Django's HMAC of the
        password, and of the session generation once it has been raised, so raising it ends
        every session of the person. Generation 0 keeps Django's own hash, so sessions signed
        in before the generation existed stay valid."""
        if not self.session_generation:
            return super()._get_session_auth_hash(secret)  # type: ignore[misc,no-any-return]
        return salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            f"{self.password}\n{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


# Offered in forms. Not a model `choices`: the list comes from the machine's time-zone data,
# which must not make migrations differ between machines.
# Read once: `available_timezones()` walks the whole time-zone database on every call.
TIME_ZONES = frozenset(zoneinfo.available_timezones())
TIME_ZONE_CHOICES = [
    ("UTC", "UTC"),
    *sorted((tz, tz) for tz in TIME_ZONES if "/" in tz),
]


def validate_time_zone(value: str) -> None:
    if value not in TIME_ZONES:
        raise ValidationError(f"“{value}” is not a time zone.")


class Charge(models.TextChoices):
    NONE = "none", "No charge"
    FULL = "full", "Charge the full duration"


class ShortfallPolicy(models.TextChoices):
    """What a session does when the relationship's hold does not cover it (`insufficient_hours`)."""

    REFUSE = "refuse", "Refuse the session"
    DRAW = "draw", "Draw the shortfall from the student's hours free to book"


class StudentRecap(models.TextChoices):
    OFF = "off", "Not asked"
    OPTIONAL = "optional", "Optional"
    REQUIRED = "required", "Required"


class Organization(models.Model):
    """The tenant. Its policy fields are the center's own rules (DESIGN §5)."""

    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    created_at = models.DateTimeField(auto_now_add=True)

    # Sessions: durations
    duration_step_minutes = models.PositiveSmallIntegerField(default=5)
    min_session_minutes = models.PositiveSmallIntegerField(default=5)
    max_session_minutes = models.PositiveSmallIntegerField(default=180)
    notes_min_length = models.PositiveSmallIntegerField(
        default=0, help_text="Minimum length of a session's notes, in characters."
    )
    logging_grace_hours = models.PositiveSmallIntegerField(
        default=72, help_text="After this many hours past its start only an admin can log it."
    )
    # Sessions: limits (blank = no limit)
    max_sessions_per_pair_per_day = models.PositiveSmallIntegerField(null=True, blank=True)
    weekly_max_minutes_per_student_service = models.PositiveIntegerField(null=True, blank=True)
    weekly_max_minutes_per_provider = models.PositiveIntegerField(null=True, blank=True)
    # Charges
    no_show_charge = models.CharField(max_length=8, choices=Charge, default=Charge.NONE)
    late_cancellation_window_hours = models.PositiveSmallIntegerField(default=24)
    late_cancellation_charge = models.CharField(max_length=8, choices=Charge, default=Charge.NONE)
    insufficient_hours = models.CharField(
        max_length=8, choices=ShortfallPolicy, default=ShortfallPolicy.REFUSE
    )
    require_student_confirmation = models.BooleanField(
        default=False,
        help_text="A completed session counts toward provider earnings once the student confirms.",
    )
    proposal_response_days = models.PositiveSmallIntegerField(
        default=7, help_text="Unanswered proposals are declined after this many days."
    )
    booking_students_may_request = models.BooleanField(default=True)
    booking_auto_accept = models.BooleanField(default=True)
    booking_notice_hours = models.PositiveSmallIntegerField(
        default=12, help_text="Students book at least this many hours ahead."
    )
    booking_horizon_days = models.PositiveSmallIntegerField(
        default=60, help_text="Students book at most this many days ahead."
    )
    booking_slot_minutes = models.PositiveSmallIntegerField(
        default=60, help_text="The length of a booked session, in minutes."
    )
    booking_slot_step_minutes = models.PositiveSmallIntegerField(
        default=30, help_text="Booked sessions start on this step: every 30 minutes, …"
    )
    low_balance_threshold_minutes = models.PositiveIntegerField(default=120)
    # Notifications: a reminder this many hours before a session (and one an hour before).
    session_reminder_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text="Remind the student and the provider this many hours before a session "
        "(and again one hour before).",
    )
    revision_minutes = models.PositiveSmallIntegerField(default=60)
    # Money
    pay_providers_for_charged_absences = models.BooleanField(
        default=True,
        help_text="Providers are paid for charged late cancellations and student no-shows.",
    )
    providers_see_client_amount = models.BooleanField(
        default=False, help_text="Providers see what the client is charged for their sessions."
    )
    # Disputes
    dispute_window_days = models.PositiveSmallIntegerField(
        default=14, help_text="A student may dispute a session up to this many days after it."
    )
    # Student recap with the confirmation (docs/scheduling.md, "Student recap")
    student_recap = models.CharField(
        max_length=8,
        choices=StudentRecap,
        default=StudentRecap.OFF,
        help_text="Where confirmation is required: may or must the student write a recap?",
    )
    student_recap_min_length = models.PositiveSmallIntegerField(
        default=0, help_text="Minimum length of a required recap, in characters."
    )
    # Check-in (docs/scheduling.md, "Check-in")
    checkin_required = models.BooleanField(
        default=False,
        help_text="A provider with overdue check-ins sees only the check-in page until done.",
    )
    checkin_overdue_hours = models.PositiveSmallIntegerField(
        default=2, help_text="A session not checked in this many hours after it starts is overdue."
    )
    # No-show suspension (docs/scheduling.md, "No-show rules"); blank count: off
    no_show_suspension_count = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="This many student no-shows within the days below suspend booking; blank: off.",
    )
    no_show_suspension_days = models.PositiveSmallIntegerField(
        default=60, help_text="The window, in days, for counting a student's no-shows."
    )
    # Warning signs on the admin dashboard (DESIGN §5)
    warning_short_session_percent = models.PositiveSmallIntegerField(
        default=50,
        help_text="A session is very short under this share (in %) of the pairing's usual length.",
    )
    warning_gap_days = models.PositiveSmallIntegerField(
        default=21,
        help_text=(
            "A pairing whose last completed session is this many days old has a long gap; "
            "one paired this long without any session is idle."
        ),
    )
    warning_cancellations = models.PositiveSmallIntegerField(
        default=3,
        help_text="This many cancellations of one pairing within the window below are a warning.",
    )
    warning_cancellation_days = models.PositiveSmallIntegerField(
        default=30, help_text="The window, in days, for repeated cancellations."
    )
    warning_short_session_days = models.PositiveSmallIntegerField(
        default=30, help_text="The window, in days, for very short sessions."
    )
    warning_irregular_percent = models.PositiveSmallIntegerField(
        default=50,
        help_text=(
            "A pairing meets irregularly when the gaps between its last six sessions vary by "
            "this share (in %) of their average or more."
        ),
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_step_minutes__gte=1),
                name="org_duration_step_positive",
            ),
            models.CheckConstraint(
                condition=Q(min_session_minutes__gte=1)
                & Q(max_session_minutes__gte=models.F("min_session_minutes")),
                name="org_session_bounds_ordered",
            ),
            models.CheckConstraint(
                condition=Q(proposal_response_days__gte=1), name="org_response_days_positive"
            ),
            models.CheckConstraint(
                condition=Q(no_show_suspension_count__isnull=True)
                | Q(no_show_suspension_count__gte=1),
                name="org_suspension_count_positive",
            ),
            models.CheckConstraint(
                condition=Q(no_show_suspension_days__gte=1), name="org_suspension_days_positive"
            ),
            models.CheckConstraint(
                condition=Q(student_recap__in=StudentRecap.values), name="org_student_recap_valid"
            ),
            models.CheckConstraint(
                condition=Q(booking_slot_minutes__gte=5, booking_slot_step_minutes__gte=5),
                name="org_booking_slots_positive",
            ),
            models.CheckConstraint(
                condition=Q(booking_horizon_days__gte=1), name="org_booking_horizon_positive"
            ),
            models.CheckConstraint(
                condition=Q(session_reminder_hours__range=(2, 168)),
                name="org_session_reminder_hours_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    PROVIDER = "provider", "Provider"
    STUDENT = "student", "Student"


class Membership(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role)
    created_at = models.DateTimeField(auto_now_add=True)
    # The user's email, kept by the database (the triggers of matchpal 0014): set on every
    # insert and on every change of the user's email, whatever wrote it, so the members page's
    # order (role, email, id) is one index's (`membership_org_role_email`). The code never
    # writes it, and reads `user.email`: on SQLite an instance just created still holds "".
    user_email = models.EmailField(max_length=254, db_default="", blank=True, editable=False)

    class Meta:
        ordering = ["organization__name"]
        indexes = [
            # The members page in its order, organization first (docs/indexes.md).
            models.Index(
                fields=["organization", "role", "user_email", "id"],
                name="membership_org_role_email",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
            # Target of composite foreign keys from other tenant tables (an export's requester).
            models.UniqueConstraint(fields=["organization", "id"], name="membership_org_id"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.organization}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_provider(self) -> bool:
        return self.role == Role.PROVIDER

    @property
    def is_student(self) -> bool:
        return self.role == Role.STUDENT


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


def _invitation_expiry() -> datetime:
    return timezone.now() + timedelta(days=settings.MATCHPAL_INVITATION_DAYS)


class Invitation(models.Model):
    """A single-use, expiring link that makes the person who opens it a member.

    An invitation may be for a Student or Provider record: accepting it links the login to
    that record (the students and providers apps do the linking, see their `services`).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The record the login will be linked to (lazy references: no import of those apps).
    student = models.ForeignKey(
        "students.Student",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
    )
    provider = models.ForeignKey(
        "providers.Provider",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="invitation_role_valid"),
            models.CheckConstraint(
                condition=~(Q(student__isnull=False) & Q(provider__isnull=False)),
                name="invitation_one_record",
            ),
            models.CheckConstraint(
                condition=Q(student__isnull=True) | Q(role=Role.STUDENT),
                name="invitation_student_role",
            ),
            models.CheckConstraint(
                condition=Q(provider__isnull=True) | Q(role=Role.PROVIDER),
                name="invitation_provider_role",
            ),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="invitation_not_accepted_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization} as {self.role}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class ServiceType(models.Model):
    """What a center offers (Tutoring, Advising, …). Per organization.

    It lives in the tenancy layer because providers, packages, grants and relationships all
    refer to it and a new organization is created with its defaults.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="service_types"
    )
    name = models.CharField(max_length=60)
    is_active = models.BooleanField(default=True)
    client_rate = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="What a client is charged per hour by default, in the organization's currency.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "organization", name="service_type_name_unique"),
            # Target of composite foreign keys from other tenant tables.
            models.UniqueConstraint(fields=["organization", "id"], name="service_type_org_id"),
            models.CheckConstraint(
                condition=Q(client_rate__gte=0), name="service_type_client_rate_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """An in-app notice for one member, shown in their inbox (`notifications.notify` writes
    them; the bell counts the unread ones)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="notifications"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40, blank=True)
    text = models.CharField(max_length=500)
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The inbox, newest first.
            models.Index(fields=["organization", "user", "-id"], name="notification_inbox"),
            # The bell: the unread ones, counted on every tenant page.
            models.Index(
                fields=["organization", "user"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
        ]

    def __str__(self) -> str:
        return self.text
