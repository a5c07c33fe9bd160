"""The hot path's prebuilt statements (`matchpal.prebuilt`) read exactly what their ORM twins
read, field for field, and lock the same rows (docs/sessions.md, "Logging: the query budget").
PostgreSQL only, as the statements are: elsewhere the ORM queries run."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from grants.models import Allocation
from grants.services import holds
from grants.services.posting import lock_grants
from matchpal import prebuilt
from relationships.models import Relationship
from relationships.selectors import visible_to
from sessions_app import services
from sessions_app.models import Session, SessionStatus
from tests.factories import StudentFactory
from tests.support import Tenant, at, log, member, other_provider, paired, past_grant

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("clock"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statements"),
]


def values(instance: Model) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_relationship_lock_reads_what_the_orm_query_reads(tenant_a: Tenant) -> None:
    assert prebuilt.available()
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    with transaction.atomic():
        built = services._lock_relationship_prebuilt(rel.pk)
        orm = (
            Relationship.objects.select_for_update(of=("self",), no_key=True)
            .select_related(*services._LOCKED_WITH)
            .get(pk=rel.pk)
        )
    assert values(built) == values(orm)
    assert not built._state.adding
    assert built._state.db == "default"
    for name in services._LOCKED_WITH:
        mine, theirs = getattr(built, name), getattr(orm, name)
        assert type(mine) is type(theirs)
        assert values(mine) == values(theirs)
    # The related rows came with it: reading them queries nothing.
    assert built.organization.tz == orm.organization.tz
    sql, _ = services._relationship_lock()
    assert sql.endswith('FOR NO KEY UPDATE OF "relationships_relationship"')
    with transaction.atomic(), pytest.raises(Relationship.DoesNotExist):
        services._lock_relationship_prebuilt(rel.pk + 1000)


def test_the_lock_by_public_id_reads_what_the_orm_query_reads_for_each_member(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The log form's lookup and lock in one statement: the relationship the member sees
    (`visible_to`) by its public id, the same row and related rows as the ORM's twin; none of
    another provider, of another student or of another organization."""
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    other_user, _ = other_provider(tenant_a)
    members = {
        "admin": member(tenant_a.admin, tenant_a.organization),
        "provider": member(tenant_a.provider_user, tenant_a.organization),
        "student": member(tenant_a.student_user, tenant_a.organization),
    }
    for who, membership in members.items():
        with transaction.atomic():
            built = services._lock_relationship_of(membership, rel.public_id)
            orm = (
                Relationship.objects.select_for_update(of=("self",), no_key=True)
                .select_related(*services._LOCKED_WITH)
                .filter(visible_to(membership))
                .get(organization_id=membership.organization_id, public_id=rel.public_id)
            )
        assert values(built) == values(orm), who
        for name in services._LOCKED_WITH:
            assert values(getattr(built, name)) == values(getattr(orm, name)), (who, name)
    sql, _ = services._relationship_lock(by_public_id=True, owner="provider")
    assert sql.endswith(
        '"relationships_relationship"."organization_id" = %s AND '
        '"relationships_relationship"."public_id" = %s AND "provider_"."user_id" = %s '
        'FOR NO KEY UPDATE OF "relationships_relationship"'
    )
    strangers = [
        member(other_user, tenant_a.organization),
        member(tenant_b.admin, tenant_b.organization),
    ]
    for stranger in strangers:
        with transaction.atomic(), pytest.raises(Relationship.DoesNotExist):
            services._lock_relationship_of(stranger, rel.public_id)


def test_the_held_locks_read_what_the_orm_queries_read(tenant_a: Tenant) -> None:
    sooner = past_grant(tenant_a.student, 30, expires_at=at(30, 0))
    later = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)  # 30 from the sooner, 270 from the later
    log(tenant_a, rel, at(9, 10), 45)
    other = StudentFactory(organization=tenant_a.organization)
    past_grant(other, 900)
    paired(tenant_a, quantity=60, student=other)  # not this relationship's: not locked
    with transaction.atomic():
        grants, allocations = holds._lock_held(rel.pk)
        held_ids = Allocation.objects.filter(relationship_id=rel.pk).values_list(
            "grant_id", flat=True
        )
        orm_grants = lock_grants(held_ids)
        orm_allocations = holds._allocations_of(rel)
    assert list(grants) == list(orm_grants) == [sooner.pk, later.pk]
    assert [values(g) for g in grants.values()] == [values(g) for g in orm_grants.values()]
    assert list(allocations) == list(orm_allocations) == [sooner.pk, later.pk]
    assert [values(a) for a in allocations.values()] == [
        values(a) for a in orm_allocations.values()
    ]
    grants_sql, _, allocations_sql, _ = holds._held_locks()
    assert grants_sql.endswith('ORDER BY "grants_grant"."id" ASC FOR UPDATE OF "grants_grant"')
    assert allocations_sql.endswith('ORDER BY "grants_allocation"."id" ASC FOR UPDATE')


def test_statements_sent_together_stop_at_the_first_error(tenant_a: Tenant) -> None:
    with transaction.atomic():
        assert prebuilt.send_together([("SELECT 1", []), ("SELECT %s + 1", [2])]) == [
            [(1,)],
            [(3,)],
        ]
    with pytest.raises(DatabaseError), transaction.atomic():
        prebuilt.send_together([("SELECT 1/0", []), ("SELECT 1", [])])


def test_the_session_insert_stores_what_the_orm_save_stores(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    made = [
        Session(
            organization=rel.organization,
            relationship=rel,
            calendar_provider_id=rel.provider_id,
            starts_at=at(10, hour),
            duration_minutes=45,
            notes="Fractions",
            internal_note="Tired",
            internal_note_author=tenant_a.provider_user,
            logged_by=tenant_a.provider_user,
            logged_at=at(10, 12),
            charged_minutes=45,
            provider_pay_rate=Decimal("31.50"),
        )
        for hour in (9, 10)
    ]
    with transaction.atomic():
        statement = prebuilt.insert(made[0])
        statement.run()
        made[1].save(force_insert=True)
    assert made[0].pk is not None
    assert not made[0]._state.adding
    built, orm = (Session.objects.get(pk=s.pk) for s in made)
    differ = {"id", "public_id", "starts_at"}
    assert {k: v for k, v in values(built).items() if k not in differ} == {
        k: v for k, v in values(orm).items() if k not in differ
    }
    assert (built.public_id, built.starts_at) == (made[0].public_id, at(10, 9))
    # The booking's columns too: the provider's calendar, inside the no-overlap rule.
    assert (built.calendar_provider_id, built.exclusive, built.ics_sequence) == (
        rel.provider_id,
        True,
        0,
    )
    assert statement.sql.endswith('RETURNING "id"')


def _sent(call: Callable[[], Any]) -> tuple[list[str], Any]:
    """The SQL of each round trip `call` made, and what it returned."""
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return [q["sql"] for q in captured.captured_queries], result


def test_a_statement_is_prepared_once_per_connection_then_executed(tenant_a: Tenant) -> None:
    """The first round trip on a connection carries the `PREPARE`, the later ones only the
    `EXECUTE`; the rows are the same, a rollback keeps the statement, and a server that forgot
    it (`DEALLOCATE ALL`) costs one failed use, after which it is prepared again."""
    statement = ("SELECT %s::bigint + 1, %s::text || '%%'", [41, "100"])
    with connection.cursor() as cursor:  # a connection that has prepared nothing yet
        cursor.execute("DEALLOCATE ALL")
    prebuilt._PREPARED.pop(connections["default"], None)
    sent, first = _sent(lambda: prebuilt.send_together([statement]))
    assert first == [[(42, "100%")]]
    assert sent[0].startswith("PREPARE matchpal_")
    assert prebuilt.expand(sent[0]) == statement[0]
    with transaction.atomic():
        sent, again = _sent(lambda: prebuilt.send_together([statement]))
        transaction.set_rollback(True)
    assert again == first
    assert sent[0].startswith("EXECUTE matchpal_")
    assert "PREPARE" not in sent[0]
    sent, again = _sent(lambda: prebuilt.send_together([statement]))  # after the rollback
    assert again == first
    assert sent[0].startswith("EXECUTE ")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic():
        prebuilt.send_together([statement])
    sent, again = _sent(lambda: prebuilt.send_together([statement]))
    assert again == first
    assert sent[-1].startswith("PREPARE matchpal_")  # read the server's list, prepared again


def test_parameters_are_declared_as_the_literals_the_client_writes() -> None:
    """A prepared statement resolves its operators as the statement sent whole did: each
    parameter has the type PostgreSQL gives the literal the client's binding writes."""
    declared = prebuilt.declared_types(
        [
            True,
            5,
            3_000_000_000,
            "text",
            SessionStatus.COMPLETED,  # a choice is a string
            datetime(2026, 1, 1, tzinfo=UTC),
            date(2026, 1, 1),
            UUID(int=1),
            Decimal("1.5"),
            timedelta(minutes=5),
            None,
            [1, 2],
        ]
    )
    assert declared == (
        "boolean",
        "integer",
        "bigint",
        "text",
        "text",
        "timestamptz",
        "date",
        "uuid",
        "numeric",
        "interval",
        "unknown",
        "unknown",
    )
    # A string in a place that gives it no type (a select list, COALESCE's fallback) works
    # prepared as it does sent whole; a number too large for an integer is another statement.
    assert prebuilt.fetch("SELECT COALESCE(NULL, %s), %s + 1", ["it's, here", 2**31]) == [
        ("it's, here", 2**31 + 1)
    ]
    assert prebuilt.fetch("SELECT COALESCE(NULL, %s), %s + 1", ["again", 1]) == [("again", 2)]


def test_as_run_writes_the_values_in_their_places() -> None:
    sql = "SELECT %s::text AS a, %s + 1 AS b, %s::timestamptz AS c, '100%%' AS d"
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with CaptureQueriesContext(connection) as captured:
        rows = prebuilt.fetch(sql, ["a, 'quoted' (one)", 41, moment])
        again = prebuilt.fetch(sql, ["b", 1, moment])
    assert rows == [("a, 'quoted' (one)", 42, moment, "100%")]
    assert again == [("b", 2, moment, "100%")]
    first, second = (q["sql"] for q in captured.captured_queries)
    assert first.startswith("PREPARE matchpal_")
    assert second.startswith("EXECUTE matchpal_")
    run = prebuilt.as_run(second)
    assert run.startswith("SELECT 'b'::text AS a, 1 + 1 AS b, '2026-01-02 03:04:05")
    assert run.endswith("'100%' AS d")
    assert "'a, ''quoted'' (one)'::text" in prebuilt.as_run(first)
