"""The row locks the relationship and session services take, read from the SQL they send
(DESIGN §3 invariant 4). A `SELECT … FOR UPDATE` over joined tables must name its own table
(`OF`): otherwise PostgreSQL locks the joined organization, student and provider rows too, and
every insert referencing them waits on its foreign-key check, which can deadlock. And every
session write locks the relationship before the session."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matchpal import prebuilt
from relationships import services as rel_services
from sessions_app import services
from tests.factories import StudentFactory
from tests.support import Tenant, at, member, paired, past_grant, propose, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

LOCK = re.compile(r"FOR (NO KEY )?UPDATE( OF (?P<of>.*))?$")


def locks(call: Callable[[], Any]) -> list[tuple[str, str | None, bool]]:
    """(first table read, tables named after OF, whether it joins) of each locking SELECT."""
    with CaptureQueriesContext(connection) as queries:
        call()
    found = []
    for query in queries.captured_queries:
        sql = prebuilt.expand(query["sql"])  # a prepared statement as its own text
        match = LOCK.search(sql)
        if not sql.startswith("SELECT") or match is None:
            continue
        table = re.search(r' FROM "(\w+)"', sql).group(1)  # type: ignore[union-attr]
        found.append((table, match.group("of"), " JOIN " in sql))
    return found


def assert_only_own_rows(found: list[tuple[str, str | None, bool]]) -> None:
    assert found, "nothing was locked"
    for table, of, joins in found:
        if joins:
            assert of == f'"{table}"', (table, of)


def test_relationship_services_lock_only_the_relationship_row(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 900)
    other = StudentFactory(organization=tenant_a.organization)
    past_grant(other, 900)
    admin = tenant_a.admin
    proposal = propose(tenant_a, quantity=60, student=other)
    running = paired(tenant_a, quantity=300)
    for call in (
        lambda: rel_services.relationship_change_allocation(
            membership=member(admin), relationship=running, quantity=360
        ),
        lambda: rel_services.relationship_decline(membership=member(admin), relationship=proposal),
        lambda: rel_services.relationship_complete(membership=member(admin), relationship=running),
    ):
        found = locks(call)
        assert_only_own_rows(found)
        assert found[0] == ("relationships_relationship", '"relationships_relationship"', True)


def test_session_services_lock_own_rows_relationship_first(tenant_a: Tenant) -> None:
    # Every rule that counts other relationships' sessions is on, so the people are locked too.
    set_policy(
        tenant_a.organization,
        max_sessions_per_pair_per_day=3,
        weekly_max_minutes_per_student_service=600,
        weekly_max_minutes_per_provider=600,
    )
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    provider, student, admin = tenant_a.provider_user, tenant_a.student_user, tenant_a.admin
    logged = services.session_log(
        membership=member(provider),
        relationship=rel,
        starts_at=at(10, 9),
        duration=60,
        notes="Recap",
    )
    scheduled = services.session_log(
        membership=member(provider),
        relationship=rel,
        starts_at=at(11, 9),
        duration=60,
        scheduled=True,
    )
    people = [
        ("students_student", '"students_student"', False),
        ("providers_provider", '"providers_provider"', False),
    ]
    relationship_then_session = [
        ("relationships_relationship", '"relationships_relationship"', True),
        ("sessions_app_session", '"sessions_app_session"', False),
    ]

    found = locks(
        lambda: services.session_log(
            membership=member(provider), relationship=rel, starts_at=at(10, 11), duration=60
        )
    )
    assert_only_own_rows(found)
    assert found[:3] == [relationship_then_session[0], *people]
    for call in (
        lambda: services.session_edit(membership=member(admin), session=logged, duration=75),
        lambda: services.session_complete(
            membership=member(provider), session=scheduled, notes="Done"
        ),
    ):
        found = locks(call)
        assert_only_own_rows(found)
        # The people after the relationship and the session, before any grant.
        assert found[:4] == relationship_then_session + people
    found = locks(lambda: services.session_send_report(membership=member(provider), session=logged))
    assert found == relationship_then_session
    for call in (
        lambda: services.session_confirm(membership=member(student), session=logged),
        lambda: services.session_dispute(
            membership=member(student), session=logged, reason="Too short"
        ),
    ):
        assert locks(call) == [("sessions_app_session", '"sessions_app_session"', True)]
    for call in (
        lambda: services.session_no_show(
            membership=member(admin), session=logged, party="provider"
        ),
        lambda: services.session_cancel(
            membership=member(admin), session=scheduled, reason="Mistake"
        ),
    ):
        found = locks(call)
        assert_only_own_rows(found)
        assert found[:2] == relationship_then_session


def test_without_those_rules_the_people_are_not_locked(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    found = locks(
        lambda: services.session_log(
            membership=member(tenant_a.provider_user),
            relationship=rel,
            starts_at=at(10, 9),
            duration=60,
        )
    )
    assert [
        table for table, _, _ in found if table in ("students_student", "providers_provider")
    ] == []
