"""The `allocation_same_student` check stays an index lookup however often it fires on one
connection: PL/pgSQL switches a query to a generic plan from its sixth run, and a plan that
cannot use the row's id scans every allocation at each firing (scripts/bench_allocation_trigger.py
measures it; docs/indexes.md keeps the figures). Plans are read with `auto_explain`, which logs
the trigger's own statements to the client."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction

from grants.models import Allocation, Grant
from relationships.models import Relationship
from tests.factories import StudentFactory
from tests.scale import Sizes, analyze, fill
from tests.support import NOW

# Past the five custom plans PL/pgSQL makes before it may keep a generic one, on each table:
# a trigger function keeps its plans per table it is a trigger of.
FIRINGS = 8
TABLES = ("grants_allocation", "grants_grant", "relationships_relationship")


@contextmanager
def trigger_plans() -> Iterator[list[str]]:
    """The plans of the trigger function's query, each time it runs inside the block."""
    plans: list[str] = []

    def keep(diagnostic) -> None:  # type: ignore[no-untyped-def]
        message = diagnostic.message_primary or ""
        if "FROM grants_allocation a" in message:
            plans.append(message)

    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        cursor.execute("SET LOCAL auto_explain.log_min_duration = 0")
        cursor.execute("SET LOCAL auto_explain.log_nested_statements = on")
        cursor.execute("SET LOCAL client_min_messages = log")
    raw = connection.connection
    raw.add_notice_handler(keep)
    try:
        yield plans
    finally:
        raw.remove_notice_handler(keep)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL auto_explain.log_min_duration = -1")
            cursor.execute("SET LOCAL client_min_messages = notice")


def check_now() -> None:
    with connection.cursor() as cursor:
        cursor.execute('SET CONSTRAINTS "allocation_same_student" IMMEDIATE')
        cursor.execute('SET CONSTRAINTS "allocation_same_student" DEFERRED')


def allocation_lookup(plan: str) -> str:
    """How the plan finds the allocations to check: the line after the one reading
    grants_allocation, which says by which condition the index is searched."""
    lines = [line.strip() for line in plan.splitlines()]
    reads = [n for n, line in enumerate(lines) if " on grants_allocation a " in line]
    assert len(reads) == 1, plan
    return lines[reads[0] + 1]


def assert_index_lookups(plans: list[str], firings: int = FIRINGS) -> None:
    """Each run of the query looks the written row's allocations up by the row's id: a generic
    plan that cannot do so walks a whole index or table with a filter instead."""
    assert len(plans) == firings, plans
    for plan in plans:
        scanned = [table for table in TABLES if f"Seq Scan on {table}" in plan]
        assert not scanned, plan
        assert allocation_lookup(plan).startswith("Index Cond: ("), plan


@pytest.fixture
def pairings(tenant_a):  # type: ignore[no-untyped-def]
    """A few thousand generated pairings, each holding one grant; the first FIRINGS of them."""
    org = tenant_a.organization
    fill(
        organization_id=org.pk,
        slug=org.slug,
        sizes=Sizes(students=3000, providers=30, sessions=0),
        now=NOW,
    )
    analyze()
    check_now()  # the generated allocations' own checks, before any plan is read
    return list(Allocation.objects.filter(organization=org).order_by("id")[:FIRINGS])


@pytest.mark.django_db
def test_writing_allocations_checks_each_through_an_index(pairings) -> None:
    with transaction.atomic(), trigger_plans() as plans:
        for allocation in pairings:
            Allocation.objects.filter(pk=allocation.pk).update(
                relationship_id=allocation.relationship_id
            )
            check_now()
    assert_index_lookups(plans)


@pytest.mark.django_db
def test_moving_grants_and_relationships_checks_each_through_an_index(pairings, tenant_a) -> None:
    with transaction.atomic(), trigger_plans() as plans:
        for allocation in pairings:
            student = StudentFactory(organization=tenant_a.organization)
            Grant.objects.filter(pk=allocation.grant_id).update(student=student)
            Relationship.objects.filter(pk=allocation.relationship_id).update(student=student)
            check_now()
    assert_index_lookups(plans, firings=2 * FIRINGS)  # a grant's and a relationship's
