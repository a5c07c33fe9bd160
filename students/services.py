from django.db import IntegrityError, transaction
from django.utils import timezone

from matchpal.constraints import violated_constraint
from matchpal.errors import ConflictError, DomainError, PermissionDeniedError
from matchpal.models import Invitation, Membership, Organization, Role, User
from matchpal.services import invitation_create, link_invited_record
from students.models import BookingSuspension, Student, StudentStatus

EDITABLE_FIELDS = ("name", "email", "phone", "guardian_name", "guardian_email", "notes")


class DuplicateStudentEmail(DomainError):
    def __init__(self, email: str) -> None:
        super().__init__(
            f"Another student of this organization already uses {email}.", field="email"
        )


def _save(student: Student, update_fields: list[str] | None = None) -> Student:
    try:
        with transaction.atomic():
            student.save(update_fields=update_fields)
    except IntegrityError as exc:
        if violated_constraint(exc) == "student_email_unique_in_org":
            raise DuplicateStudentEmail(student.email) from exc
        raise
    return student


def student_create(
    *,
    actor: User | None,
    organization: Organization,
    name: str,
    email: str = "",
    phone: str = "",
    guardian_name: str = "",
    guardian_email: str = "",
    notes: str = "",
) -> Student:
    student = Student(
        organization=organization,
        name=name.strip(),
        email=email.strip(),
        phone=phone,
        guardian_name=guardian_name,
        guardian_email=guardian_email,
        notes=notes,
    )
    return _save(student)


def student_update(*, actor: User, student: Student, **fields: str) -> Student:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    for field, value in fields.items():
        setattr(student, field, value.strip() if field in ("name", "email") else value)
    return _save(student, update_fields=[*fields, "updated_at"])


def student_set_status(*, actor: User, student: Student, status: str) -> Student:
    """Deactivate or reactivate. Students are never deleted: their history stays."""
    student.status = status
    return _save(student, update_fields=["status", "updated_at"])


def student_anonymise(*, student: Student, label: str) -> Student:
    """Erasure's part of the record (privacy.services.student_erase): every personal field
    blanked, the name replaced by `label`, the login detached, the record inactive, its
    invitations deleted. The row
    stays: the ledger, holds and sessions point at it and keep their figures."""
    student.name = label
    for field in ("email", "phone", "guardian_name", "guardian_email", "notes"):
        setattr(student, field, "")
    student.user = None
    student.status = StudentStatus.INACTIVE
    student.invitations.all().delete()  # they name the student's address
    return _save(
        student,
        update_fields=[*EDITABLE_FIELDS, "user", "status", "updated_at"],
    )


def student_invite(*, actor: User, student: Student, base_url: str) -> Invitation:
    if student.user_id is not None:
        raise ConflictError(f"{student.name} can already sign in.")
    if not student.email:
        raise DomainError(f"Add an email address to {student.name} before inviting them.")
    if student.status != StudentStatus.ACTIVE:
        raise ConflictError(f"{student.name} is inactive; reactivate them first.")
    return invitation_create(
        actor=actor,
        organization=student.organization,
        email=student.email,
        role=Role.STUDENT,
        base_url=base_url,
        student_id=student.pk,
    )


def student_link_invited_user(invitation: Invitation, user: User) -> None:
    """Accepting a student invitation links the login to a student record."""
    if invitation.role == Role.STUDENT:
        link_invited_record(
            invitation=invitation,
            user=user,
            model=Student,
            record_id=invitation.student_id,
            label="student",
        )


# --- Booking suspensions (docs/scheduling.md, "No-show rules") --------------------------------

BOOKING_SUSPENDED = (
    "Booking is suspended after repeated no-shows; the center can lift the suspension."
)
NOT_SUSPENDED = "This student's booking is not suspended."
LIFT_ADMINS_ONLY = "Only an admin can lift a booking suspension."


def booking_suspend(*, student: Student, no_shows: int) -> BookingSuspension | None:
    """Suspend the student's booking (the no-show rule, `sessions_app.noshows`), in the
    caller's transaction; None when a suspension is already open (the partial unique
    constraint holds it to one, whatever the race)."""
    try:
        with transaction.atomic():
            return BookingSuspension.objects.create(
                organization_id=student.organization_id, student=student, no_shows=no_shows
            )
    except IntegrityError as exc:
        if violated_constraint(exc) == "booking_suspension_one_open":
            return None
        raise


def booking_suspension_lift(
    *, membership: Membership, student: Student, reason: str = ""
) -> BookingSuspension:
    """An admin (the membership the view resolved) lifts the student's suspension: who and
    when are kept on it, and no-shows before now no longer count toward the next one."""
    if not membership.is_admin or membership.organization_id != student.organization_id:
        raise PermissionDeniedError(LIFT_ADMINS_ONLY)
    with transaction.atomic():
        suspension = (
            BookingSuspension.objects.select_for_update()
            .filter(student=student, lifted_at__isnull=True)
            .first()
        )
        if suspension is None:
            raise ConflictError(NOT_SUSPENDED)
        suspension.lifted_at = timezone.now()
        suspension.lifted_by = membership.user
        suspension.lift_reason = reason.strip()[:500]
        suspension.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    return suspension
