"""The export sources built in beside the reports: the sessions a member may see, and a
student's own history (their ledger entries). The reports pages register theirs the same way
(registry.export_source)."""

import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import models
from django.db.models import Case, F, Q, QuerySet, Value, When

from grants.models import EntryKind, GrantEntry
from matchpal import bounds
from matchpal.models import Membership, Organization, Role
from reports.export_jobs.registry import ExportData, ExportParamsError, Row, export_source
from sessions_app.models import NoShowParty, Session, SessionKind, SessionStatus
from sessions_app.selectors import sees_client_amount, visible_to
from students.models import Student
from students.selectors import student_for_user

ValuesListQuerySet = QuerySet[Session, tuple[Any, ...]]
# Rows fetched per round trip of the server-side cursor.
CHUNK = 2000


def date_param(params: dict[str, str], name: str) -> date | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ExportParamsError(f"“{value}” is not a date (YYYY-MM-DD).", field=name) from None
    if not bounds.in_range(day):
        raise ExportParamsError(bounds.out_of_range(), field=name)
    return day


def date_range(organization: Organization, params: dict[str, str], field: str) -> Q:
    """`start` and `end` (inclusive days of the center's calendar) as a filter on `field`."""
    start, end = date_param(params, "start"), date_param(params, "end")
    if start and end and end < start:
        raise ExportParamsError("The end date is before the start date.", field="end")
    tz = organization.tz
    lookup = Q()
    if start:
        lookup &= Q(**{f"{field}__gte": datetime.combine(start, time.min, tz)})
    if end:
        lookup &= Q(**{f"{field}__lt": datetime.combine(end + timedelta(days=1), time.min, tz)})
    return lookup


def range_title(base: str, params: dict[str, str]) -> str:
    start, end = params.get("start") or "", params.get("end") or ""
    if start or end:
        return f"{base}, {start or '…'} to {end or '…'}"
    return base


# --- Sessions -------------------------------------------------------------------------------

SESSION_STATUS = dict(SessionStatus.choices)


def labels(field: str, choices: type[models.TextChoices]) -> Case:
    """The label of each choice of `field`, in SQL; the stored value where none matches."""
    return Case(
        *(When(**{field: value}, then=Value(str(label))) for value, label in choices.choices),
        default=F(field),
        output_field=models.CharField(),
    )


def sessions_rows(
    organization: Organization, membership: Membership, params: dict[str, str]
) -> tuple[ValuesListQuerySet, list[str]]:
    """The sessions export's query (one tuple per session, in time order) and its header;
    scripts/bench_exports.py copies the same query with PostgreSQL's COPY."""
    status = (params.get("status") or "").strip()
    if status and status not in SESSION_STATUS:
        raise ExportParamsError("Choose a session status from the list.", field="status")
    lookup = date_range(organization, params, "starts_at") & visible_to(membership)
    if status:
        lookup &= Q(status=status)
    queryset = Session.objects.filter(lookup, organization=organization)
    with_earnings = not membership.is_student
    with_client = sees_client_amount(membership, organization)
    # The choices' labels come from the database (a CASE per column), so the rows go from the
    # cursor to the file without a Python step of their own.
    queryset = queryset.annotate(
        kind_label=labels("kind", SessionKind),
        status_label=labels("status", SessionStatus),
        no_show_label=labels("no_show_party", NoShowParty),
    )
    columns = [
        "starts_at",
        "relationship__student__name",
        "relationship__provider__name",
        "relationship__service_type__name",
        "kind_label",
        "status_label",
        "duration_minutes",
        "charged_minutes",
        "relationship__unit",
        "mode",
        "no_show_label",
        "cancellation_reason",
    ]
    header = [
        "Starts at",
        "Student",
        "Provider",
        "Service",
        "Kind",
        "Status",
        "Duration (min)",
        "Charged",
        "Unit",
        "Mode",
        "No-show party",
        "Cancellation reason",
    ]
    if with_earnings or with_client:
        queryset = queryset.with_money()
    if with_earnings:
        columns.append("provider_earnings")
        header.append("Provider earnings")
    if with_client:
        columns.append("client_amount")
        header.append("Client amount")
    return queryset.order_by("starts_at", "id").values_list(*columns), header


@export_source("sessions", label="Sessions")
def sessions(
    organization: Organization, membership: Membership, params: dict[str, str]
) -> ExportData:
    """One row per session in the range: an admin's whole center, a provider's own sessions, a
    student's own; amounts as the session pages show them (the client amount only to whom
    `sees_client_amount` allows)."""
    values, header = sessions_rows(organization, membership, params)
    return ExportData(
        title=range_title(f"Sessions of {organization.name}", params),
        header=header,
        rows=values.iterator(chunk_size=CHUNK),
        count=values.order_by().count,
    )


# --- A student's history (their ledger entries) ---------------------------------------------

ENTRY_KIND = dict(EntryKind.choices)


def history_student(
    organization: Organization, membership: Membership, params: dict[str, str]
) -> Student:
    """The student whose history is exported: a student's own; an admin names one."""
    if membership.role == Role.STUDENT:
        student = student_for_user(organization=organization, user=membership.user)
        if student is None:
            raise ExportParamsError("Your login is not linked to a student record yet.")
        return student
    value = (params.get("student") or "").strip()
    try:
        public_id = uuid.UUID(value)
    except ValueError:
        raise ExportParamsError("Choose a student.", field="student") from None
    student = Student.objects.filter(organization=organization, public_id=public_id).first()
    if student is None:
        raise ExportParamsError("Choose a student.", field="student")
    return student


@export_source("history", label="Hours history", roles={Role.ADMIN, Role.STUDENT})
def history(
    organization: Organization, membership: Membership, params: dict[str, str]
) -> ExportData:
    """Every ledger entry of a student's grants in the range, oldest first: what was bought,
    held, used, given back, refunded or expired, with the provider and session it was for."""
    student = history_student(organization, membership, params)
    queryset = GrantEntry.objects.filter(
        date_range(organization, params, "created_at"),
        organization=organization,
        grant__student=student,
    )
    columns = [
        "created_at",
        "kind",
        "grant__reference",
        "grant__package__name",
        "grant__unit",
        "total_delta",
        "used_delta",
        "held_delta",
        "relationship__provider__name",
        "session__starts_at",
        "reason",
    ]
    header = [
        "When",
        "Change",
        "Grant",
        "Package",
        "Unit",
        "Total change",
        "Used change",
        "Held change",
        "Provider",
        "Session",
        "Reason",
    ]

    def rows() -> Iterator[Row]:
        values = queryset.order_by("created_at", "id").values_list(*columns)
        for row in values.iterator(chunk_size=CHUNK):
            cells = list(row)
            cells[1] = ENTRY_KIND.get(cells[1], cells[1])
            yield cells

    return ExportData(
        title=range_title(f"Hours history of {student.name}", params),
        header=header,
        rows=rows(),
        count=queryset.count,
    )
