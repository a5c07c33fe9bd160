"""The reports' CSV downloads kept in the cache (Redis) under the version of the center's data
(reports/csv_cache.py): a download from the cache is byte for byte the one streamed without it;
every kind of write shows in the next download; two members, two organizations, two scopes, two
days or two caps never share an entry; a transaction that has written, a view with Redis down
and the reports of the moment (Usage, Financial) compute and stream as before.

These tests commit (`transaction=True`): the version is counted at commit, and a transaction
that has written rows itself always computes the file."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from matchpal.models import Organization, Role
from reports import csv_cache, exports
from reports.forms import ReportFilterForm
from reports.framework import REPORTS
from students.models import Student
from tests.factories import MembershipFactory, StudentFactory, UserFactory
from tests.reports import test_payroll_figures, test_statement_figures
from tests.support import (
    Tenant,
    at,
    client_for,
    log,
    member,
    other_provider,
    paired,
    past_grant,
    set_policy,
)

pytestmark = pytest.mark.django_db(transaction=True)

JUNE = "?range=custom&date_from=2025-06-01&date_to=2025-06-30"
# A download from the cache: the user with its membership (one statement) and the version.
HIT = 2


@pytest.fixture(autouse=True)
def _redis(request: pytest.FixtureRequest) -> None:
    """Redis as the cache (production's), but for the test of Redis down."""
    if "redis_unreachable" not in request.fixturenames:
        request.getfixturevalue("redis_cache")


def get(tenant: Tenant, user, name: str, query: str = "", client: Client | None = None):  # type: ignore[no-untyped-def]
    client = client or client_for(user)
    response = client.get(reverse(f"reports:{name}_csv", args=[tenant.organization.slug]) + query)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    response.body = b"".join(response.streaming_content) if response.streaming else response.content
    return response


def download(
    tenant: Tenant, user, name: str, query: str = "", client: Client | None = None
) -> bytes:  # type: ignore[no-untyped-def]
    return get(tenant, user, name, query, client).body  # type: ignore[no-any-return]


def streamed(tenant: Tenant, user, name: str, query: str = ""):  # type: ignore[no-untyped-def]
    """The download as the unchanged path writes it now: the report made from the form's scope,
    streamed by `exports.report_csv`, without the cache."""
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
        response = exports.report_csv(report(form.scope()))
        response.body = b"".join(response.streaming_content)
    return response


def downloads_now(tenant: Tenant, user, name: str, query: str = "") -> bytes:  # type: ignore[no-untyped-def]
    """The download, checked to be the file streamed now; returns it."""
    body = download(tenant, user, name, query)
    assert body == streamed(tenant, user, name, query).body
    return body


def assert_kept_byte_for_byte(tenant: Tenant, cases: list[tuple[object, str, str]]) -> None:
    """Each download's miss writes the streamed file, and its hit returns it with the same
    headers, reading nothing of the report."""
    for user, name, query in cases:
        client = client_for(user)
        unchanged = streamed(tenant, user, name, query)
        assert unchanged.body.count(b"\n") > 10, (name, unchanged.body)
        first = get(tenant, user, name, query, client)
        with CaptureQueriesContext(connection) as queries:
            second = get(tenant, user, name, query, client)
        # An admin's chosen student: the search field's lookup, the form's own.
        hit = HIT + ("student=" in query)
        assert len(queries) == hit, (name, [q["sql"] for q in queries.captured_queries])
        assert first.body == second.body == unchanged.body, (user, name, query)
        for response in (first, second):
            assert not response.streaming
            assert response["Content-Disposition"] == unchanged["Content-Disposition"]


def test_a_kept_payroll_or_sessions_download_is_the_streamed_file(
    tenant_a: Tenant, clock: object
) -> None:
    """Every case the payroll prices (and its pending sessions), the Sessions report of each
    role."""
    payroll = test_payroll_figures.History(tenant_a)
    set_policy(tenant_a.organization, require_student_confirmation=True)
    assert_kept_byte_for_byte(
        tenant_a,
        [
            (tenant_a.provider_user, "payroll", JUNE),
            (tenant_a.provider_user, "payroll", JUNE + "&period=week"),
            (payroll.other_user, "payroll", JUNE),
            (tenant_a.provider_user, "sessions", JUNE),
            (tenant_a.student_user, "sessions", JUNE + "&period=week"),
            (tenant_a.admin, "payroll", JUNE),
            (tenant_a.admin, "sessions", JUNE),
        ],
    )
    pending = download(tenant_a, tenant_a.provider_user, "payroll", JUNE)
    assert b"Waiting for the student's confirmation" in pending


def test_a_kept_statement_is_the_streamed_file(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    """A statement's every kind of movement, the student's own and an admin's of the student."""
    test_statement_figures.History(tenant_a, clock)
    assert_kept_byte_for_byte(
        tenant_a,
        [
            (tenant_a.student_user, "statement", JUNE),
            (tenant_a.admin, "statement", JUNE + f"&student={tenant_a.student.public_id}"),
        ],
    )
    own = download(tenant_a, tenant_a.student_user, "statement", JUNE)
    assert tenant_a.student.name.encode() in own


def test_a_miss_computes_once_and_keeps_it(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    provider = tenant_a.provider_user
    client = client_for(provider)
    downloads_now(tenant_a, provider, "sessions")
    log(tenant_a, relationship, at(10, 10))
    with CaptureQueriesContext(connection) as queries:
        body = download(tenant_a, provider, "sessions", client=client)
    # The version, the count of the range's sessions, each table's query.
    assert len(queries) > HIT + 2
    with CaptureQueriesContext(connection) as queries:
        assert download(tenant_a, provider, "sessions", client=client) == body
    assert len(queries) == HIT
    assert body == streamed(tenant_a, provider, "sessions").body


def test_each_kind_of_write_shows_in_the_next_download(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    wanted = [
        (tenant_a.provider_user, "sessions"),
        (tenant_a.provider_user, "payroll"),
        (tenant_a.student_user, "statement"),
        (tenant_a.student_user, "sessions"),
    ]
    seen = {name: [downloads_now(tenant_a, user, name)] for user, name in wanted}

    def changed(*names: str) -> None:
        for user, name in wanted:
            if name in names or not names:
                body = downloads_now(tenant_a, user, name)
                assert body not in seen[name], f"the write did not change the {name} download"
                seen[name].append(body)

    # A session logged through the service: every download of the pair.
    session = log(tenant_a, relationship, at(10, 10))
    changed()
    # A write by no service at all: raw SQL on the sessions.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions_app_session SET duration_minutes = 45 WHERE id = %s", [session.pk]
        )
    changed("sessions")
    # A queryset update of a name the files show.
    Student.objects.filter(pk=tenant_a.student.pk).update(name="Renamed Student")
    changed("sessions", "statement")
    assert b"Renamed Student" in seen["statement"][-1]
    # A new grant: the statement's purchases.
    past_grant(tenant_a.student, 300)
    changed("statement")
    # The center's settings: the pending sessions of the payroll.
    set_policy(tenant_a.organization, require_student_confirmation=True)
    changed("payroll")


def test_two_members_never_share_an_entry(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    log(tenant_a, paired(tenant_a), at(10, 10))
    other_user, _ = other_provider(tenant_a)
    own = downloads_now(tenant_a, tenant_a.provider_user, "sessions")
    assert tenant_a.student.name.encode() in own
    # The other provider, the same scope, after the first was kept: their own (empty) file.
    theirs = downloads_now(tenant_a, other_user, "sessions")
    assert tenant_a.student.name.encode() not in theirs
    center = downloads_now(tenant_a, tenant_a.admin, "sessions")
    student = downloads_now(tenant_a, tenant_a.student_user, "sessions")
    assert len({own, theirs, center, student}) == 4
    # A provider's payroll and a second student's statement: their own.
    assert downloads_now(tenant_a, tenant_a.provider_user, "payroll") != downloads_now(
        tenant_a, other_user, "payroll"
    )
    second_user = UserFactory(email="second.student@alpha.example")
    MembershipFactory(user=second_user, organization=tenant_a.organization, role=Role.STUDENT)
    StudentFactory(
        organization=tenant_a.organization,
        name="Second Student",
        user=second_user,
        email=second_user.email,
    )
    mine = downloads_now(tenant_a, tenant_a.student_user, "statement")
    theirs = downloads_now(tenant_a, second_user, "statement")
    assert b"Second Student" in theirs
    assert b"Second Student" not in mine


def test_two_tenants_never_share_an_entry(
    tenant_a: Tenant, tenant_b: Tenant, clock: object
) -> None:
    relationships = {}
    for tenant in (tenant_a, tenant_b):
        past_grant(tenant.student, 600)
        relationships[tenant.organization.pk] = paired(tenant)
        log(tenant, relationships[tenant.organization.pk], at(10, 10))
    a_before = downloads_now(tenant_a, tenant_a.provider_user, "sessions")
    b_before = downloads_now(tenant_b, tenant_b.provider_user, "sessions")
    assert a_before != b_before
    assert tenant_a.student.name.encode() not in b_before
    # A write in one tenant changes its own download only.
    log(tenant_b, relationships[tenant_b.organization.pk], at(10, 12))
    assert downloads_now(tenant_a, tenant_a.provider_user, "sessions") == a_before
    assert downloads_now(tenant_b, tenant_b.provider_user, "sessions") != b_before


def test_different_scopes_never_share_and_the_same_scope_does(
    tenant_a: Tenant, clock: object
) -> None:
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    log(tenant_a, relationship, at(10, 10))
    log(tenant_a, relationship, at(20, 10, month=5), by="admin")
    service = relationship.service_type.public_id
    provider = tenant_a.provider_user
    queries = [
        "",
        "?range=last_month",
        "?range=this_year",
        "?range=this_year&period=week",
        f"?service_type={service}",
        f"?student={tenant_a.student.public_id}",
        "?date_from=2025-06-01&date_to=2025-06-09",
    ]
    bodies = [downloads_now(tenant_a, provider, "sessions", query) for query in queries]
    assert len(set(bodies)) == len(queries)
    client = client_for(provider)
    for query, body in zip(queries, bodies, strict=True):
        assert download(tenant_a, provider, "sessions", query, client) == body
    # Another way of asking for the default range is the same scope: read from the cache.
    with CaptureQueriesContext(connection) as read:
        body = download(tenant_a, provider, "sessions", "?range=last_30_days", client)
    assert body == bodies[0]
    assert len(read) == HIT


def test_the_day_is_part_of_the_key(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    past_grant(tenant_a.student, 600)
    log(tenant_a, paired(tenant_a), at(10, 10))
    provider = tenant_a.provider_user
    client = client_for(provider)
    before = downloads_now(tenant_a, provider, "payroll", JUNE)
    clock.shift(timedelta(days=1))
    with CaptureQueriesContext(connection) as queries:
        after = download(tenant_a, provider, "payroll", JUNE, client)
    assert len(queries) > HIT
    assert after == before == streamed(tenant_a, provider, "payroll", JUNE).body


def test_a_kept_download_follows_a_lower_cap(tenant_a: Tenant, clock: object, settings) -> None:  # type: ignore[no-untyped-def]
    """Only a download under the cap is kept, and a hit skips the count: a lower cap is another
    key, whose first download counts again and offers the background export."""
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    for day in (9, 10):
        log(tenant_a, relationship, at(day, 10))
    provider = tenant_a.provider_user
    downloads_now(tenant_a, provider, "sessions")
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1
    client = client_for(provider)
    response = client.get(reverse("reports:sessions_csv", args=[tenant_a.organization.slug]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Export as CSV" in response.content.decode()


def offers_the_background_export(response) -> bool:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return response["Content-Type"].startswith("text/html") and (
        "Export as CSV" in response.content.decode()
    )


def test_past_the_cap_the_verdict_is_kept_until_a_write(
    tenant_a: Tenant, clock: object, settings
) -> None:  # type: ignore[no-untyped-def]
    """Past the cap the offer of the background export is rendered each time, but the count is
    kept: a second request does not count again. A write that brings the rows under the cap
    gives the file."""
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 2
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    sessions = [log(tenant_a, relationship, at(day, 10), by="admin") for day in (8, 9, 10)]
    provider = tenant_a.provider_user
    client = client_for(provider)
    path = reverse("reports:sessions_csv", args=[tenant_a.organization.slug])
    with CaptureQueriesContext(connection) as counted:
        assert offers_the_background_export(client.get(path))
    with CaptureQueriesContext(connection) as kept:
        assert offers_the_background_export(client.get(path))
    assert len(kept) == len(counted) - 1, [q["sql"] for q in kept.captured_queries]
    assert not any("COUNT(" in q["sql"] for q in kept.captured_queries)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions_app_session SET starts_at = starts_at - interval '1 year' "
            "WHERE id = %s",
            [sessions[0].pk],
        )
    assert download(tenant_a, provider, "sessions", client=client) == (
        streamed(tenant_a, provider, "sessions").body
    )


def test_a_transaction_that_wrote_streams_its_own_rows(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    log(tenant_a, relationship, at(10, 10))
    provider = tenant_a.provider_user
    first = downloads_now(tenant_a, provider, "sessions")
    with transaction.atomic():
        Student.objects.filter(pk=tenant_a.student.pk).update(name="Yann Uncommitted")
        assert csv_cache.lookup(REPORTS["sessions"], _scope(tenant_a, provider)) == (
            csv_cache.NOT_KEPT
        )
        response = get(tenant_a, provider, "sessions")
        assert response.streaming
        assert b"Yann Uncommitted" in response.body
        assert response.body != first
        transaction.set_rollback(True)
    assert download(tenant_a, provider, "sessions") == first


def _scope(tenant: Tenant, user):  # type: ignore[no-untyped-def]
    org = Organization.objects.get(pk=tenant.organization.pk)
    with timezone.override(org.tz):
        form = ReportFilterForm(
            QueryDict(""),
            report=REPORTS["sessions"],
            organization=org,
            membership=member(user, org),
        )
        assert form.is_valid()
        return form.scope()


@pytest.mark.usefixtures("redis_unreachable")
def test_with_redis_down_every_download_is_streamed(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    provider = tenant_a.provider_user
    response = get(tenant_a, provider, "sessions")
    assert response.streaming
    assert response.body == streamed(tenant_a, provider, "sessions").body
    log(tenant_a, relationship, at(10, 10))
    again = get(tenant_a, provider, "sessions")
    assert again.streaming
    assert again.body != response.body
    assert again.body == streamed(tenant_a, provider, "sessions").body


@pytest.mark.parametrize("name", ["usage", "financial"])
def test_the_reports_of_the_moment_are_not_kept(name: str, tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600, price="100.00")
    log(tenant_a, paired(tenant_a), at(10, 10))
    client = client_for(tenant_a.admin)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            response = get(tenant_a, tenant_a.admin, name, client=client)
        assert response.streaming
        assert response.body == streamed(tenant_a, tenant_a.admin, name).body
        counts.append(len(queries))
    assert counts[0] == counts[1] > HIT
