"""Tenant-scoped reads of students: the organization is always part of the query."""

import uuid

from django.db.models import QuerySet
from django.http import Http404

from matchpal.models import Organization, User
from students.models import Student


def student_list(*, organization: Organization) -> QuerySet[Student]:
    return Student.objects.filter(organization=organization).select_related("user")


def student_get(*, organization: Organization, public_id: uuid.UUID) -> Student:
    student = (
        Student.objects.filter(organization=organization, public_id=public_id)
        .select_related("user", "organization")
        .first()
    )
    if student is None:
        raise Http404("No such student.")
    return student


def student_for_user(*, organization: Organization, user: User) -> Student | None:
    return (
        Student.objects.filter(organization=organization, user=user)
        .select_related("organization")
        .first()
    )
