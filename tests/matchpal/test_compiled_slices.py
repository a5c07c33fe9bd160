"""Compiled statements with a slice's bounds as values (`matchpal.compiled.Rows`) and their
count: the ORM's rows for every offset and limit, one statement, the bounds bound per call."""

import pytest
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.test.utils import CaptureQueriesContext

from matchpal import prebuilt
from matchpal.compiled import Compiled, Rows
from students.models import Student
from tests.factories import StudentFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="compiled statements are PostgreSQL's"
)


def listed(organization: int, threshold: int):  # type: ignore[no-untyped-def]
    """Students with an annotation compared with a value (bound as psycopg's `Int4`)."""
    return (
        Student.objects.filter(organization_id=organization)
        .annotate(short=ExpressionWrapper(Q(pk__lt=threshold), output_field=BooleanField()))
        .annotate(twice=F("pk") * 2)
        .order_by("name", "id")
    )


PAGE = Compiled(
    lambda organization, threshold, offset, limit: (
        students := listed(organization, threshold)
    ).filter(pk__in=students.values("pk")[offset : offset + limit]),
    organization=int,
    threshold=int,
    offset=Rows,
    limit=Rows,
)
COUNTED = Compiled(
    lambda organization, limit: listed(organization, 0).order_by().values("pk")[:limit],
    organization=int,
    limit=Rows,
)


@pytest.fixture
def seven(tenant_a: Tenant, tenant_b: Tenant) -> list[Student]:
    for name in ("Gus", "Ann", "Eve", "Bob", "Fay", "Cid"):
        StudentFactory(organization=tenant_a.organization, name=name)
    StudentFactory(organization=tenant_b.organization, name="Abe")
    return list(Student.objects.filter(organization=tenant_a.organization).order_by("name", "id"))


def shown(rows: list[Student]) -> list[tuple[int, str, bool, int]]:
    return [(s.pk, s.name, s.short, s.twice) for s in rows]  # type: ignore[attr-defined]


def test_every_slice_is_the_orm_slice(tenant_a: Tenant, seven: list[Student]) -> None:
    org = tenant_a.organization.pk
    threshold = seven[3].pk
    for offset in range(0, 9):
        for limit in (1, 3, 25):
            orm = listed(org, threshold)
            expected = list(orm.filter(pk__in=orm.values("pk")[offset : offset + limit]))
            rows = PAGE.rows(organization=org, threshold=threshold, offset=offset, limit=limit)
            assert shown(rows) == shown(expected), (offset, limit)
            assert [s.pk for s in rows] == [s.pk for s in seven[offset : offset + limit]]


def test_the_count_stops_at_its_limit(tenant_a: Tenant, seven: list[Student]) -> None:
    org = tenant_a.organization.pk
    assert COUNTED.count(organization=org, limit=100) == len(seven) == 7
    assert COUNTED.count(organization=org, limit=3) == 3
    assert COUNTED.count(organization=org, limit=0) == 0


@on_postgresql
def test_the_bounds_are_parameters_of_one_statement(tenant_a: Tenant, seven: list[Student]) -> None:
    org = tenant_a.organization.pk
    assert "LIMIT %s OFFSET %s" in PAGE.sql()
    assert COUNTED.sql().endswith("LIMIT %s")
    with CaptureQueriesContext(connection) as captured:
        PAGE.rows(organization=org, threshold=0, offset=2, limit=2)
        COUNTED.count(organization=org, limit=5)
    assert len(captured.captured_queries) == 2
    # Each is sent prepared on the connection: the statement's text, then its values (the
    # limit and the offset the last two, as `LIMIT %s OFFSET %s` binds them).
    page, counted = (q["sql"] for q in captured.captured_queries)
    assert "LIMIT %s OFFSET %s" in prebuilt.expand(page)
    assert page.endswith(", 2, 2)")
    assert prebuilt.expand(counted).startswith("SELECT COUNT(*) FROM (")
    assert counted.endswith(", 5)")


def test_a_slice_bound_is_a_number_of_rows(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    for bad in (-1, True, "2", 2.0):
        with pytest.raises(TypeError, match="a number of rows"):
            PAGE.rows(organization=org, threshold=0, offset=bad, limit=2)
