"""Exporting and erasing a student's personal data (docs/privacy.md).

Erasure blanks who the student is and keeps what happened: the student's row stays, renamed
"Erased student <code>", with its grants, ledger, holds, relationships and sessions and every
figure on them, so the center's totals, reports and `reconcile_grants` read the same before and
after. Each app erases its own part through its own service; this module runs them in one
transaction and records who did it and when.
"""

from django.db import transaction

from integrations.woocommerce.services import orders_anonymise
from matchpal.errors import ConflictError
from matchpal.models import Organization, User
from matchpal.services import user_leave_organization
from notifications.services import person_forget
from privacy.models import PersonalDataAction, PersonalDataEvent
from relationships.models import HOLDING_STATUSES, Relationship
from students.models import Student
from students.services import student_anonymise


def erased_label(student: Student) -> str:
    """What the erased record is called: no personal data, yet each one tells apart."""
    return f"Erased student {str(student.public_id)[:8]}"


def is_erased(*, organization: Organization, student: Student) -> bool:
    return PersonalDataEvent.objects.filter(
        organization=organization, student=student, action=PersonalDataAction.ERASE
    ).exists()


def _record(
    *, actor: User, organization: Organization, student: Student, action: str
) -> PersonalDataEvent:
    return PersonalDataEvent.objects.create(
        organization=organization,
        student=student,
        action=action,
        actor=actor,
        actor_email=actor.email,
    )


def student_export_record(
    *, actor: User, organization: Organization, student: Student
) -> PersonalDataEvent:
    """An export is recorded before its file is handed over (who took the data, when)."""
    with transaction.atomic():
        return _record(
            actor=actor,
            organization=organization,
            student=student,
            action=PersonalDataAction.EXPORT,
        )


def student_erase(
    *, actor: User, organization: Organization, student: Student
) -> PersonalDataEvent:
    with transaction.atomic(durable=True):
        student = Student.objects.select_for_update().get(organization=organization, pk=student.pk)
        if is_erased(organization=organization, student=student):
            raise ConflictError("This student's personal data was already erased.")
        live = Relationship.objects.filter(
            organization=organization,
            student=student,
            status__in=HOLDING_STATUSES,
        ).count()
        if live:
            raise ConflictError(
                f"{student.name} still has {live} relationship{'s' if live > 1 else ''} "
                "proposed or paired: complete or cancel "
                f"{'them' if live > 1 else 'it'} before erasing."
            )
        user = student.user
        person_forget(
            organization=organization,
            user_id=student.user_id,
            addresses=[student.email, student.guardian_email],
        )
        orders_anonymise(organization=organization, student=student)
        student_anonymise(student=student, label=erased_label(student))
        if user is not None:
            user_leave_organization(user=user, organization=organization)
        return _record(
            actor=actor, organization=organization, student=student, action=PersonalDataAction.ERASE
        )
