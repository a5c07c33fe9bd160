"""Read-only figures for the role dashboards. Fixed query counts whatever the data size."""

from datetime import datetime

from django.db.models import Count, F, Q, Sum, Window

from grants import selectors as ledger
from grants.selectors import low_balance_students
from grants.services import student_balances
from integrations.woocommerce import selectors as shop
from matchpal.models import Membership, Organization
from matchpal.selectors import pending_invitations
from providers.models import Provider, ProviderStatus
from relationships import selectors as relationships
from relationships.models import RelationshipStatus
from sessions_app import selectors as sessions
from students.models import Student, StudentStatus

ATTENTION_ROWS = 5


def needs_attention(*, organization: Organization, membership: Membership) -> dict[str, object]:
    """What an admin should look at today: proposals still unanswered, disputed sessions,
    sessions past their start that nobody logged, open shop order errors, and this week's
    delivered hours. Five queries whatever the amount of data."""
    visible = sessions.session_list(organization=organization, membership=membership)
    proposals = relationships.relationship_list(
        organization=organization, membership=membership
    ).filter(status=RelationshipStatus.PROPOSED)
    disputed = visible.filter(sessions.dispute_open())
    week = sessions.delivered_totals(*sessions.this_week(organization))
    counts = visible.with_money().aggregate(
        disputed=Count("pk", filter=sessions.dispute_open()),
        to_log=Count("pk", filter=sessions.due_to_log()),
        week_sessions=week["sessions"],
        week_minutes=week["minutes"],
    )
    return {
        "proposals": list(proposals.order_by("respond_by", "id")[:ATTENTION_ROWS]),
        "proposal_count": proposals.count(),
        "disputed": list(disputed.order_by("-disputed_at", "-id")[:ATTENTION_ROWS]),
        "disputed_count": counts["disputed"],
        "to_log": counts["to_log"],
        "week_sessions": counts["week_sessions"],
        "week_minutes": counts["week_minutes"] or 0,
        "open_order_errors": shop.open_error_count(organization=organization),
    }


def admin_dashboard(*, organization: Organization, membership: Membership) -> dict[str, object]:
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
        .values_list("role")
        .annotate(n=Count("pk"))
        .values_list("role", "n")
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
        "attention": needs_attention(organization=organization, membership=membership),
    }


def _earnings(
    *, organization: Organization, membership: Membership, week: datetime, month: datetime
) -> dict[str, object]:
    this_week = sessions.earnings(organization=organization, membership=membership, since=week)
    this_month = sessions.earnings(organization=organization, membership=membership, since=month)
    return {
        "week_minutes": this_week.minutes,
        "week_earnings": this_week.amount,
        "month_minutes": this_month.minutes,
        "month_earnings": this_month.amount,
    }


def provider_dashboard(*, organization: Organization, membership: Membership) -> dict[str, object]:
    week, month = sessions.week_and_month_starts(organization)
    return {
        "proposals": list(
            relationships.proposals_for_provider(organization=organization, membership=membership)
        ),
        "paired": list(
            relationships.paired_for_provider(organization=organization, membership=membership)
        ),
        "to_log": list(sessions.to_log(organization=organization, membership=membership)[:20]),
        **_earnings(organization=organization, membership=membership, week=week, month=month),
    }


def student_sessions(
    *, organization: Organization, membership: Membership, limit: int = 20
) -> list[object]:
    """The student's recent sessions, newest first, with the running total of hours used.

    One total per unit: `charged_minutes` holds minutes for a relationship counting minutes but
    whole sessions for one counting sessions, and the two never add up.
    """
    rows = (
        sessions.session_list(organization=organization, membership=membership)
        .annotate(
            running=Window(
                Sum("charged_minutes"),
                partition_by=[F("relationship__unit")],
                order_by=[F("starts_at").asc(), F("id").asc()],
            )
        )
        .order_by("-starts_at", "-id")[:limit]
    )
    return list(rows)


def student_dashboard(*, organization: Organization, student: Student) -> dict[str, object]:
    grants = list(ledger.grant_list(organization=organization, student=student))
    return {
        "student": student,
        "balances": student_balances(student=student, grants=grants),
        "holds": ledger.holds_of_student(organization=organization, student=student),
        "history": list(ledger.history(organization=organization, student=student)[:10]),
    }
