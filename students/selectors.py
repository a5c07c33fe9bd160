"""Tenant-scoped reads of students: the organization is always part of the query."""

import uuid
from collections.abc import Callable
from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404

from matchpal.compiled import Compiled, stand_in
from matchpal.models import Organization, User
from matchpal.pagination import CompiledList
from students.models import BookingSuspension, Student

# Adds columns to the students list from an app above this one: the ledger registers
# `grants.selectors.with_balances` in its AppConfig.ready(), so the list shows each student's
# Free to book and low-balance flag without this app importing the ledger.
ListAnnotator = Callable[..., QuerySet[Student]]
_list_annotators: list[ListAnnotator] = []


def register_list_annotator(annotator: ListAnnotator) -> None:
    """`annotator(queryset, organization=…)` returns the queryset with its columns added."""
    if annotator not in _list_annotators:
        _list_annotators.append(annotator)


def student_list(*, organization: Organization, now: datetime | None = None) -> QuerySet[Student]:
    """The organization's students with the columns the annotators add, as of `now` (this
    moment by default: the ledger's Free to book counts the grants usable then)."""
    students = Student.objects.filter(organization=organization).select_related("user")
    for annotate in _list_annotators:
        students = annotate(students, organization=organization, now=now)
    return students


def _list_of(organization: int, threshold: int, now: datetime) -> QuerySet[Student]:
    """`student_list` built from values (stand-ins), for the statements compiled below."""
    return student_list(
        organization=stand_in(Organization, organization, low_balance_threshold_minutes=threshold),
        now=now,
    )


# The students list unfiltered (the page an admin opens), compiled once: its balance
# annotations are 5 kB of SQL that took about 3 ms of Python a request to build and compile
# (docs/performance.md, "The lists and the provider's home within 15x"). The count selects
# the ids alone, none of the balances: were one of them in its SQL, the moment each build
# takes (`now` left to its default) would make `Compiled` refuse it.
unfiltered_list = CompiledList(
    _list_of,
    count_build=lambda organization: student_list(
        organization=stand_in(Organization, organization)
    ),
    count_kinds={"organization": int},
    organization=int,
    threshold=int,
    now=datetime,
)


def student_get(*, organization: Organization, public_id: uuid.UUID) -> Student:
    student = (
        Student.objects.filter(organization=organization, public_id=public_id)
        .select_related("user", "organization")
        .first()
    )
    if student is None:
        raise Http404("No such student.")
    return student


# Compiled once: every request of a student's pages looks their record up.
_of_user = Compiled(
    lambda organization, user: (
        Student.objects.filter(organization=organization, user=user)
        .select_related("organization")
        .order_by("pk")[:1]
    ),
    organization=int,
    user=int,
)


def student_for_user(*, organization: Organization, user: User) -> Student | None:
    rows = _of_user.rows(organization=organization.pk, user=user.pk)
    return rows[0] if rows else None


def lock_student(*, pk: int) -> None:
    """Lock the student's row `FOR NO KEY UPDATE OF` itself, for the writers whose rules count
    every session of the student (docs/sessions.md, the lock order of session writes): a second
    one waits and counts again. Inserts that merely reference the row do not wait."""
    list(
        Student.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk=pk)
        .values_list("pk", flat=True)
    )


def student_with_email(*, organization_id: int, email: str) -> Student | None:
    """The organization's student with this email, whatever its case (an email is unique among
    an organization's students, case-insensitively)."""
    return Student.objects.filter(organization_id=organization_id, email__iexact=email).first()


def booking_suspension(student: Student) -> BookingSuspension | None:
    """The student's open booking suspension (too many no-shows), or None."""
    return BookingSuspension.objects.filter(student=student, lifted_at__isnull=True).first()


def booking_suspended(student: Student) -> bool:
    """May the student not book? Booking (students' requests, and admins booking for them)
    refuses with `students.services.BOOKING_SUSPENDED`; their sessions already booked stay."""
    return BookingSuspension.objects.filter(student=student, lifted_at__isnull=True).exists()


def last_lift(student: Student) -> datetime | None:
    """When an admin last lifted a suspension of the student: no-shows before it no longer
    count toward the next one."""
    return (
        BookingSuspension.objects.filter(student=student, lifted_at__isnull=False)
        .order_by("-lifted_at")
        .values_list("lifted_at", flat=True)
        .first()
    )


def recent_suspensions(student: Student) -> list[BookingSuspension]:
    """The student's three latest booking suspensions, open or lifted, with who lifted them."""
    return list(student.suspensions.select_related("lifted_by").order_by("-started_at", "-id")[:3])
