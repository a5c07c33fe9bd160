"""Read-only figures for the role dashboards. Fixed query counts whatever the data size."""

from django.db.models import Count, Q

from grants import selectors as ledger
from grants.selectors import low_balance_students
from grants.services import student_balances
from matchpal.models import Membership, Organization
from matchpal.selectors import pending_invitations
from providers.models import Provider, ProviderStatus
from students.models import Student, StudentStatus


def admin_dashboard(*, organization: Organization) -> dict[str, object]:
    students = Student.objects.filter(organization=organization).aggregate(
        active=Count("pk", filter=Q(status=StudentStatus.ACTIVE)),
        inactive=Count("pk", filter=Q(status=StudentStatus.INACTIVE)),
        without_login=Count("pk", filter=Q(status=StudentStatus.ACTIVE, user__isnull=True)),
    )
    providers = Provider.objects.filter(organization=organization).aggregate(
        active=Count("pk", filter=Q(status=ProviderStatus.ACTIVE)),
        without_login=Count("pk", filter=Q(status=ProviderStatus.ACTIVE, user__isnull=True)),
    )
    members = dict(
        Membership.objects.filter(organization=organization)
        .values_list("role").annotate(n=Count("pk")).values_list("role", "n")
    )
    return {
        "students": students,
        "providers": providers,
        "members": members,
        "pending_invitations": pending_invitations(organization=organization).count(),
        "low_balance": low_balance_students(organization=organization),
        "recent_students": list(
            Student.objects.filter(organization=organization).order_by("-created_at")[:5]
        ),
    }


def student_dashboard(*, organization: Organization, student: Student) -> dict[str, object]:
    grants = list(ledger.grant_list(organization=organization, student=student))
    return {
        "student": student,
        "balances": student_balances(student=student, grants=grants),
        "holds": ledger.holds_of_student(organization=organization, student=student),
        "history": list(ledger.history(organization=organization, student=student)[:10]),
    }
