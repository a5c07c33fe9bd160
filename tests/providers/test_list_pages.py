"""The providers list: opened unfiltered, its statements are compiled once
(`providers.selectors.unfiltered_list`), every page, and a page past the count, the page
`paginate` gives for the list's queryset; filtered by a service type, a provider offering
several shows once; nothing of another organization shows."""

import pytest
from django.test import RequestFactory, override_settings

from matchpal import pagination
from matchpal.models import ServiceType
from providers import selectors
from tests.factories import ProviderFactory
from tests.support import Tenant, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def center(tenant_a: Tenant, tenant_b: Tenant) -> Tenant:
    for tenant in (tenant_a, tenant_b):
        org = tenant.organization
        ServiceType.objects.get_or_create(organization=org, name="Advising")
        for i in range(7):
            # Names alike, so the id decides between them.
            ProviderFactory(
                organization=org,
                name=f"Provider {i % 3}",
                services=["Tutoring", "Advising"] if i % 2 else ["Tutoring"],
            )
    return tenant_a


@override_settings(MATCHPAL_PAGE_SIZE=3)
def test_every_page_is_the_orm_page(center: Tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    org = center.organization
    for cap in (pagination.COUNT_CAP, 5):  # the count past its cap too
        monkeypatch.setattr(pagination, "COUNT_CAP", cap)
        for query in ("", "?page=2", "?page=3", "?page=4", "?page=99", "?page=x"):
            request = RequestFactory().get(f"/providers/{query}")
            page = selectors.unfiltered_list.paginate(request, organization=org.pk)
            orm = pagination.paginate(request, selectors.provider_rows(organization=org))
            assert [p.pk for p in page.object_list] == [p.pk for p in orm.object_list]
            assert page.number == orm.number
            assert page.paginator.count == orm.paginator.count
            assert page.has_next() == orm.has_next()
            assert all(p.organization_id == org.pk for p in page.object_list)


def test_a_service_type_filter_shows_each_provider_once(center: Tenant) -> None:
    org = center.organization
    advising = ServiceType.objects.get(organization=org, name="Advising")
    response = client_for(center.admin).get(
        f"/o/{org.slug}/providers/", {"service_type": str(advising.public_id)}
    )
    shown = [p.pk for p in response.context["page"].object_list]
    assert len(shown) == len(set(shown)) == 3  # the three of seven offering both
    unfiltered = client_for(center.admin).get(f"/o/{org.slug}/providers/")
    assert unfiltered.context["page"].paginator.count == 8  # the persona's and seven
