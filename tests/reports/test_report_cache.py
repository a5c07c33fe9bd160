"""The report pages' content kept in the cache (Redis) under the version of the center's data
(reports/report_cache.py): every kind of write shows on the next view, whatever wrote it; two
members, two organizations or two scopes never share an entry; a transaction that has written
and a view with Redis down compute the content.

These tests commit (`transaction=True`): the version is counted at commit, and a transaction
that has written rows itself always computes the content (the other report tests run in one
transaction, and so always compute it)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grants.models import Package
from grants.services import grant_from_package
from matchpal import data_version
from matchpal.models import Organization
from providers.models import Provider
from reports import report_cache
from reports.forms import ReportFilterForm
from reports.framework import REPORTS
from students.models import Student
from tests.factories import MembershipFactory, StudentFactory
from tests.support import (
    Tenant,
    at,
    client_for,
    log,
    make_package,
    member,
    other_provider,
    paired,
    past_grant,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _redis(request: pytest.FixtureRequest) -> None:
    """Redis as the cache (production's), but for the test of Redis down."""
    if "redis_unreachable" not in request.fixturenames:
        request.getfixturevalue("redis_cache")


# A view served from the cache: the user with its membership (one statement), the version, and
# the form's service types (a select); not one figure.
HIT = 3


def page(tenant: Tenant, user, name: str, query: str = "", client: Client | None = None) -> str:  # type: ignore[no-untyped-def]
    client = client or client_for(user)
    path = reverse(f"reports:{name}", args=[tenant.organization.slug]) + query
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def computed(tenant: Tenant, user, name: str, query: str = "") -> str:  # type: ignore[no-untyped-def]
    """The content computed now, without the cache, as the view writes it."""
    org = Organization.objects.get(pk=tenant.organization.pk)
    report = REPORTS[name]
    with timezone.override(org.tz):
        form = ReportFilterForm(
            QueryDict(query.removeprefix("?")),
            report=report,
            organization=org,
            membership=member(user, org),
        )
        assert form.is_valid(), form.errors
        return report_cache.render(report(form.scope()))


def shows_now(tenant: Tenant, user, name: str, query: str = "") -> str:  # type: ignore[no-untyped-def]
    """The page, checked to hold the content as computed now; returns that content."""
    html = page(tenant, user, name, query)
    content = computed(tenant, user, name, query)
    assert content in html
    return content


def test_a_second_view_reads_the_version_only(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    log(tenant_a, paired(tenant_a), at(10, 10))
    client = client_for(tenant_a.admin)
    for name in ("sessions", "usage", "financial", "payroll"):
        first = shows_now(tenant_a, tenant_a.admin, name)
        with CaptureQueriesContext(connection) as queries:
            assert first in page(tenant_a, tenant_a.admin, name, client=client)
        assert len(queries) == HIT, (name, [q["sql"] for q in queries.captured_queries])


def test_a_miss_computes_once_and_keeps_it(tenant_a: Tenant, clock: object) -> None:
    """After a write, one view computes the content (the hit's queries and the content's), and
    the next reads it."""
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    client = client_for(tenant_a.admin)
    shows_now(tenant_a, tenant_a.admin, "sessions")
    log(tenant_a, relationship, at(10, 10))
    org = Organization.objects.get(pk=tenant_a.organization.pk)
    with timezone.override(org.tz), CaptureQueriesContext(connection) as computing:
        form = ReportFilterForm(
            QueryDict(""),
            report=REPORTS["sessions"],
            organization=org,
            membership=member(tenant_a.admin, org),
        )
        assert form.is_valid()
        scope = form.scope()
        start = len(computing)
        content = report_cache.render(REPORTS["sessions"](scope))
        content_queries = len(computing) - start
    with CaptureQueriesContext(connection) as queries:
        assert content in page(tenant_a, tenant_a.admin, "sessions", client=client)
    assert len(queries) == HIT + content_queries, [q["sql"] for q in queries.captured_queries]
    with CaptureQueriesContext(connection) as queries:
        assert content in page(tenant_a, tenant_a.admin, "sessions", client=client)
    assert len(queries) == HIT


def test_each_kind_of_write_shows_on_the_next_view(tenant_a: Tenant, clock: object) -> None:
    admin = tenant_a.admin
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    seen = {name: [shows_now(tenant_a, admin, name)] for name in ("sessions", "usage")}

    def changed(name: str) -> None:
        content = shows_now(tenant_a, admin, name)
        assert content not in seen[name], f"the write did not change the {name} report"
        seen[name].append(content)

    # A session logged through the service: the sessions, the hours consumed.
    session = log(tenant_a, relationship, at(10, 10))
    changed("sessions")
    changed("usage")
    # A write by no service at all: raw SQL on the sessions.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions_app_session SET status = 'no_show', no_show_party = 'student' "
            "WHERE id = %s",
            [session.pk],
        )
    changed("sessions")
    # A queryset update of a name the tables show.
    Student.objects.filter(pk=tenant_a.student.pk).update(name="Renamed Student")
    changed("sessions")
    changed("usage")
    assert "Renamed Student" in seen["sessions"][-1]
    # A new grant: the hours purchased.
    past_grant(tenant_a.student, 300)
    changed("usage")


def test_a_package_renamed_shows_on_the_financial_report(tenant_a: Tenant, clock: object) -> None:
    """The packages count in the version since reports 0008: the Financial report shows their
    names."""
    package = make_package(tenant_a.organization, name="Ten hours")
    grant_from_package(actor=tenant_a.admin, student=tenant_a.student, package=package)
    before = shows_now(tenant_a, tenant_a.admin, "financial")
    assert "Ten hours" in before
    Package.objects.filter(pk=package.pk).update(name="Twelve hours")
    after = shows_now(tenant_a, tenant_a.admin, "financial")
    assert "Twelve hours" in after
    assert "Ten hours" not in after


def test_the_rebuild_of_the_summaries_shows_on_the_next_view(
    tenant_a: Tenant, clock: object
) -> None:
    """A rebuild rewrites only the summaries (no trigger of the version fires): it adds to the
    version itself."""
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    log(tenant_a, paired(tenant_a), at(10, 10))
    with connection.cursor() as cursor:
        cursor.execute(data_version.READ, [org.pk])
        before = cursor.fetchone()[0]
    call_command("rebuild_rollups", organization=org.slug, stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute(data_version.READ, [org.pk])
        assert cursor.fetchone()[0] == before + 1


def test_two_members_with_different_visibility_never_share(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    log(tenant_a, paired(tenant_a), at(10, 10))
    other_user, _ = other_provider(tenant_a)
    own = shows_now(tenant_a, tenant_a.provider_user, "sessions")
    assert tenant_a.student.name in own
    # The other provider, the same scope, after the first was kept: their own (empty) report.
    theirs = shows_now(tenant_a, other_user, "sessions")
    assert theirs != own
    assert tenant_a.student.name not in theirs
    # The admin sees the center, the student their own: four entries.
    center = shows_now(tenant_a, tenant_a.admin, "sessions")
    student = shows_now(tenant_a, tenant_a.student_user, "sessions")
    assert len({own, theirs, center, student}) == 4


def test_two_tenants_never_share_an_entry(
    tenant_a: Tenant, tenant_b: Tenant, clock: object
) -> None:
    past_grant(tenant_a.student, 600)
    log(tenant_a, paired(tenant_a), at(10, 10))
    a_before = shows_now(tenant_a, tenant_a.admin, "sessions")
    b_before = shows_now(tenant_b, tenant_b.admin, "sessions")
    assert a_before != b_before
    assert tenant_a.student.name not in b_before
    # A write in one tenant changes its own report only.
    past_grant(tenant_b.student, 900)
    log(tenant_b, paired(tenant_b), at(10, 11))
    assert shows_now(tenant_a, tenant_a.admin, "sessions") == a_before
    assert shows_now(tenant_b, tenant_b.admin, "sessions") != b_before


def test_different_filters_never_share_and_the_same_scope_does(
    tenant_a: Tenant, clock: object
) -> None:
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    log(tenant_a, relationship, at(10, 10))
    log(tenant_a, relationship, at(20, 10, month=5), by="admin")
    # A second student, advised: the service type and student filters each leave one out.
    other = StudentFactory(organization=tenant_a.organization, name="Otto Advised")
    past_grant(other, 600, service_types=("Advising",))
    _, advisor = other_provider(tenant_a, services=("Advising",))
    advised = paired(tenant_a, student=other, provider=advisor, service_type="Advising")
    log(tenant_a, advised, at(9, 14), by="admin")
    service = relationship.service_type.public_id
    queries = [
        "",
        "?range=last_month",
        "?range=this_year",
        "?range=this_year&period=week",
        f"?service_type={service}",
        f"?student={other.public_id}",
        "?date_from=2025-06-01&date_to=2025-06-09",
    ]
    contents = [shows_now(tenant_a, tenant_a.admin, "sessions", query) for query in queries]
    assert len(set(contents)) == len(queries)
    # Seen again, each page still holds its own scope's content.
    client = client_for(tenant_a.admin)
    for query, content in zip(queries, contents, strict=True):
        assert content in page(tenant_a, tenant_a.admin, "sessions", query, client)
    # Another way of asking for the default range is the same scope: read from the cache.
    with CaptureQueriesContext(connection) as read:
        html = page(tenant_a, tenant_a.admin, "sessions", "?range=last_30_days", client)
    assert contents[0] in html
    assert len(read) == HIT


def test_the_day_is_part_of_the_key(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    """A statement of fixed days says the day it was prepared: the next day, it says so."""
    past_grant(tenant_a.student, 600)
    query = f"?student={tenant_a.student.public_id}&date_from=2025-06-01&date_to=2025-06-10"
    before = shows_now(tenant_a, tenant_a.admin, "statement", query)
    assert "prepared June 11, 2025" in before
    clock.shift(timedelta(days=1))
    after = shows_now(tenant_a, tenant_a.admin, "statement", query)
    assert "prepared June 12, 2025" in after


def hit(tenant: Tenant, name: str, query: str = "") -> str:  # type: ignore[no-untyped-def]
    """The admin's page, checked to be served from the cache: the hit's statements only."""
    client = client_for(tenant.admin)
    with CaptureQueriesContext(connection) as queries:
        html = page(tenant, tenant.admin, name, query, client)
    assert len(queries) == HIT, [q["sql"] for q in queries.captured_queries]
    return html


MOMENT_REPORTS = ("usage", "financial")


@pytest.mark.parametrize("name", MOMENT_REPORTS)
def test_a_grant_becoming_valid_shows_exactly_then(tenant_a: Tenant, clock, name: str) -> None:  # type: ignore[no-untyped-def]
    """What is owed today is what the usable grants hold now: a grant becoming valid changes
    the report with no write at all, at that moment and not before (the minutes in between
    read the same entry)."""
    admin = tenant_a.admin
    past_grant(tenant_a.student, 600, price="100.00")
    later = timezone.now() + timedelta(minutes=90)
    past_grant(tenant_a.student, 300, price="50.00", valid_from=later)
    before = shows_now(tenant_a, admin, name)
    clock.move_to(later - timedelta(seconds=1))
    assert computed(tenant_a, admin, name) == before
    assert before in hit(tenant_a, name)
    clock.move_to(later)
    after = shows_now(tenant_a, admin, name)
    assert after != before
    assert after in hit(tenant_a, name)


@pytest.mark.parametrize("name", MOMENT_REPORTS)
def test_a_grant_expiring_shows_exactly_then(tenant_a: Tenant, clock, name: str) -> None:  # type: ignore[no-untyped-def]
    """A grant past its date is no longer owed, before the daily job marks it expired."""
    admin = tenant_a.admin
    past_grant(tenant_a.student, 600, price="100.00")
    ends = timezone.now() + timedelta(hours=3)
    past_grant(tenant_a.student, 300, price="50.00", expires_at=ends)
    before = shows_now(tenant_a, admin, name)
    clock.move_to(ends - timedelta(microseconds=1))
    assert computed(tenant_a, admin, name) == before
    assert before in hit(tenant_a, name)
    clock.move_to(ends)
    after = shows_now(tenant_a, admin, name)
    assert after != before


def test_the_day_ending_shows_at_midnight(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    """The velocity's "runs out about" counts from today: the report kept during the day is
    read until the center's midnight, and the next day's view computes it again."""
    admin = tenant_a.admin
    past_grant(tenant_a.student, 600)
    log(tenant_a, paired(tenant_a, quantity=120), at(10, 10))
    query = "?date_from=2025-06-01&date_to=2025-06-11"
    before = shows_now(tenant_a, admin, "usage", query)
    # 480 minutes free at 60 in 11 days: 88 days from today.
    assert "Sep 7, 2025" in before
    clock.move_to(at(11, 23, 59) + timedelta(seconds=59, microseconds=999999))
    assert before in hit(tenant_a, "usage", query)
    clock.move_to(at(12, 0))
    after = shows_now(tenant_a, admin, "usage", query)
    assert "Sep 8, 2025" in after
    assert after in hit(tenant_a, "usage", query)


@pytest.mark.parametrize("name", MOMENT_REPORTS)
def test_reports_of_the_moment_are_per_tenant_and_member(
    tenant_a: Tenant,
    tenant_b: Tenant,
    clock: object,
    name: str,
) -> None:
    other = MembershipFactory(organization=tenant_a.organization).user
    past_grant(tenant_a.student, 600, price="100.00")
    past_grant(tenant_b.student, 900, price="70.00")
    a_before = shows_now(tenant_a, tenant_a.admin, name)
    b_before = shows_now(tenant_b, tenant_b.admin, name)
    assert a_before != b_before
    assert tenant_a.student.name not in b_before
    # A second admin of the same center: their own entry, the same figures.
    assert shows_now(tenant_a, other, name) == a_before
    # A write in one tenant changes its own report only, on the next view.
    past_grant(tenant_b.student, 300, price="20.00")
    assert a_before in hit(tenant_a, name)
    assert shows_now(tenant_b, tenant_b.admin, name) != b_before


def test_a_transaction_that_wrote_computes_the_content(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    first = shows_now(tenant_a, tenant_a.admin, "usage")
    org = Organization.objects.get(pk=tenant_a.organization.pk)
    with transaction.atomic():
        student = StudentFactory(organization=org, name="Yann Uncommitted")
        past_grant(student, 900)
        # The version is counted at commit: this transaction reads its own rows.
        assert report_cache.version(org) is None
        content = computed(tenant_a, tenant_a.admin, "usage")
        assert "Yann Uncommitted" in content
        assert content != first
        assert content in page(tenant_a, tenant_a.admin, "usage")


@pytest.mark.usefixtures("redis_unreachable")
def test_with_redis_down_every_view_computes_the_content(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    first = shows_now(tenant_a, tenant_a.admin, "usage")
    past_grant(tenant_a.student, 300)
    assert shows_now(tenant_a, tenant_a.admin, "usage") != first


def test_a_provider_renamed_shows_on_their_payroll(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    log(tenant_a, paired(tenant_a), at(10, 10))
    before = shows_now(tenant_a, tenant_a.provider_user, "payroll")
    Provider.objects.filter(pk=tenant_a.provider.pk).update(name="Renamed Provider")
    after = shows_now(tenant_a, tenant_a.provider_user, "payroll")
    assert after != before
    assert "Renamed Provider" in after
