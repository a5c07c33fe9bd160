"""Everything the center keeps about one student, as one JSON-ready document.

Each section reads one table in one query (so the export costs the same number of queries for a
student with three sessions or three thousand) and takes *every* column of that table except the
few listed in `LEFT_OUT`: a column added later is exported without anyone remembering to. A
foreign key is written as what people know it by: a row's public id, a login's email, a
record's name; integer keys never leave the database.
"""

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from grants.models import Grant, GrantEntry
from integrations.woocommerce.models import Order
from matchpal.models import Invitation, Notification, Organization, User
from notifications.models import EmailDelivery
from privacy.models import PersonalDataEvent
from relationships.models import Relationship, RelationshipStatusChange
from sessions_app.models import Session, SessionChange
from students.models import Student

FORMAT = "matchpal-student-data/1"

# Columns that are not the person's data, or must not leave the database: integer keys, the
# tenant (named once at the top), the login's password hash, an invitation's secret token, the
# ledger's idempotency keys (internal), a shop order's refund bookkeeping.
LEFT_OUT = {
    "id",
    "organization",
    "password",
    "token",
    "idempotency_key",
    "handled_refund_ids",
    # An email's HTML copy of its text, and its attachments' bytes (a calendar invitation).
    "html",
    "attachments",
}


def _reference(field: models.ForeignKey[Any, Any]) -> str | None:
    """The lookup that names a foreign key's row the way people know it."""
    target = field.related_model
    assert isinstance(target, type)
    names = {f.name for f in target._meta.concrete_fields}
    if issubclass(target, User):
        return f"{field.name}__email"
    if "public_id" in names:
        return f"{field.name}__public_id"
    if "name" in names:
        return f"{field.name}__name"
    return None  # a row with nothing to name it by (an allocation): left out


def _rows(
    queryset: models.QuerySet[Any],
) -> list[dict[str, Any]]:
    """Every column of the queryset's table (less LEFT_OUT), foreign keys by reference."""
    lookups: dict[str, str] = {}
    for field in queryset.model._meta.concrete_fields:
        if field.name in LEFT_OUT:
            continue
        if isinstance(field, models.ForeignKey):
            reference = _reference(field)
            if reference is not None:
                lookups[field.name] = reference
        else:
            lookups[field.name] = field.name
    names = {lookup: name for name, lookup in lookups.items()}
    return [
        {names[lookup]: value for lookup, value in row.items()}
        for row in queryset.values(*lookups.values())
    ]


def _addressed_to(student: Student) -> Q:
    """The center's emails to the student: to their login, or to one of their addresses."""
    query = Q(user_id=student.user_id) if student.user_id else Q(pk__in=[])
    for address in filter(None, [student.email, student.guardian_email]):
        query |= Q(to__iexact=address)
    return query


def student_data(*, organization: Organization, student: Student) -> dict[str, Any]:
    """The whole document (docs/privacy.md lists its sections)."""
    in_org = {"organization": organization}
    sessions = Session.objects.filter(**in_org, relationship__student=student)
    return {
        "format": FORMAT,
        "exported_at": timezone.now(),
        "organization": {"name": organization.name, "slug": organization.slug},
        "student": _rows(Student.objects.filter(**in_org, pk=student.pk))[0],
        "login": (
            _rows(
                User.objects.filter(pk=student.user_id).only("pk"),
            )[0]
            if student.user_id
            else None
        ),
        "grants": _rows(
            Grant.objects.filter(**in_org, student=student).order_by("created_at", "id")
        ),
        "ledger": _rows(
            GrantEntry.objects.filter(**in_org, grant__student=student).order_by("created_at", "id")
        ),
        "relationships": _rows(
            Relationship.objects.filter(**in_org, student=student).order_by("created_at", "id")
        ),
        "relationship_history": _rows(
            RelationshipStatusChange.objects.filter(
                **in_org, relationship__student=student
            ).order_by("created_at", "id"),
        ),
        "sessions": _rows(sessions.order_by("starts_at", "id")),
        "session_history": _rows(
            SessionChange.objects.filter(**in_org, session__in=sessions).order_by(
                "created_at", "id"
            )
        ),
        "invitations": _rows(
            Invitation.objects.filter(**in_org, student=student).order_by("created_at", "id")
        ),
        "notifications": _rows(
            Notification.objects.filter(**in_org, user_id=student.user_id).order_by(
                "created_at", "id"
            )
        )
        if student.user_id
        else [],
        "emails": _rows(
            EmailDelivery.objects.filter(
                _addressed_to(student), organization=organization
            ).order_by("created_at", "id")
        ),
        "shop_orders": _rows(
            Order.objects.filter(**in_org, student=student).order_by("updated_at", "id")
        ),
        "personal_data_events": _rows(
            PersonalDataEvent.objects.filter(**in_org, student=student).order_by("created_at", "id")
        ),
    }


def events_of(*, organization: Organization, student: Student) -> list[PersonalDataEvent]:
    """The student's exports and erasure, newest first (the page's list; at most 20)."""
    return list(PersonalDataEvent.objects.filter(organization=organization, student=student)[:20])
