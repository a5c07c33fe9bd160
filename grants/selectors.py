"""Tenant-scoped reads of the ledger. Balances come from the grant columns, never from sums
of the ledger; history pages paginate in SQL."""

import copy
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from grants import history as ledger_history
from grants.models import (
    Allocation,
    EntryKind,
    Grant,
    GrantEntry,
    GrantServiceType,
    GrantStatus,
    Package,
    PackageShopMapping,
    StudentBalance,
    Unit,
    end_of_day,
)
from matchpal import compiled
from matchpal.compiled import Compiled, stand_in
from matchpal.models import Organization, ServiceType
from students.models import Student, StudentStatus

if TYPE_CHECKING:
    from django.core.paginator import Page as DjangoPage
    from django_stubs_ext import WithAnnotations

    from grants.services import SessionLike


class Balances(TypedDict):
    """What `with_balances` adds to each student."""

    free_minutes: int | None
    free_sessions: int | None
    lowest_reserve: int | None
    low_balance: bool


def package_list(*, organization: Organization) -> QuerySet[Package]:
    return Package.objects.filter(organization=organization).prefetch_related(
        Prefetch("service_types", queryset=ServiceType.objects.order_by("name")),
        "shop_mappings",
    )


def package_get(*, organization: Organization, public_id: uuid.UUID) -> Package:
    package = package_list(organization=organization).filter(public_id=public_id).first()
    if package is None:
        raise Http404("No such package.")
    return package


def active_packages(*, organization: Organization) -> QuerySet[Package]:
    return package_list(organization=organization).filter(is_active=True)


def grant_list(*, organization: Organization, student: Student) -> QuerySet[Grant]:
    """The student's grants with their service types by name. Not joined to the package: no
    page that lists them shows it, and the join built a package per grant on every request
    (docs/performance.md, "The student's pages: the home's reads and rows")."""
    return Grant.objects.filter(organization=organization, student=student).prefetch_related(
        Prefetch("service_types", queryset=ServiceType.objects.order_by("name"))
    )


# `grant_list`'s two statements, compiled once: the grants, and their service types, which
# the ORM's prefetch would build and compile again on every request.
_grants_of = Compiled(
    lambda organization, student: grant_list(
        organization=stand_in(Organization, organization), student=stand_in(Student, student)
    ).prefetch_related(None),
    organization=int,
    student=int,
)
# The service types are read as values, each made into one instance however many grants it
# covers: a model per link and per service type was a fifth of the instances an hours page
# built (a student with 32 grants, docs/performance.md "The student's pages within 15×").
_SERVICE_TYPE_FIELDS = tuple(f.attname for f in ServiceType._meta.concrete_fields)
_grant_service_types_of = Compiled(
    lambda organization, student: (
        # Scoped by the grant's organization (the link's is the same, by its composite key):
        # a filter on the link's own would let a plan made without values (a prepared
        # statement's generic plan) start from every link of the center (docs/performance.md,
        # "Statements prepared per connection").
        GrantServiceType.objects.filter(grant__organization=organization, grant__student=student)
        .order_by("service_type__name", "pk")
        .values_list("grant_id", *(f"service_type__{name}" for name in _SERVICE_TYPE_FIELDS))
    ),
    organization=int,
    student=int,
)


def grants_of_student(*, organization: Organization, student: Student) -> list[Grant]:
    """`grant_list`, read: each grant with its service types by name, as its prefetch sets
    them (`grant.service_types.all()` queries nothing)."""
    if not compiled.available():
        return list(grant_list(organization=organization, student=student))
    grants, links = compiled.together(*grant_reads(organization=organization, student=student))
    return grants_with_service_types(grants, links)


def grant_reads(*, organization: Organization, student: Student) -> list[tuple[Compiled, Any]]:
    """`grants_of_student`'s two statements, for a page that sends them with others
    (`matchpal.compiled.together`; PostgreSQL only): `grants_with_service_types` reads their
    rows."""
    keys = {"organization": organization.pk, "student": student.pk}
    return [(_grants_of, keys), (_grant_service_types_of, keys)]


# An hours page lists every grant that can still be used and, of the others (used up, past
# their expiry or revoked), the last `PAST_GRANTS_SHOWN` in the list's order (the latest to
# expire); `?grants=all` lists them all (docs/ledger.md, "Pages"). A student who bought a
# package a month for years had every one of them on the page.
PAST_GRANTS_SHOWN = 10


def grants_shown(grants: Sequence[Grant], *, now: datetime, every: bool) -> tuple[list[Grant], int]:
    """The grants an hours page lists, in their order, and how many it leaves out."""
    past = [
        grant
        for grant in grants
        if grant.status != GrantStatus.ACTIVE
        or grant.used >= grant.total
        or (grant.expires_at is not None and grant.expires_at <= now)
    ]
    if every or len(past) <= PAST_GRANTS_SHOWN:
        return list(grants), 0
    left_out = {id(grant) for grant in past[:-PAST_GRANTS_SHOWN]}
    return [grant for grant in grants if id(grant) not in left_out], len(left_out)


def hours_reads(
    *, organization: Organization, student: Student, page: int, size: int | None = None
) -> tuple[list[Grant], list[dict[str, object]], ledger_history.History]:
    """What an hours page reads, in one round trip (`matchpal.compiled.together`; PostgreSQL
    only): the grants with their service types (`grants_of_student`), the holds
    (`holds_of_student`), and the history (`grants.history.History`) with its capped count and
    the rows of `page` (a number asked for, 1 and up; pages of `size`, `MATCHPAL_PAGE_SIZE`
    unless given) already read, so that paging it sends
    nothing more unless the number is past the last page. Six round trips were half of the
    page's time on a loaded machine."""
    size = size or settings.MATCHPAL_PAGE_SIZE
    offset = (page - 1) * size
    keys = {"organization": organization.pk, "student": student.pk}
    grant_rows, links, hold_rows, counted, page_rows = compiled.together(
        *grant_reads(organization=organization, student=student),
        holds_read(organization=organization, student=student),
        ledger_history.count_statement(**keys),
        ledger_history.page_statement(**keys, offset=offset, limit=size),
    )
    grants = grants_with_service_types(grant_rows, links)
    entries = ledger_history.History(organization=organization, student=student, grants=grants)
    ((count,),) = counted
    entries.prime(count=int(count), offset=offset, rows=page_rows)
    return grants, holds_from(hold_rows), entries


def grants_with_service_types(grants: list[Grant], links: list[Any]) -> list[Grant]:
    """The grants, each with its service types by name, from `grant_reads`' rows. Each
    grant's `service_types.all()` (and `Grant.covered`) gives them without a query; read it
    whole: filtered again, it gives nothing (a copy of an empty queryset with its rows set)."""
    covered: dict[int, list[ServiceType]] = {grant.pk: [] for grant in grants}
    service_types: dict[int, ServiceType] = {}
    for grant_id, *values in links:
        service_type = service_types.get(values[0])  # by its id, the first field
        if service_type is None:
            service_type = ServiceType.from_db(DEFAULT_DB_ALIAS, _SERVICE_TYPE_FIELDS, values)
            service_types[values[0]] = service_type
        # A grant made since the grants were read is not on this page.
        covered.setdefault(grant_id, []).append(service_type)
    # Each grant's prefetched queryset is a copy of one made here, not the grant's own
    # `service_types.all()`: a related manager and a filtered queryset per grant were a tenth
    # of an hours page's Python for a student with 66 grants. Its rows are set, so it never
    # runs its query.
    template = ServiceType.objects.none()
    for grant in grants:
        rows = copy.copy(template)
        rows._result_cache = covered[grant.pk]
        rows._prefetch_done = True  # type: ignore[attr-defined]
        grant._prefetched_objects_cache = {"service_types": rows}  # type: ignore[attr-defined]
    return grants


def grant_get(*, organization: Organization, public_id: uuid.UUID) -> Grant:
    grant = (
        Grant.objects.filter(organization=organization, public_id=public_id)
        .select_related("student", "package", "organization")
        .prefetch_related("service_types")
        .first()
    )
    if grant is None:
        raise Http404("No such grant.")
    return grant


@dataclass(frozen=True)
class Balance:
    """A student's hours of one service type and unit, over usable grants:
    `remaining` (not yet used) = `held` (reserved for relationships) + `available`.

    Pages say Total, Used, Reserved (`held`) and Free to book (`available`); the total is their
    sum, so hours that expired unused are not counted in it."""

    service_type: ServiceType
    unit: str
    remaining: int
    available: int
    held: int
    used: int

    @property
    def total(self) -> int:
        return self.used + self.held + self.available


def student_balances(*, student: Student, grants: Sequence[Grant] | None = None) -> list[Balance]:
    """Balances per service type and unit, from the grant columns (never the ledger).

    A grant covering several service types counts under each of them."""
    if grants is None:
        grants = list(Grant.objects.filter(student=student).prefetch_related("service_types"))
    now = timezone.now()
    sums: dict[tuple[int, str], list[Any]] = {}
    for grant in grants:
        usable = grant.is_usable(now)
        for st in grant.covered():
            row = sums.setdefault((st.pk, grant.unit), [st, 0, 0, 0, 0])
            if usable:
                row[1] += grant.total - grant.used
                row[2] += max(grant.available, 0)
            row[3] += grant.held
            row[4] += grant.used
    return [
        Balance(row[0], unit, row[1], row[2], row[3], row[4])
        for (_, unit), row in sorted(sums.items(), key=lambda kv: (kv[1][0].name, kv[0][1]))
    ]


def _holds(organization: Organization, student: Student) -> QuerySet[Any, Any]:
    return (
        # Scoped by the grant's organization, as `_grant_service_types_of` is.
        Allocation.objects.filter(grant__organization=organization, grant__student=student)
        .values(
            "relationship_id",
            "relationship__public_id",
            "relationship__provider__name",
            "relationship__service_type__name",
            "relationship__status",
            "grant__unit",
        )
        .annotate(held=Sum("held"), consumed=Sum("consumed"))
        .order_by("relationship__provider__name", "relationship_id")
    )


# Compiled once: the student's home and hours pages read it on every request.
_holds_compiled = Compiled(
    lambda organization, student: _holds(
        stand_in(Organization, organization), stand_in(Student, student)
    ),
    organization=int,
    student=int,
)


def holds_of_student(*, organization: Organization, student: Student) -> list[dict[str, object]]:
    """Each relationship's current hold: "Reserved for <provider>: 4 h 30 min"."""
    return holds_from(_holds_compiled.rows(organization=organization.pk, student=student.pk))


def holds_read(*, organization: Organization, student: Student) -> tuple[Compiled, Any]:
    """`holds_of_student`'s statement, for a page that sends it with others
    (`matchpal.compiled.together`); `holds_from` reads its rows."""
    return _holds_compiled, {"organization": organization.pk, "student": student.pk}


def holds_from(rows: list[Any]) -> list[dict[str, object]]:
    return [
        {
            "relationship_id": row["relationship_id"],
            "relationship_public_id": row["relationship__public_id"],
            "provider": row["relationship__provider__name"],
            "service_type": row["relationship__service_type__name"],
            "status": row["relationship__status"],
            "unit": row["grant__unit"],
            "held": row["held"],
            "consumed": row["consumed"],
        }
        for row in rows
        if row["held"]
    ]


def history(*, organization: Organization, student: Student) -> QuerySet[GrantEntry]:
    """The student's ledger, newest first. A page of it gets its "free to book after" column
    from `with_running`: no window over the whole history, so a page reads (and joins) only
    its own rows, through the paginator's ids."""
    return (
        GrantEntry.objects.filter(organization=organization, grant__student=student)
        .select_related("grant", "actor", "relationship__provider", "session")
        .order_by("-created_at", "-id")
    )


def usable_newer_than(
    *, organization: Organization, student: Student, entry: GrantEntry
) -> dict[str, int]:
    """What the student's entries after `entry` (in the history's order) changed in the usable
    balance, per unit: one grouped sum over the entries of the pages before it."""
    newer = GrantEntry.objects.filter(
        Q(created_at__gt=entry.created_at) | Q(created_at=entry.created_at, pk__gt=entry.pk),
        organization=organization,
        grant__student=student,
    )
    rows = newer.order_by().values_list("grant__unit").annotate(change=Sum("usable_delta"))
    return dict(rows)


def with_running(
    entries: Iterable[GrantEntry],
    *,
    grants: Sequence[Grant],
    newer: Mapping[str, int] | None = None,
) -> list[GrantEntry]:
    """Sets `running` on each of `entries` (a page of `history`, newest first): the usable
    balance of its unit after it, as on the balance cards (an expiry takes the grant's hours
    out, an extension puts them back).

    The balance after the newest entry of all is the grants' `usable_now` (the sum of every
    `usable_delta`); after an older one, that minus what the entries after it changed:
    `newer` (`usable_newer_than` the page's first entry; none for the first page), then each
    row of the page above it. So a page costs its own rows whatever the history's length."""
    balance: dict[str, int] = {}
    for grant in grants:
        balance[grant.unit] = balance.get(grant.unit, 0) + grant.usable_now
    for unit, change in (newer or {}).items():
        balance[unit] = balance.get(unit, 0) - change
    rows = list(entries)
    for entry in rows:
        unit = entry.grant.unit
        entry.running = balance.get(unit, 0)
        balance[unit] = entry.running - entry.usable_delta
    return rows


def page_with_running(
    page: "DjangoPage[GrantEntry]",
    *,
    organization: Organization,
    student: Student,
    grants: Sequence[Grant],
) -> None:
    """A page of `history` with its `running` column set (`with_running`): the first page
    starts from the grants' balance, a later one also takes out what the entries of the pages
    before it changed (one grouped sum over them)."""
    entries = list(page.object_list)
    newer = (
        usable_newer_than(organization=organization, student=student, entry=entries[0])
        if entries and page.number > 1
        else None
    )
    page.object_list = with_running(entries, grants=grants, newer=newer)


# `relationships.RelationshipStatus.PAIRED`, named here by value: the ledger reads relationships
# through its lazy references and never imports that app.
PAIRED = "paired"


def _free_to_book(organization: Organization, unit: str, now: datetime | None = None) -> Coalesce:
    """A student's Free to book of one unit: `available` summed over grants usable at `now`
    (this moment by default); 0 when all their grants of the unit are unusable (expired,
    revoked, not yet valid), None without any."""
    grants = Grant.objects.filter(organization=organization, student=OuterRef("pk"), unit=unit)
    usable = (
        grants.usable(at=now)
        .order_by()
        .values("student")
        .annotate(free=Sum(F("total") - F("used") - F("held")))
        .values("free")
    )
    any_grant = grants.order_by().annotate(zero=Value(0)).values("zero")[:1]
    return Coalesce(Subquery(usable), Subquery(any_grant))


def _lowest_reserve(organization: Organization) -> Subquery:
    """Minutes still reserved on the student's paired relationship (counting minutes) that has
    the fewest left; None without one."""
    return Subquery(
        Allocation.objects.filter(
            organization=organization,
            grant__student=OuterRef("pk"),
            grant__unit=Unit.MINUTES,
            relationship__status=PAIRED,
        )
        .order_by()
        .values("relationship_id")
        .annotate(reserved=Sum("held"))
        .order_by("reserved")
        .values("reserved")[:1]
    )


def with_balances(
    queryset: QuerySet[Student], *, organization: Organization, now: datetime | None = None
) -> "QuerySet[WithAnnotations[Student, Balances]]":
    """Each student with `free_minutes` and `free_sessions` (Free to book per unit, None
    without grants of that unit), `lowest_reserve` (minutes) and `low_balance`, all in the one
    query: the single definition of "low balance" (the admin home, the students list). Grants
    count as usable at `now`, this moment by default: a value, so that the statement may be
    compiled once (`students.selectors.student_page`).

    Low: an active student whose Free to book minutes fell below the organization's threshold,
    or one of whose paired relationships has fewer minutes reserved than the threshold. The
    threshold is in minutes: hours counted in sessions are not flagged."""
    threshold = organization.low_balance_threshold_minutes
    return queryset.annotate(
        free_minutes=_free_to_book(organization, Unit.MINUTES, now),
        free_sessions=_free_to_book(organization, Unit.SESSIONS, now),
        lowest_reserve=_lowest_reserve(organization),
    ).annotate(
        low_balance=ExpressionWrapper(
            Q(status=StudentStatus.ACTIVE)
            & (Q(free_minutes__lt=threshold) | Q(lowest_reserve__lt=threshold)),
            output_field=BooleanField(),
        )
    )


def student_is_low(*, student: Student, organization: Organization) -> bool:
    """Whether the student's hours are low, by `with_balances`' one definition (one query)."""
    return bool(
        with_balances(Student.objects.filter(pk=student.pk), organization=organization)
        .values_list("low_balance", flat=True)
        .first()
    )


def _low_reserve_students(organization: Organization) -> QuerySet[Any, Any]:
    """The ids of the students one of whose paired relationships has fewer minutes reserved
    than the threshold (their `_lowest_reserve` is below it): one grouped pass over the
    organization's holds on minutes grants."""
    # An allocation's grant and relationship are of its organization (composite keys): saying
    # so lets the joins read only this organization's rows.
    return (
        Allocation.objects.filter(
            organization=organization,
            grant__organization=organization,
            grant__unit=Unit.MINUTES,
            relationship__organization=organization,
            relationship__status=PAIRED,
        )
        .order_by()
        .values("relationship_id", "grant__student_id")
        .annotate(reserved=Sum("held"))
        .filter(reserved__lt=organization.low_balance_threshold_minutes)
        .values("grant__student_id")
    )


def _not_usable_minutes(organization: Organization) -> QuerySet[Any, Any]:
    """What each student's active minutes grants that are not usable at this moment have free
    (`off`): not valid yet, or past their expiry before the daily job marked them expired.
    Few grants, read through the partial index `grant_active_valid_from` and the index on
    (status, expires_at)."""
    now = timezone.now()
    return (
        Grant.objects.filter(
            Q(valid_from__gt=now) | Q(expires_at__lte=now),
            organization=organization,
            unit=Unit.MINUTES,
            status=GrantStatus.ACTIVE,
        )
        .order_by()
        .values("student_id")
        .annotate(off=Sum(F("total") - F("used") - F("held")))
    )


def _free_minutes_sql(organization: Organization) -> tuple[str, tuple[Any, ...]]:
    """Each student's Free to book minutes (`student_id`, `free`): their summary
    (`StudentBalance`, one narrow row per student: what their active grants have free) less
    `_not_usable_minutes`. Grouping every grant of the organization instead took 36 ms on the
    large center (docs/indexes.md).

    The rule is `with_balances`'s: `available` over usable grants, 0 when none is usable. A
    hold is on a minutes grant, so every flagged student has a summary: its free is their
    `free_minutes`, never None, and sorts as the admin home does."""
    summaries = StudentBalance.objects.filter(organization=organization, unit=Unit.MINUTES).values(
        "student_id", "active_available"
    )
    rows, rows_params = summaries.order_by().query.sql_with_params()
    off, off_params = _not_usable_minutes(organization).query.sql_with_params()
    # Only the ORM's own compiled SQL is interpolated; every value stays a parameter.
    sql = (
        "SELECT summary.student_id, summary.active_available - COALESCE(off.off, 0) AS free"  # noqa: S608
        f" FROM ({rows}) summary LEFT JOIN ({off}) off ON off.student_id = summary.student_id"
    )
    return sql, (*rows_params, *off_params)


def _first_flagged(organization: Organization, limit: int) -> RawSQL:
    """The ids of the first `limit` flagged students in the admin home's order: the active
    students by Free to book minutes, read in that order until `limit` are below the threshold
    or have a low reserve.

    A student flagged only by a low reserve has at least the threshold free, so sorts after
    every student below it: when `limit` students are below the threshold, the condition's
    first half decides every row read, and PostgreSQL never builds the holds' hashed subplan
    (62 to 75 ms of the list's 127 on the large center, docs/indexes.md). Asked as the grouped
    query's HAVING instead, the holds were summed on every request. The window function is
    what keeps the condition outside the numbered students (PostgreSQL does not push a
    condition into a query that numbers its rows), and their own order what lets the outer
    query read them in order rather than filter all of them, then sort. Derived tables are
    not something the ORM writes, hence the SQL around the compiled querysets."""
    free, free_params = _free_minutes_sql(organization)
    active = Student.objects.filter(organization=organization, status=StudentStatus.ACTIVE)
    names, names_params = active.order_by().values("id", "name").query.sql_with_params()
    holds, holds_params = _low_reserve_students(organization).query.sql_with_params()
    # Only the ORM's own compiled SQL is interpolated; every value stays a parameter.
    sql = (
        "SELECT by_free.student_id FROM ("  # noqa: S608
        " SELECT grouped.student_id, grouped.free, active.name, ROW_NUMBER() OVER"
        " (ORDER BY grouped.free, active.name, grouped.student_id) AS position"
        f" FROM ({free}) grouped JOIN ({names}) active ON active.id = grouped.student_id"
        " ORDER BY grouped.free, active.name, grouped.student_id"
        f") by_free WHERE by_free.free < %s OR by_free.student_id IN ({holds})"
        " ORDER BY by_free.free, by_free.name, by_free.student_id LIMIT %s"
    )
    threshold = organization.low_balance_threshold_minutes
    params = (*free_params, *names_params, threshold, *holds_params, limit)
    return RawSQL(sql, params)  # noqa: S611


def low_balance_list(
    *, organization: Organization, limit: int = 10
) -> "QuerySet[WithAnnotations[Student, Balances]]":
    """The flagged students (see `with_balances`), fewest minutes free to book first: one
    query. `_first_flagged` picks the students with grouped aggregates, and only those are
    annotated by `with_balances`, whose `low_balance` still decides. Annotating every active
    student instead cost a second and a half at 10,000 students (docs/indexes.md)."""
    students = Student.objects.filter(
        organization=organization,
        status=StudentStatus.ACTIVE,
        pk__in=_first_flagged(organization, limit),
    )
    return (
        with_balances(students, organization=organization)
        .filter(low_balance=True)
        .order_by(F("free_minutes").asc(nulls_last=True), "name", "id")[:limit]
    )


def low_balance_students(*, organization: Organization, limit: int = 10) -> list[Student]:
    """`low_balance_list`, read."""
    return list(low_balance_list(organization=organization, limit=limit))


RECENT_ENTRIES = 8
EXPIRING_DAYS = 14
EXPIRING_ROWS = 5


def recent_entries_query(
    *, organization: Organization, limit: int = RECENT_ENTRIES
) -> QuerySet[GrantEntry]:
    """The center's latest ledger entries, newest first, with their student: read in order
    through `grant_entry_org_created`, `limit` rows whatever the ledger's size."""
    return (
        GrantEntry.objects.filter(organization=organization)
        .select_related("grant__student", "actor")
        .order_by("-created_at", "-id")[:limit]
    )


def recent_entries(*, organization: Organization, limit: int = RECENT_ENTRIES) -> list[GrantEntry]:
    return list(recent_entries_query(organization=organization, limit=limit))


def expiring_grants(
    *, organization: Organization, days: int = EXPIRING_DAYS, limit: int = EXPIRING_ROWS
) -> tuple[int, list[Grant]]:
    """The active grants that expire within `days` from now (not already past their expiry),
    soonest first, with something left to lose (`available` or `held` above 0): how many (a
    subquery of the same query), and the first `limit` with their student. Read through the
    partial index `grant_active_expires`: the grants of that window only."""
    now = timezone.now()
    grants = Grant.objects.filter(
        Q(total__gt=F("used")),
        organization=organization,
        status=GrantStatus.ACTIVE,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=days),
    )
    # The count as an uncorrelated subquery (computed once, through the index) beside the
    # first rows read in order: a window count would join every grant of the window to its
    # student before cutting to `limit`.
    count = grants.order_by().values("organization").annotate(n=Count("pk")).values("n")
    rows = list(
        grants.select_related("student")
        .annotate(in_window=Subquery(count))
        .order_by("expires_at", "id")[:limit]
    )
    return (getattr(rows[0], "in_window", 0) if rows else 0), rows


def holding_relationship(*, organization: Organization, public_id: uuid.UUID) -> Any:
    """A relationship of the organization that has allocations, found through the ledger's
    lazy reference (the grants app never imports the relationships app)."""
    allocation = (
        Allocation.objects.filter(organization=organization, relationship__public_id=public_id)
        .select_related("relationship__student", "relationship__provider")
        .first()
    )
    if allocation is None:
        raise Http404("No such hold.")
    return allocation.relationship


def consumed_for_session(*, session: "SessionLike") -> dict[int, int]:
    """What a session has consumed, net of restores, per grant id."""
    rows = (
        GrantEntry.objects.filter(session_id=session.pk, allocation__isnull=False)
        .values("grant_id")
        .annotate(net=Sum("used_delta"))
        .order_by()
    )
    return {row["grant_id"]: row["net"] for row in rows if row["net"]}


def session_grants_not_valid_on(*, session: Any, at: datetime) -> list[Grant]:
    """Of the grants a session consumed from (net of restores), those not valid on `at`'s day
    in the organization's time zone: as `services.consume` decides it (valid from before that
    day ends, not expired at `at`), whatever the grant's status since."""
    consumed = consumed_for_session(session=session)
    grants = Grant.objects.filter(pk__in=list(consumed)).select_related("organization")
    not_valid = []
    for grant in grants:
        if grant.valid_from > end_of_day(at, grant.organization.tz) or grant.is_past_expiry(at):
            not_valid.append(grant)
    return not_valid


# --- For the shop: what order fulfilment reads of the ledger --------------------------------


def grant_get_for_update(*, grant_id: int) -> Grant:
    """The grant, locked until the caller's transaction ends, so that what it has free to book
    cannot shrink (a hold, a session) before the caller acts on it."""
    return Grant.objects.select_for_update(of=("self",)).get(pk=grant_id)


def grant_credited(*, grant: Grant) -> int:
    """What the grant was credited when it was made (a package's size when it was sold),
    whatever has been adjusted, used or refunded since."""
    credited = GrantEntry.objects.filter(grant=grant, kind=EntryKind.CREDIT).aggregate(
        n=Sum("total_delta")
    )["n"]
    return credited or 0


def package_for_shop_keys(
    *, organization_id: int, keys: Sequence[tuple[str, str]]
) -> Package | None:
    """The package mapped to the first of the shop's `keys` ((kind, value), most specific
    first) that has a mapping in the organization, or None."""
    mappings = {
        (m.kind, m.value): m.package
        for m in PackageShopMapping.objects.filter(
            organization_id=organization_id,
            kind__in=[kind for kind, _ in keys],
            value__in=[value for _, value in keys],
        ).select_related("package")
    }
    return next((mappings[key] for key in keys if key in mappings), None)


def next_usable_change(*, organization: Organization, after: datetime) -> datetime | None:
    """The first moment after `after` at which an active grant of the organization becomes
    valid or expires: until then the same grants are usable (`usable_condition`), so whatever is
    read of the usable grants stays true with no write. One statement, two reads of the first
    row of the partial indexes `grant_active_valid_from` and `grant_active_expires`."""
    active = Grant.objects.filter(organization=organization, status=GrantStatus.ACTIVE)
    starts = active.filter(valid_from__gt=after).order_by("valid_from").values("valid_from")[:1]
    ends = active.filter(expires_at__gt=after).order_by("expires_at").values("expires_at")[:1]
    moments = (
        Organization.objects.filter(pk=organization.pk)
        .order_by()
        .values_list(Subquery(starts), Subquery(ends))
        .get()
    )
    found = [moment for moment in moments if moment is not None]
    return min(found) if found else None
