"""The lists opened unfiltered are read by statements compiled once (`CompiledList`): every
page, and a page past the count, is the page `paginate` gives for the list's queryset."""

from datetime import timedelta

import pytest
from django.test import RequestFactory, override_settings
from django.utils import timezone

from matchpal import pagination
from matchpal.models import Membership
from relationships import selectors as relationships
from sessions_app import selectors as sessions
from students import selectors as students
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory, make_grant
from tests.support import Tenant, other_provider

pytestmark = pytest.mark.django_db

QUERIES = ("", "?page=2", "?page=3", "?page=4", "?page=99", "?page=x")


@pytest.fixture
def center(tenant_a: Tenant, tenant_b: Tenant) -> Tenant:
    """Students with and without hours, pairings of two providers and their sessions, in A;
    a few in B that no page of A may show."""
    now = timezone.now()
    _, someone = other_provider(tenant_a)
    for tenant, providers in ((tenant_a, (tenant_a.provider, someone)), (tenant_b, ())):
        for i in range(5):
            student = StudentFactory(organization=tenant.organization, name=f"Student {i % 3}")
            if i % 2:
                make_grant(student=student, minutes=60 * i)
            for provider in providers or (tenant.provider,):
                pairing = RelationshipFactory(
                    organization=tenant.organization, student=student, provider=provider
                )
                SessionFactory(relationship=pairing, starts_at=now - timedelta(days=i))
    return tenant_a


def same_page(compiled, orm) -> None:  # type: ignore[no-untyped-def]
    assert [row.pk for row in compiled.object_list] == [row.pk for row in orm.object_list]
    assert compiled.number == orm.number
    assert compiled.paginator.count == orm.paginator.count
    assert compiled.has_next() == orm.has_next()


@override_settings(MATCHPAL_PAGE_SIZE=2)
def test_every_page_is_the_orm_page(center: Tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    org = center.organization
    admin = Membership.objects.get(user=center.admin, organization=org)
    provider = Membership.objects.get(user=center.provider_user, organization=org)
    now = timezone.now()
    for cap in (pagination.COUNT_CAP, 5):  # the count past its cap too
        monkeypatch.setattr(pagination, "COUNT_CAP", cap)
        for query in QUERIES:
            request = RequestFactory().get(f"/list/{query}")
            page = students.unfiltered_list.paginate(
                request,
                organization=org.pk,
                threshold=org.low_balance_threshold_minutes,
                now=now,
            )
            orm = pagination.paginate(request, students.student_list(organization=org, now=now))
            same_page(page, orm)
            assert [(s.free_minutes, s.low_balance) for s in page.object_list] == [
                (s.free_minutes, s.low_balance) for s in orm.object_list
            ]
            for member in (admin, provider):
                same_page(
                    relationships.unfiltered_page(request, membership=member),
                    pagination.paginate(
                        request,
                        relationships.relationship_list(
                            organization=org, membership=member
                        ).order_by("-created_at", "-id"),
                    ),
                )
                same_page(
                    sessions.unfiltered_page(request, membership=member),
                    pagination.paginate(
                        request, sessions.session_rows(organization=org, membership=member)
                    ),
                )


def test_only_a_page_number_is_unfiltered() -> None:
    factory = RequestFactory()
    assert pagination.only_paged(factory.get("/l/"))
    assert pagination.only_paged(factory.get("/l/", {"page": "3", "q": "", "status": ""}))
    assert not pagination.only_paged(factory.get("/l/", {"q": "ann"}))
    assert not pagination.only_paged(factory.get("/l/", {"student_search": "ann"}))
    assert not pagination.only_paged(factory.get("/l/?status=&status=paired"))


def test_a_page_is_read_by_its_ids_alone() -> None:
    """The page's statement filters its rows by the slice's ids and nothing else: the list's
    own filters (the organization's first) stay inside the slice, where they choose the rows,
    and off the outer statement, where a generic plan would start from them."""
    lists = [
        *((listed, "relationships_relationship") for listed in relationships._unfiltered.values()),
        *((listed, "sessions_app_session") for listed in sessions._unfiltered.values()),
        (students.unfiltered_list, "students_student"),
    ]
    for listed, table in lists:
        sql = listed.page.sql()
        assert f'WHERE "{table}"."id" IN (SELECT ' in sql, sql
        assert f'"{table}"."organization_id" =' not in sql, sql
