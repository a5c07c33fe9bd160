"""Each list page's main query (the sessions lists of each role, the relationships list, a
student's hours history, the warning-sign lists), and the admin home's, reads sessions,
relationships and ledger entries through an index (docs/indexes.md). On a few thousand rows
generated for organization A beside five times as many of B's (tests/scale.py), then ANALYZEd,
the plan of the queryset the view builds (its selector, filtered as its filter form does, its
first page) has no sequential scan of those tables: one would read every organization's rows,
and grow with them."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.http import QueryDict
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from grants.selectors import history, low_balance_list, recent_entries_query
from matchpal.models import Membership, Organization, Role
from providers import selectors as provider_selectors
from providers.models import Provider
from relationships.filters import RelationshipFilter
from relationships.models import Relationship
from relationships.selectors import relationship_list
from reports import dashboard
from reports.selectors import attention_figures
from sessions_app import checkin
from sessions_app import selectors as sessions
from sessions_app.filters import SessionFilter
from sessions_app.models import Session
from students.models import Student
from tests.scale import Sizes, analyze, fill
from tests.support import NOW, Tenant

TABLES = ("sessions_app_session", "relationships_relationship", "grants_grantentry")
PAGE = 25


@pytest.fixture
def center(tenant_a: Tenant, tenant_b: Tenant) -> Tenant:
    for tenant, scale in ((tenant_a, 1), (tenant_b, 5)):
        org = tenant.organization
        fill(
            organization_id=org.pk,
            slug=org.slug,
            sizes=Sizes(students=400 * scale, providers=40 * scale, sessions=2000 * scale),
            now=NOW,
        )
    # The persona's provider takes over one generated provider's pairings and their sessions,
    # leaving that one without any.
    generated = Provider.objects.filter(
        organization=tenant_a.organization, name__startswith="Generated"
    ).first()
    Relationship.objects.filter(provider=generated).update(provider=tenant_a.provider)
    # A session carries its relationship's provider (the key `session_relationship_provider`).
    Session.objects.filter(calendar_provider=generated).update(calendar_provider=tenant_a.provider)

    analyze()
    return tenant_a


# The lists whose page is read in their order from an index, and cut after PAGE rows: a Sort
# there would read every row of the organization first. (Filtered by a student or a provider,
# the few rows are found through their relationships and sorted; a provider's own list has
# its index, `session_org_provider_starts`.)
ORDERED = {
    "sessions list",
    "sessions, by status",
    "sessions, by kind",
    "sessions, by dates",
    "sessions list of a provider",
    "relationships list",
    "relationships, by status",
    "admin home disputed list",
    "admin home proposals list",
    "admin home recent transactions",
    "warning list keys: short",
    "warning list keys: long_gap",
    "check-in list keys",
}
# (The irregular pairings' keys are read in order at scale, docs/indexes.md; on these few
# rows, none of them irregular, the planner rightly takes the variation's index and sorts.)


# The lists of one person's sessions, read through their relationships (an index on
# `relationship_id`), never by walking the organization's sessions in order looking for them.
THROUGH_RELATIONSHIPS = {
    "sessions, by student",
    "sessions, by provider",
    "sessions, by a provider without sessions",
    "sessions list of a student",
}


def problems(name: str, queryset: QuerySet[Any, Any]) -> list[str]:
    """The plan's sequential scans of the big tables, its sorts where the order should come
    from an index, and a person's sessions not read through their relationships."""
    plan = queryset.explain()
    lines = [line.strip() for line in plan.splitlines()]
    found = seq_scans(plan)
    if name in ORDERED:
        found += [line for line in lines if "Sort Key:" in line]
    if name in THROUGH_RELATIONSHIPS and not any(
        "on sessions_app_session" in line and "relatio" in line for line in lines
    ):
        found += ["the sessions are not read through their relationships:", *lines]
    return found


def seq_scans(plan: str) -> list[str]:
    return [
        line.strip()
        for line in plan.splitlines()
        if "Seq Scan on" in line and any(f"Seq Scan on {table}" in line for table in TABLES)
    ]


def membership(tenant: Tenant, role: Role) -> Membership:
    user = {
        Role.ADMIN: tenant.admin,
        Role.PROVIDER: tenant.provider_user,
        Role.STUDENT: tenant.student_user,
    }[role]
    return Membership.objects.get(user=user, organization=tenant.organization)


def generated_student(tenant: Tenant) -> Student:
    return Student.objects.filter(
        organization=tenant.organization, name__startswith="Generated", relationships__isnull=False
    ).first()


def session_page(tenant: Tenant, role: Role = Role.ADMIN, **params: str) -> QuerySet[Any, Any]:
    data = QueryDict(mutable=True)
    data.update(params)
    member = membership(tenant, role)
    filterset = SessionFilter(
        data,
        organization=tenant.organization,
        membership=member,
        # As the view reads it.
        queryset=sessions.session_rows(organization=tenant.organization, membership=member),
    )
    assert filterset.is_valid(), filterset.errors
    return filterset.qs[:PAGE]


def relationship_page(tenant: Tenant, **params: str) -> QuerySet[Any, Any]:
    data = QueryDict(mutable=True)
    data.update(params)
    admin = membership(tenant, Role.ADMIN)
    filterset = RelationshipFilter(
        data,
        organization=tenant.organization,
        membership=admin,
        # As the view orders it.
        queryset=relationship_list(organization=tenant.organization, membership=admin).order_by(
            "-created_at", "-id"
        ),
    )
    assert filterset.is_valid(), filterset.errors
    return filterset.qs[:PAGE]


def a_provider(tenant: Tenant) -> str:
    return str(tenant.provider.public_id)


def provider_without_sessions(tenant: Tenant) -> str:
    """The generated provider who gave their pairings to the persona's (see `center`)."""
    provider = Provider.objects.filter(
        organization=tenant.organization, name__startswith="Generated", relationships=None
    ).first()
    assert provider is not None
    return str(provider.public_id)


def admin_home(tenant: Tenant) -> QuerySet[Any, Any]:
    return attention_figures(
        organization=tenant.organization, membership=membership(tenant, Role.ADMIN)
    )


def disputed(tenant: Tenant) -> QuerySet[Any, Any]:
    visible = sessions.session_list(
        organization=tenant.organization, membership=membership(tenant, Role.ADMIN)
    )
    return visible.filter(sessions.dispute_open()).order_by("-disputed_at", "-id")[:5]


def proposals(tenant: Tenant) -> QuerySet[Any, Any]:
    """As `reports.selectors.needs_attention` lists them: soonest deadline first."""
    return (
        relationship_list(
            organization=tenant.organization, membership=membership(tenant, Role.ADMIN)
        )
        .filter(status="proposed")
        .order_by("respond_by", "id")[:5]
    )


def warning_list(sign: str) -> Callable[[Tenant], QuerySet[Any, Any]]:
    """A warning sign's list page, its first page (`reports.views.warning_list`, read as
    `paginate_by_ids` reads it: the rows of the page's keys, taken from the summary)."""

    def page(tenant: Tenant) -> QuerySet[Any, Any]:
        org = tenant.organization
        listed = dashboard.sign_list(org, sign, dashboard.Thresholds.of(org))
        return listed.rows.filter(pk__in=listed.ids[:PAGE])

    return page


def warning_count(sign: str) -> Callable[[Tenant], QuerySet[Any, Any]]:
    """A warning sign's list page, its capped count: the summary's keys alone."""

    def count(tenant: Tenant) -> QuerySet[Any, Any]:
        org = tenant.organization
        return dashboard.sign_list(org, sign, dashboard.Thresholds.of(org)).ids.order_by()[:10_001]

    return count


def warning_keys(sign: str) -> Callable[[Tenant], QuerySet[Any, Any]]:
    """A warning sign's list page, its first page's keys: read in the list's order from the
    summary's index (`pairing_paired_last_order`, `short_session_starts_id`), no sort."""

    def keys(tenant: Tenant) -> QuerySet[Any, Any]:
        org = tenant.organization
        return dashboard.sign_list(org, sign, dashboard.Thresholds.of(org)).ids[:PAGE]

    return keys


def check_in_keys(tenant: Tenant) -> QuerySet[Any, Any]:
    """The admin's check-in list, its keys (`checkin.check_in_rows` reads them first): the
    open check-ins in start order from `session_org_check_in_open`."""
    listed = checkin.open_check_ins(tenant.organization.pk, NOW)
    return listed.values("pk")[: checkin.CHECK_IN_ROWS + 1]


def warning_counts(tenant: Tenant) -> QuerySet[Any, Any]:
    """The admin home's warning signs, each counted in its subquery of one query."""
    org = tenant.organization
    limits = dashboard.Thresholds.of(org)
    figures = {
        sign: dashboard._count(dashboard.sign_rows(org, sign, limits)) for sign in dashboard.SIGNS
    }
    return Organization.objects.filter(pk=org.pk).order_by().values(**figures)


MONTH_AGO = (NOW - timedelta(days=30)).date()

QUERIES: dict[str, Callable[[Tenant], QuerySet[Any, Any]]] = {
    "sessions list": session_page,
    "sessions, by status": lambda t: session_page(t, status="completed"),
    "sessions, by kind": lambda t: session_page(t, kind="tutoring"),
    "sessions, by student": lambda t: session_page(t, student=str(generated_student(t).public_id)),
    "sessions, by provider": lambda t: session_page(t, provider=a_provider(t)),
    "sessions, by a provider without sessions": lambda t: session_page(
        t, provider=provider_without_sessions(t)
    ),
    "sessions, by dates": lambda t: session_page(
        t, date_from=str(MONTH_AGO), date_to=str(MONTH_AGO + timedelta(days=7))
    ),
    "sessions list of a provider": lambda t: session_page(t, Role.PROVIDER),
    "sessions list of a student": lambda t: session_page(t, Role.STUDENT),
    "relationships list": relationship_page,
    "relationships, by status": lambda t: relationship_page(t, status="paired"),
    "relationships, by provider": lambda t: relationship_page(t, provider=a_provider(t)),
    "a student's hours history": lambda t: history(
        organization=t.organization, student=generated_student(t)
    )[:PAGE],
    "provider home, to log": lambda t: sessions.to_log(
        organization=t.organization, membership=membership(t, Role.PROVIDER)
    )[:20],
    "provider home, requests": lambda t: sessions.requests_query(
        organization=t.organization, membership=membership(t, Role.PROVIDER)
    ),
    "provider home, coming up": lambda t: sessions.coming_up_query(
        organization=t.organization, membership=membership(t, Role.PROVIDER)
    ),
    "admin home figures": admin_home,
    "admin home disputed list": disputed,
    "admin home proposals list": proposals,
    "admin home recent transactions": lambda t: recent_entries_query(organization=t.organization),
    "admin home low-balance list": lambda t: low_balance_list(organization=t.organization),
    "admin home warning signs": warning_counts,
    **{f"warning list: {sign}": warning_list(sign) for sign in dashboard.SIGNS},
    **{f"warning list count: {sign}": warning_count(sign) for sign in dashboard.SIGNS},
    **{
        f"warning list keys: {sign}": warning_keys(sign)
        for sign in ("short", "long_gap", "irregular")
    },
    "check-in list keys": check_in_keys,
    "check-in list": lambda t: checkin._check_in_rows(t.organization.pk, NOW, 51),
    # At a few hundred students the planner rightly sorts them rather than walk their name
    # index (docs/indexes.md has the plan at scale); neither query scans the relationships.
    "pairings to log, their students": lambda t: sessions.students_to_log(
        organization=t.organization,
        paired=sessions.paired_to_log(
            organization=t.organization, membership=membership(t, Role.ADMIN)
        ),
    )[sessions.PICK_ROWS : sessions.PICK_ROWS + 1],
    "pairings to log": lambda t: sessions.relationships_to_log_rows(
        organization=t.organization, membership=membership(t, Role.ADMIN)
    ),
}


@pytest.mark.django_db
def test_each_query_reads_the_big_tables_through_indexes(center: Tenant) -> None:
    """One test over every query, so the rows are generated once; it lists every query that
    scans or sorts, with the plan's lines."""
    found = {name: problems(name, query(center)) for name, query in QUERIES.items()}
    assert {name: lines for name, lines in found.items() if lines} == {}


def generic_plans(run: Callable[[], object]) -> list[str]:
    """The plans PostgreSQL keeps for the prepared statements `run` sends once it uses their
    generic plan (made without the values, as a connection does after a few executions)."""
    with CaptureQueriesContext(connection) as captured:
        run()
    sent = [
        part
        for query in captured.captured_queries
        for part in query["sql"].split(";\n")
        if part.startswith("EXECUTE matchpal_")
    ]
    assert sent
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        try:
            for statement in sent:
                cursor.execute(f"EXPLAIN {statement}")
                plans.append("\n".join(line for (line,) in cursor.fetchall()))
        finally:
            cursor.execute("RESET plan_cache_mode")
    return plans


@pytest.mark.django_db
def test_the_compiled_lists_generic_plans_read_their_keys_through_their_indexes(
    center: Tenant,
) -> None:
    """The check-in list's and the warning lists' statements are prepared on each connection
    and kept with their generic plan: that plan, which cannot see the organization's share of
    the rows, reads the sessions' keys from the covering indexes, probes the paired
    relationships' keys, and finds the cancelling pairings' activity by key (filtered by the
    organization there, it walked the center's activity rows: docs/indexes.md)."""
    org = center.organization
    admin = membership(center, Role.ADMIN)
    limits = dashboard.Thresholds.of(org)
    request = RequestFactory().get("/")
    (check_in,) = generic_plans(lambda: checkin.check_in_rows(organization=org, membership=admin))
    assert "Index Only Scan using session_org_check_in_open" in check_in, check_in
    assert "relationship_paired_id" not in check_in, check_in  # no relationship probed
    assert seq_scans(check_in) == [], check_in
    for sign in ("short", "long_gap", "irregular", "repeated_cancellations"):
        plans = generic_plans(lambda sign=sign: dashboard.sign_page(request, org, sign, limits))
        for plan in plans:
            assert seq_scans(plan) == [], (sign, plan)
            # Never every pairing of the center, through an index of the organization alone
            # (sessions_app 0021).
            assert "pairingactivity_organization_id" not in plan, (sign, plan)
        # The irregular pairings may take either index of the paired rows: at scale, the one in
        # the list's order (docs/indexes.md); on these few rows, none of them irregular, the
        # variation's.
        indexes = {
            "short": ("short_session_starts_id",),
            "long_gap": ("pairing_paired_last_order",),
            "irregular": ("pairing_paired_last_order", "pairing_paired_irregular"),
            "repeated_cancellations": ("session_org_cancelled",),
        }[sign]
        assert all(any(i in plan for i in indexes) for plan in plans), (sign, plans)
        # The count and the page, in one round trip; repeated cancellations in one statement,
        # its grouping done once.
        assert len(plans) == (1 if sign == "repeated_cancellations" else 2), plans
        assert indexes[0] in plans[-1] or len(indexes) > 1, (sign, plans)
        if sign == "repeated_cancellations":
            assert all("Index Only Scan using session_org_cancelled" in plan for plan in plans)
            assert all("sessions_app_pairingactivity_pkey" in plan for plan in plans), plans


def test_the_providers_list_reads_its_page_from_its_index(center: Tenant) -> None:
    """The providers list opened unfiltered (`providers.selectors.unfiltered_list`): its count
    from an index alone, and its page's ids from `provider_org_name` (organization, name, id)
    alone, in the list's order, for the generic plans its prepared statements keep, without a
    sort (which would read every provider of the center first; at 1,000 providers the page was
    a hash of all of them, then a sort: docs/performance.md). On these few rows the planner may
    also rightly read the table: sorting is disabled here, so a plan without the index would
    sort."""
    request = RequestFactory().get("/")
    org = center.organization.pk
    with connection.cursor() as cursor:
        cursor.execute("SET enable_sort = off")
        cursor.execute("SET enable_seqscan = off")
        try:
            plans = generic_plans(
                lambda: list(provider_selectors.unfiltered_list.paginate(request, organization=org))
            )
        finally:
            cursor.execute("RESET enable_sort")
            cursor.execute("RESET enable_seqscan")
    count, page = plans
    assert "Index Only Scan" in count, count  # any index of the organization
    # The page's ids: the slice (`Limit`) straight off the index, no sort of the center's
    # providers beneath it (the page's own 25 rows are sorted once found).
    lines = [line.strip() for line in page.splitlines()]
    ids = next(i for i, line in enumerate(lines) if "using provider_org_name" in line)
    assert lines[ids].startswith("->  Index Only Scan"), page
    assert lines[ids - 1].startswith("->  Limit"), page
