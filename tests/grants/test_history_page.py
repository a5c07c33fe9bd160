"""A page of the ledger history read by `grants.history.History` (the hours pages on
PostgreSQL) is the page `selectors.history` and `page_with_running` give (the ORM's, kept off
PostgreSQL): the same entries, "free to book after" and row text on every page, in two
statements per page whatever its number, with every value bound."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grants import history, selectors, services
from grants.history import History
from grants.models import GrantEntry
from grants.templatetags.hours_tags import history_row
from matchpal.pagination import paginate
from matchpal.templatetags.matchpal_tags import RowLink
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.support import Tenant

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
LINKS = (RowLink("/relationships/", "/"), RowLink("/sessions/", "/"))


def build_ledger(t: Tenant) -> None:
    """Minutes and sessions grants; adjustments made in the same instant (ordered by id), by an
    admin and by nobody; a hold and a consumed session of a relationship; an expiry and an
    extension; an entry of another student of the center, which no page shows."""
    org = t.organization
    with time_machine.travel(datetime(2031, 5, 1, 9, 0, tzinfo=UTC), tick=False):
        minutes = make_grant(student=t.student, minutes=600, expires_at=timezone.now() + DAY)
        sessions = make_grant(student=t.student, minutes=8, unit="sessions")
        for n in range(3):
            services.grant_adjust(actor=t.admin, grant=minutes, delta=15, reason=f"m{n} <b>")
            services.grant_adjust(actor=None, grant=sessions, delta=-1, reason=f"s{n}")
        rel = RelationshipFactory(organization=org, student=t.student, provider=t.provider)
        services.hold(actor=None, relationship=rel, quantity=100)
        session = SessionFactory(relationship=rel, duration_minutes=60)
        services.consume(
            actor=None, relationship=rel, session=session, quantity=60, at=session.starts_at
        )
        other = RelationshipFactory(organization=org, provider=t.provider)
        make_grant(student=other.student, minutes=120)
    with time_machine.travel(datetime(2031, 5, 3, 9, 0, tzinfo=UTC), tick=False):
        assert services.expire_due_grants() == 1
        services.grant_extend(
            actor=t.admin, grant=minutes, expires_at=timezone.now() + 9 * DAY, reason="Back"
        )
        services.grant_adjust(actor=t.admin, grant=sessions, delta=2, reason="later")


def pages(
    t: Tenant, size: int, *, orm: bool, primed: bool = False
) -> list[list[tuple[int, int, str]]]:
    """Every page of the student's history as (id, running, row text): read by `History`, or
    by the ORM as the hours pages read it off PostgreSQL; `primed`: as the hours pages read it
    (`selectors.hours_reads`, the count and the page sent with the grants), in one round trip
    a page."""
    org, student = t.organization, t.student
    grants = selectors.grants_of_student(organization=org, student=student)
    shown = []
    number = 1
    while True:
        request = RequestFactory().get("/", {"page": number})
        if orm:
            page = paginate(
                request, selectors.history(organization=org, student=student), per_page=size
            )
            selectors.page_with_running(page, organization=org, student=student, grants=grants)
        elif primed:
            with CaptureQueriesContext(connection) as captured:
                _, _, entries = selectors.hours_reads(
                    organization=org, student=student, page=number, size=size
                )
                page = paginate(request, entries, per_page=size)
                list(page.object_list)
            assert len(captured.captured_queries) == 1
        else:
            entries = History(organization=org, student=student, grants=grants)
            page = paginate(request, entries, per_page=size)
        shown.append([(e.pk, e.running, str(history_row(e, *LINKS))) for e in page.object_list])
        if not page.has_next():
            return shown
        number += 1


@pytest.mark.parametrize("size", [1, 3, 25])
def test_every_page_is_the_orm_page(tenant_a: Tenant, size: int) -> None:
    build_ledger(tenant_a)
    expected = pages(tenant_a, size, orm=True)
    shown = pages(tenant_a, size, orm=False)
    assert shown == expected
    assert pages(tenant_a, size, orm=False, primed=True) == expected
    assert (
        sum(len(page) for page in shown)
        == GrantEntry.objects.filter(grant__student=tenant_a.student).count()
        == 14
    )
    # The rows name who acted, the relationship's provider and the session's day.
    text = "".join(row for page in shown for _, _, row in page)
    assert str(tenant_a.admin) in text
    assert "System" in text
    assert tenant_a.provider.name in text
    assert "session of " in text


def test_a_page_is_two_statements_whatever_its_number(tenant_a: Tenant) -> None:
    build_ledger(tenant_a)
    org, student = tenant_a.organization, tenant_a.student
    grants = selectors.grants_of_student(organization=org, student=student)
    for number in (1, 2, 4):
        with CaptureQueriesContext(connection) as captured:
            request = RequestFactory().get("/", {"page": number})
            page = paginate(
                request, History(organization=org, student=student, grants=grants), per_page=3
            )
            rows = list(page.object_list)
            # The rows' grants, relationships, providers, sessions and actors are in hand.
            for entry in rows:
                str(history_row(entry, *LINKS))
        assert len(captured.captured_queries) == 2
        assert len(rows) == 3
    # The same SQL for every page and student: the page's place is bound, not written in.
    count, page_sql, _, _ = history._statements()
    assert count.endswith("LIMIT %s) entries")
    assert "LIMIT %s OFFSET %s" in page_sql


def test_a_ledger_longer_than_the_count_pages_past_it(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A student with more entries than the paginator counts: the pages past the count are
    read with one row more, which says whether another follows, as for a queryset."""
    build_ledger(tenant_a)
    # Six counted: two pages of three (the cap is a multiple of the page, as 10,000 of 25).
    monkeypatch.setattr(history, "COUNT_CAP", 6)
    monkeypatch.setattr("matchpal.pagination.COUNT_CAP", 6)
    org, student = tenant_a.organization, tenant_a.student
    grants = selectors.grants_of_student(organization=org, student=student)
    assert len(History(organization=org, student=student, grants=grants)) == 7  # 6 and 1 more
    expected = pages(tenant_a, 3, orm=True)
    assert pages(tenant_a, 3, orm=False) == expected
    assert sum(len(page) for page in expected) == 14


def test_a_number_past_the_last_page_reads_the_last_one(tenant_a: Tenant) -> None:
    """The page read with the count is the one asked for: past the last page, the paginator
    shows the last one, read then (a second round trip), as an unprimed history does."""
    build_ledger(tenant_a)
    org, student = tenant_a.organization, tenant_a.student
    grants = selectors.grants_of_student(organization=org, student=student)
    request = RequestFactory().get("/", {"page": 99})
    expected = paginate(
        request, History(organization=org, student=student, grants=grants), per_page=3
    )
    with CaptureQueriesContext(connection) as captured:
        grants, holds, entries = selectors.hours_reads(
            organization=org, student=student, page=99, size=3
        )
        page = paginate(request, entries, per_page=3)
        rows = [(e.pk, e.running) for e in page.object_list]
    assert len(captured.captured_queries) == 2
    assert page.number == expected.number == 5
    assert rows == [(e.pk, e.running) for e in expected.object_list]
    assert holds == selectors.holds_of_student(organization=org, student=student)
    assert [g.pk for g in grants] == [
        g.pk for g in selectors.grants_of_student(organization=org, student=student)
    ]


@pytest.mark.parametrize("limit", [1, 3, 10, 40])
def test_the_first_page_alone_is_the_pages_first_page(tenant_a: Tenant, limit: int) -> None:
    """The student home's newest entries (`first_page_statement`: the window over the cut rows
    only) are the rows, and the running balances, of the page statement at offset 0."""
    build_ledger(tenant_a)
    keys = {"organization": tenant_a.organization.pk, "student": tenant_a.student.pk}

    first = prebuilt_rows(history.first_page_statement(**keys, limit=limit))
    page = prebuilt_rows(history.page_statement(**keys, offset=0, limit=limit))

    assert first == page
    assert len(first) == min(
        limit, GrantEntry.objects.filter(grant__student=tenant_a.student).count()
    )


def prebuilt_rows(statement: tuple[str, list[object]]) -> list[tuple[object, ...]]:
    sql, params = statement
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]
