"""Read-only figures for the role dashboards. Fixed query counts whatever the data size."""

from django.db.models import Count, Q

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
        "recent_students": list(
            Student.objects.filter(organization=organization).order_by("-created_at")[:5]
        ),
    }
