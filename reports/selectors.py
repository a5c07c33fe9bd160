"""Read-only figures for the role dashboards. Fixed query counts whatever the data size."""

from datetime import datetime
from typing import Any, TypedDict

from django.db.models import (
    Aggregate,
    Count,
    IntegerField,
    Model,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from grants import history as ledger_history
from grants import selectors as ledger
from integrations.woocommerce import selectors as shop
from matchpal.compiled import Compiled, stand_in, together
from matchpal.models import Membership, Organization, Role
from matchpal.selectors import pending_invitations
from providers.models import Provider, ProviderStatus
from relationships import selectors as relationships
from relationships.models import RelationshipStatus
from sessions_app import selectors as sessions
from sessions_app.models import Session
from students.models import ChargedTotal, Student, StudentStatus

ATTENTION_ROWS = 5


class AttentionFigures(TypedDict):
    disputed: int
    to_log: int
    proposals: int
    open_order_errors: int


def _scalar(rows: QuerySet[Any], aggregate: Aggregate) -> Coalesce:
    """One aggregate over `rows`, as a subquery answering one value (0 without rows)."""
    grouped = rows.order_by().values("organization").annotate(value=aggregate).values("value")
    return Coalesce(Subquery(grouped, output_field=IntegerField()), Value(0))


def _proposals(*, organization: Organization, membership: Membership) -> QuerySet[Any]:
    return relationships.relationship_list(organization=organization, membership=membership).filter(
        status=RelationshipStatus.PROPOSED
    )


def attention_figures(
    *, organization: Organization, membership: Membership, now: datetime | None = None
) -> "QuerySet[Organization, AttentionFigures]":
    """The admin home's "Needs attention" counts in one query, each its own subquery reading
    only the rows it counts through an index (docs/indexes.md): the open disputes (the partial
    index `session_dispute_open`), the sessions to log (scheduled, by status and start), the
    proposals awaiting an answer and the open shop order errors. Never one aggregate over every
    session of the organization."""
    visible = sessions.session_list(organization=organization, membership=membership)
    return (
        Organization.objects.filter(pk=organization.pk)
        .order_by()
        .values(
            disputed=_scalar(visible.filter(sessions.dispute_open()), Count("pk")),
            to_log=_scalar(_to_log(organization, membership, now), Count("pk")),
            proposals=_scalar(
                _proposals(organization=organization, membership=membership), Count("pk")
            ),
            open_order_errors=_scalar(shop.open_errors(organization=organization), Count("pk")),
        )
    )


def _to_log(
    organization: Organization, membership: Membership, now: datetime | None = None
) -> QuerySet[Session]:
    """The sessions past their start (at `now`, this moment by default) still to log that the
    member sees: "Needs attention"'s count."""
    visible = sessions.session_list(organization=organization, membership=membership)
    # A session's relationship is of its organization (a composite key): saying so lets the
    # figure that joins relationships read only this organization's, through an index.
    joined = visible.filter(relationship__organization=organization)
    return joined.filter(sessions.due_to_log(now))


def _as_admin(organization: int) -> dict[str, Any]:
    """The selectors' arguments for an admin of the organization, as stand-ins."""
    return {
        "organization": stand_in(Organization, organization),
        "membership": stand_in(Membership, 0, organization_id=organization, role=Role.ADMIN),
    }


# The admin's count of `_to_log`, compiled once: the part of the admin home that changes with
# every session's start (reports.home_cache).
_admin_to_log = Compiled(
    lambda organization, now: (
        _to_log(**_as_admin(organization), now=now)
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    ),
    organization=int,
    now=datetime,
)


def admin_to_log_count(*, organization: Organization, now: datetime) -> int:
    """How many sessions of the center are past their start at `now` and still to log (the
    admin's `attention_figures`' `to_log`), one compiled statement."""
    rows = _admin_to_log.rows(organization=organization.pk, now=now)
    return int(rows[0]["n"]) if rows else 0


def _attention(
    organization: Organization, membership: Membership, now: datetime | None = None
) -> tuple[QuerySet[Any], QuerySet[Any], QuerySet[Any]]:
    """`needs_attention`'s three statements: the first proposals, the first disputed sessions,
    and every count (`attention_figures`), with the sessions to log at `now`."""
    visible = sessions.session_list(organization=organization, membership=membership)
    proposals = _proposals(organization=organization, membership=membership)
    return (
        proposals.order_by("respond_by", "id")[:ATTENTION_ROWS],
        visible.filter(sessions.dispute_open()).order_by("-disputed_at", "-id")[:ATTENTION_ROWS],
        attention_figures(organization=organization, membership=membership, now=now),
    )


# An admin's `_attention`, compiled once and sent in one round trip (the admin home, the
# admins' daily digest): the two lists take the organization, the counts the moment too.
_admin_proposals, _admin_disputed = (
    Compiled(lambda organization, i=i: _attention(**_as_admin(organization))[i], organization=int)
    for i in range(2)
)
_admin_attention_figures = Compiled(
    lambda organization, now: _attention(**_as_admin(organization), now=now)[2],
    organization=int,
    now=datetime,
)


def needs_attention(*, organization: Organization, membership: Membership) -> dict[str, object]:
    """What an admin should look at today: proposals still unanswered, disputed sessions,
    sessions past their start that nobody logged and open shop order errors. Three statements
    whatever the amount of data, each through an index: the first proposals, the first
    disputed sessions, and every count (`attention_figures`); an admin's, compiled once and
    sent in one round trip."""
    if membership.is_admin:
        org = {"organization": organization.pk}
        proposals, disputed, (counts,) = together(
            (_admin_proposals, org),
            (_admin_disputed, org),
            (_admin_attention_figures, {**org, "now": timezone.now()}),
        )
    else:
        rows, first_disputed, figures = _attention(organization, membership)
        proposals, disputed, counts = list(rows), list(first_disputed), figures.get()
    return {
        "proposals": proposals,
        "proposal_count": counts["proposals"],
        "disputed": disputed,
        "disputed_count": counts["disputed"],
        "to_log": counts["to_log"],
        "open_order_errors": counts["open_order_errors"],
    }


def center_counts(*, organization: Organization) -> dict[str, Any]:
    """The admin home's head counts in one query, each its own subquery: students active,
    inactive and active without a login; providers active and without a login; members per
    role; pending invitations. (Five queries before, one per table and the invitations.)"""
    students = Student.objects.filter(organization=organization)
    providers = Provider.objects.filter(organization=organization)
    members = Membership.objects.filter(organization=organization)
    count = Count("pk")
    figures = {
        "students_active": _scalar(students.filter(status=StudentStatus.ACTIVE), count),
        "students_inactive": _scalar(students.filter(status=StudentStatus.INACTIVE), count),
        "students_without_login": _scalar(
            students.filter(status=StudentStatus.ACTIVE, user__isnull=True), count
        ),
        "providers_active": _scalar(providers.filter(status=ProviderStatus.ACTIVE), count),
        "providers_without_login": _scalar(
            providers.filter(status=ProviderStatus.ACTIVE, user__isnull=True), count
        ),
        **{f"members_{role}": _scalar(members.filter(role=role), count) for role in Role.values},
        "pending_invitations": _scalar(pending_invitations(organization=organization), count),
    }
    counts = Organization.objects.filter(pk=organization.pk).order_by().values(**figures)
    row: dict[str, Any] = dict(counts.get())
    return {
        "students": {
            "active": row["students_active"],
            "inactive": row["students_inactive"],
            "without_login": row["students_without_login"],
        },
        "providers": {
            "active": row["providers_active"],
            "without_login": row["providers_without_login"],
        },
        "members": {role: row[f"members_{role}"] for role in Role.values},
        "pending_invitations": row["pending_invitations"],
    }


NEWEST_STUDENTS = 5


def newest_students(*, organization: Organization) -> list[Student]:
    """The admin home's newest students, newest first."""
    return list(
        Student.objects.filter(organization=organization).order_by("-created_at")[:NEWEST_STUDENTS]
    )


def _earnings(rows: list[Any]) -> dict[str, object]:
    this_week, this_month = sessions.earnings_of(rows, 2)
    return {
        "week_minutes": this_week.minutes,
        "week_earnings": this_week.amount,
        "month_minutes": this_month.minutes,
        "month_earnings": this_month.amount,
    }


def _as_provider(organization: int, user: int) -> dict[str, Any]:
    """The selectors' arguments for the provider with login `user`, as stand-ins."""
    return {
        "organization": stand_in(Organization, organization),
        "membership": stand_in(
            Membership, 0, organization_id=organization, user_id=user, role=Role.PROVIDER
        ),
    }


PROVIDER_TO_LOG = 20

# The provider home's lists, compiled once (docs/performance.md, "The homes").
#
# The proposals, "My students", the requests and "Coming up" read only what their rows show
# (`relationship_tags.proposal_row` and `paired_row`, `session_tags.request_row` and
# `coming_up_row`), the relationships as values (`relationships.Pairing`): the whole
# relationship with its student, provider and service type was four instances of every column
# a row, most of the home's Python for the provider with the most pairings
# (docs/performance.md, "The pairing's page and the homes' rows").


def _shown_relationships(rows: QuerySet[Any]) -> QuerySet[Any]:
    """As values (`relationships.pairings` makes them `Pairing`s)."""
    return rows.values_list(*relationships.PAIRING_FIELDS)


def _shown_sessions_of_provider(rows: QuerySet[Session]) -> QuerySet[Any]:
    """As values (`sessions.home_lines` makes them `HomeSession`s)."""
    return rows.values_list(*sessions.HOME_LINE_FIELDS)


_provider_proposals = Compiled(
    lambda organization, user: _shown_relationships(
        relationships.proposals_for_provider(**_as_provider(organization, user))
    ),
    organization=int,
    user=int,
)
_provider_paired = Compiled(
    lambda organization, user: _shown_relationships(
        relationships.paired_for_provider(**_as_provider(organization, user))
    ),
    organization=int,
    user=int,
)
_provider_to_log = Compiled(
    lambda organization, user, now: sessions.to_log(**_as_provider(organization, user), now=now)[
        :PROVIDER_TO_LOG
    ],
    organization=int,
    user=int,
    now=datetime,
)
_provider_requests = Compiled(
    lambda organization, user: _shown_sessions_of_provider(
        sessions.requests_query(**_as_provider(organization, user))
    ),
    organization=int,
    user=int,
)
_provider_earnings = Compiled(
    lambda organization, user, week, month, since: sessions.earnings_rows(
        **_as_provider(organization, user), starts=[week, month], since=since
    ),
    organization=int,
    user=int,
    week=datetime,
    month=datetime,
    since=datetime,
)
_provider_coming_up = Compiled(
    lambda organization, user, now: _shown_sessions_of_provider(
        sessions.coming_up_query(**_as_provider(organization, user), now=now)
    ),
    organization=int,
    user=int,
    now=datetime,
)


def provider_dashboard(*, organization: Organization, membership: Membership) -> dict[str, object]:
    week, month = sessions.week_and_month_starts(organization)
    keys = {"organization": organization.pk, "user": membership.user_id}
    now = timezone.now()
    # The six lists in one round trip: none depends on another's rows.
    proposals, paired, to_log, requests, upcoming, earnings = together(
        (_provider_proposals, keys),
        (_provider_paired, keys),
        (_provider_to_log, {**keys, "now": now}),
        (_provider_requests, keys),
        (_provider_coming_up, {**keys, "now": now}),
        (_provider_earnings, {**keys, "week": week, "month": month, "since": min(week, month)}),
    )
    # The sessions' rows leave the organization out of their join: it is the request's own.
    return {
        "proposals": relationships.pairings(proposals),
        "paired": relationships.pairings(paired),
        "to_log": sessions.with_organization(to_log, organization),
        # Booking requests stand above the confirmed sessions (docs/scheduling.md).
        "requests": sessions.home_lines(requests),
        "upcoming": sessions.home_lines(upcoming),
        **_earnings(earnings),
    }


STUDENT_SESSIONS = 20


def _sessions_of_student_user(organization: int, user: int) -> QuerySet[Session]:
    """`session_rows` as the student with login `user` sees it (built with stand-ins): not
    joined to the organization, which `student_sessions` sets from the request's (a six-table
    join planned on every request, as the sessions list's was)."""
    return sessions.session_rows(
        organization=stand_in(Organization, organization),
        membership=stand_in(Membership, 0, user_id=user, role=Role.STUDENT),
    )


# What the home's session rows read (`session_tags.student_session_row`, `session_actions`
# for a student, `_with_running`): the relationship's student is joined to find the student's
# sessions, not read.
HOME_SESSION_FIELDS = (
    "public_id",
    "starts_at",
    "status",
    "charged_minutes",
    "student_confirmed_at",
    "disputed_at",
    "dispute_resolved_at",
    "relationship__unit",
    "relationship__provider__name",
    "relationship__service_type__name",
)

# The student home's two statements, compiled once (docs/performance.md, "The homes"). The
# shown rows read only HOME_SESSION_FIELDS (and the keys): the whole session, relationship,
# student, provider and service type were about a hundred and fifty columns a row, each
# converted and set on an instance, for eleven the page writes.
_shown_sessions = Compiled(
    lambda organization, user: (
        _sessions_of_student_user(organization, user)
        .select_related(None)
        .select_related("relationship__provider", "relationship__service_type")
        .only(*HOME_SESSION_FIELDS)[:STUDENT_SESSIONS]
    ),
    organization=int,
    user=int,
)
_used_before = Compiled(
    lambda organization, user, starts_at, pk: (
        _sessions_of_student_user(organization, user)
        .filter(Q(starts_at__lt=starts_at) | Q(starts_at=starts_at, pk__lt=pk))
        .order_by()
        .values_list("relationship__unit")
        .annotate(used=Sum("charged_minutes"))
    ),
    organization=int,
    user=int,
    starts_at=datetime,
    pk=int,
)


# The same rows for the home on PostgreSQL (`student_home`; a LATERAL join is PostgreSQL's),
# cut to the shown ones first, by id (`_NEWEST_OF_STUDENT`), and only those are joined: sorted
# after the join, every session of the student was joined to its provider and service type
# first under the statement's generic plan (309 sessions, 1.7 ms, on the large center's
# busiest student). `tests/reports/test_home_running_total.py` compares it with
# `_shown_sessions`.
_NEWEST_OF_STUDENT = f"""
SELECT newest.id FROM relationships_relationship r
JOIN students_student st ON st.id = r.student_id
CROSS JOIN LATERAL (
    SELECT s.id, s.starts_at FROM sessions_app_session s
    WHERE s.relationship_id = r.id
    ORDER BY s.starts_at DESC, s.id DESC LIMIT {STUDENT_SESSIONS}
) newest
WHERE st.user_id = %s AND r.organization_id = %s
ORDER BY newest.starts_at DESC, newest.id DESC LIMIT {STUDENT_SESSIONS}
"""  # noqa: S608 (a constant; every value is bound)
_newest_shown = Compiled(
    lambda organization, user: (
        # The STUDENT_SESSIONS newest of each of the student's relationships, through the
        # sessions' (relationship, starts_at) index, then the newest of those: at most that
        # many sessions read per relationship, however long its history. Only those ids are
        # looked up (joined to the student again, the planner walked every session of the
        # student's relationships to find them).
        Session.objects.filter(
            organization_id=organization,
            pk__in=RawSQL(_NEWEST_OF_STUDENT, (user, organization)),  # noqa: S611
        )
        .select_related("relationship__provider", "relationship__service_type")
        .only(*HOME_SESSION_FIELDS)
        .order_by("-starts_at", "-id")[:STUDENT_SESSIONS]
    ),
    organization=int,
    user=int,
)


def student_sessions(
    *, organization: Organization, membership: Membership, limit: int = STUDENT_SESSIONS
) -> list[Session]:
    """The student's recent sessions, newest first, with the running total of hours used
    (`running`: used by this session and every one before it, in order of start).

    One total per unit: `charged_minutes` holds minutes for a relationship counting minutes but
    whole sessions for one counting sessions, and the two never add up.

    Two queries, neither over more than the student's own sessions: the shown rows (joined
    and built, `limit` of them), and one grouped sum of the narrow `charged_minutes` of the
    sessions before the oldest shown; each shown row adds its charge to that. (A window over
    every session of the student joined and sorted all of them, wide rows, before the cut.)
    The home's own cut (`STUDENT_SESSIONS`) runs the two statements compiled once.
    """
    keys = {"organization": organization.pk, "user": membership.user_id}
    compiled = membership.is_student and limit == STUDENT_SESSIONS
    if compiled:
        rows = sessions.with_organization(_shown_sessions.rows(**keys), organization)
    else:
        visible = sessions.session_list(organization=organization, membership=membership)
        rows = list(visible.order_by("-starts_at", "-id")[:limit])
    if not rows:
        return rows
    oldest = rows[-1]
    if compiled:
        before = _used_before.rows(**keys, starts_at=oldest.starts_at, pk=oldest.pk)
    else:
        before = list(
            visible.filter(
                Q(starts_at__lt=oldest.starts_at) | Q(starts_at=oldest.starts_at, pk__lt=oldest.pk)
            )
            .order_by()
            .values_list("relationship__unit")
            .annotate(used=Sum("charged_minutes"))
        )
    return _with_running(rows, before)


# What the student's sessions were charged in all, per unit (`students.ChargedTotal`, kept by
# PostgreSQL in the transaction of every session's write), for the home's own cut: the sessions
# before the shown ones used that less what the shown ones did (`_before_shown`). A sum over
# every older session (found through the student's relationships, three times: the oldest
# shown row's start and id, then the sum) grew with the student's history: 1.5 ms for 309
# sessions on the large center, against 0.05 for a student of a small one (docs/performance.md,
# "The student home's running total from a kept sum").
_charged_in_all = Compiled(
    lambda organization, student: ChargedTotal.objects.filter(
        organization_id=organization, student_id=student
    ).values_list("unit", "charged"),
    organization=int,
    student=int,
)


def _before_shown(charged: list[Any], shown: list[Session]) -> list[tuple[str, int]]:
    """What the sessions before the shown ones used, per unit (as `_used_before` sums it): all
    the student's sessions were charged `charged` (`_charged_in_all`'s rows); the shown ones
    are the newest, so every other session comes before them."""
    used: dict[str, int] = dict(charged)
    for row in shown:
        unit = row.relationship.unit
        used[unit] = used.get(unit, 0) - row.charged_minutes
    return list(used.items())


def _with_running(rows: list[Session], before: list[Any]) -> list[Session]:
    """Sets `running` on the shown rows (newest first): what the sessions before the oldest
    used (`before`, per unit), then each row's charge, oldest first."""
    used: dict[str, int] = dict(before)
    for row in reversed(rows):
        unit = row.relationship.unit
        used[unit] = used.get(unit, 0) + row.charged_minutes
        row.running = used[unit]
    return rows


def _newest[Row: Model](rows: QuerySet[Row], limit: int) -> QuerySet[Row]:
    """The first `limit` of `rows` in their order, read by id as the paginator does (docs/
    lists.md): the sort walks the table alone, and only those rows are joined and built."""
    return rows.filter(pk__in=rows.values("pk")[:limit])


HOME_HISTORY = 10

# The newest entries of the student's ledger, as `ledger.history` joins them (off PostgreSQL).
_home_history = Compiled(
    lambda organization, student: _newest(
        ledger.history(
            organization=stand_in(Organization, organization),
            student=stand_in(Student, student),
        ),
        HOME_HISTORY,
    ),
    organization=int,
    student=int,
)


def student_dashboard(*, organization: Organization, student: Student) -> dict[str, object]:
    grants = ledger.grants_of_student(organization=organization, student=student)
    if ledger_history.available():
        # The hours pages' statement (the page's rows and their running balance in one, the
        # six-table join not planned per request), its first HOME_HISTORY rows, uncounted.
        entries = ledger_history.History(organization=organization, student=student, grants=grants)
        history = entries[:HOME_HISTORY]
    else:
        rows = _home_history.rows(organization=organization.pk, student=student.pk)
        # The newest entries: their running balance starts from the grants' own.
        history = ledger.with_running(rows, grants=grants)
    return {
        "student": student,
        "balances": ledger.student_balances(student=student, grants=grants),
        "holds": ledger.holds_of_student(organization=organization, student=student),
        "history": history,
    }


def student_home(
    *, organization: Organization, membership: Membership, student: Student
) -> dict[str, object]:
    """The student home's context: `student_dashboard` and the sessions (`student_sessions`).
    On PostgreSQL its six statements (the grants and their service types, a page of the
    history, the holds, the shown sessions and what the student's sessions were charged in all)
    go in one round trip (`matchpal.compiled.together`): none needs another's rows."""
    if not ledger_history.available():
        context = student_dashboard(organization=organization, student=student)
        context["sessions"] = student_sessions(organization=organization, membership=membership)
        return context
    people = {"organization": organization.pk, "user": membership.user_id}
    grant_rows, links, history_rows, hold_rows, shown, charged = together(
        *ledger.grant_reads(organization=organization, student=student),
        ledger_history.first_page_statement(
            organization=organization.pk, student=student.pk, limit=HOME_HISTORY
        ),
        ledger.holds_read(organization=organization, student=student),
        (_newest_shown, people),
        (_charged_in_all, {"organization": organization.pk, "student": student.pk}),
    )
    grants = ledger.grants_with_service_types(grant_rows, links)
    entries = ledger_history.History(organization=organization, student=student, grants=grants)
    return {
        "student": student,
        "balances": ledger.student_balances(student=student, grants=grants),
        "holds": ledger.holds_from(hold_rows),
        "history": entries.entries(history_rows),
        "sessions": _with_running(
            sessions.with_organization(shown, organization), _before_shown(charged, shown)
        ),
    }
