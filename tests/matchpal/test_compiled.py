"""Querysets compiled once (`matchpal.compiled`): the same rows as the ORM's, the call's
values bound each time, and a refusal for every statement whose SQL would not stay exact."""

import uuid
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count, F, Q
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grants.models import Grant
from matchpal import compiled
from matchpal.compiled import Compiled, NotCompilable
from sessions_app.models import Session
from students.models import Student
from tests.factories import StudentFactory
from tests.support import Tenant, past_grant

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="compiled statements are PostgreSQL's"
)


def fields(row: object) -> dict[str, object]:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}


GRANTS = Compiled(
    lambda organization, student, since: (
        Grant.objects.filter(
            organization_id=organization, student_id=student, valid_from__lte=since
        )
        .select_related("student", "package")
        .annotate(left=F("total") - F("used"))
        .order_by("id")
    ),
    organization=int,
    student=int,
    since=datetime,
)


def test_rows_are_the_orm_rows_with_their_joins_and_annotations(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    past_grant(tenant_a.student, 90)
    other = StudentFactory(organization=tenant_a.organization)
    past_grant(other, 30)
    for student in (tenant_a.student, other):
        values = {
            "organization": tenant_a.organization.pk,
            "student": student.pk,
            "since": timezone.now(),
        }
        rows, orm = GRANTS.rows(**values), list(GRANTS.queryset(**values))
        assert [fields(r) for r in rows] == [fields(r) for r in orm]
        assert [r.left for r in rows] == [r.left for r in orm]
        with CaptureQueriesContext(connection) as queries:
            assert [fields(r.student) for r in rows] == [fields(r.student) for r in orm]
        assert len(queries) == 0
        assert all(not r._state.adding and r._state.db == "default" for r in rows)


def test_values_are_bound_per_call(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    values = {"organization": tenant_a.organization.pk, "student": tenant_a.student.pk}
    before = GRANTS.rows(**values, since=grant.valid_from - timedelta(seconds=1))
    after = GRANTS.rows(**values, since=grant.valid_from)
    assert (before, [r.pk for r in after]) == ([], [grant.pk])
    elsewhere = values | {"organization": tenant_a.organization.pk + 1000}
    assert GRANTS.rows(**elsewhere, since=grant.valid_from) == []


def test_values_and_values_list_rows(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    past_grant(tenant_a.student, 60)
    counts = Compiled(
        lambda organization: (
            Grant.objects.filter(organization_id=organization)
            .order_by()
            .values("student_id")
            .annotate(n=Count("pk"))
        ),
        organization=int,
    )
    flat = Compiled(
        lambda organization: (
            Grant.objects.filter(organization_id=organization)
            .order_by("total")
            .values_list("total", flat=True)
        ),
        organization=int,
    )
    org = tenant_a.organization.pk
    assert counts.rows(organization=org) == [{"student_id": tenant_a.student.pk, "n": 2}]
    assert flat.rows(organization=org) == [60, 600]


@on_postgresql
def test_one_statement_a_call_and_the_sql_compiled_once(tenant_a: Tenant) -> None:
    values = {
        "organization": tenant_a.organization.pk,
        "student": tenant_a.student.pk,
        "since": timezone.now(),
    }
    GRANTS.rows(**values)
    sql = GRANTS.sql()
    with CaptureQueriesContext(connection) as queries:
        GRANTS.rows(**values)
    assert len(queries) == 1
    assert GRANTS.sql() is sql
    assert str(tenant_a.student.pk) in queries[0]["sql"]


@on_postgresql
@pytest.mark.parametrize(
    ("build", "reason"),
    [
        # The clock read by the statement itself.
        (lambda organization: Grant.objects.filter(expires_at__lt=Now()), "varies"),
        # The clock read by the build function: a fixed parameter that is not fixed.
        (
            lambda organization: Grant.objects.filter(
                organization_id=organization, expires_at__lt=timezone.now()
            ),
            "changes between builds",
        ),
        # A list whose length follows the value.
        (
            lambda organization: Grant.objects.filter(pk__in=range(organization % 3 + 1)),
            "depends on the values",
        ),
        # A value the ORM does not bind as given (turned into a pattern).
        (
            lambda organization: Student.objects.filter(name__icontains=str(organization)),
            "changes between builds",
        ),
        # A value the statement does not use.
        (lambda organization: Grant.objects.all(), "not bound as given"),
        # Queries of its own.
        (
            lambda organization: Grant.objects.filter(
                organization_id=organization
            ).prefetch_related("service_types"),
            "prefetch_related",
        ),
    ],
)
def test_refuses_what_would_not_stay_exact(build, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotCompilable, match=reason):
        Compiled(build, organization=int).rows(organization=1)


@on_postgresql
def test_refuses_a_build_that_compares_its_values() -> None:
    """The markers stand in for the values: the earliest of two markers is not the earliest
    of two moments of a call, so such a statement would keep the first build's answer."""
    statement = Compiled(
        lambda week, month: Grant.objects.filter(valid_from__gte=min(week, month)),
        week=datetime,
        month=datetime,
    )
    with pytest.raises(NotCompilable, match="depend on the values"):
        statement.rows(week=timezone.now(), month=timezone.now())


def test_values_of_the_declared_kinds_only() -> None:
    with pytest.raises(TypeError):
        Compiled(lambda flag: Grant.objects.all(), flag=bool)
    statement = Compiled(
        lambda day, key: Session.objects.filter(Q(starts_at__date=day) | Q(public_id=key)),
        day=date,
        key=uuid.UUID,
    )
    with pytest.raises(TypeError):
        statement.rows(day=timezone.now(), key=uuid.uuid4())
    with pytest.raises(TypeError):
        statement.rows(day=date(2026, 1, 1))
    with pytest.raises(TypeError):
        GRANTS.rows(organization=1, student=1, since=datetime(2026, 1, 1))


def test_without_postgresql_the_orm_runs(tenant_a: Tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(compiled, "available", lambda alias="default": False)
    grant = past_grant(tenant_a.student, 600)
    fresh = Compiled(
        lambda organization: Grant.objects.filter(organization_id=organization),
        organization=int,
    )
    assert [g.pk for g in fresh.rows(organization=tenant_a.organization.pk)] == [grant.pk]
