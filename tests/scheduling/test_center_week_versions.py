"""The center's week kept under the versions of the center's data and of its hours
(docs/scheduling.md, "Speed"): once committed, any write of the hours, the dated exceptions, the
sessions or the providers shows on the next view, and a view after none reads the two versions
alone. The versions count committed transactions only: these tests commit."""

from datetime import date, datetime, time

import pytest
from django.db import connection, transaction

from providers.models import AvailabilityException, AvailabilityVersion, AvailabilityWindow
from sessions_app import slots
from sessions_app.models import Session
from tests.factories import ProviderFactory, RelationshipFactory
from tests.support import Tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clock")]

MONDAY = date(2025, 6, 9)  # the clock's week (tests/conftest.py: Wednesday June 11 2025)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the versions are kept by PostgreSQL's triggers")


def hours_version(tenant: Tenant) -> int:
    found = AvailabilityVersion.objects.filter(organization=tenant.organization).first()
    return 0 if found is None else found.n


def monday(tenant: Tenant) -> dict[str, tuple[int, int]]:
    org = tenant.organization
    org.refresh_from_db()
    return {
        f"{day.day:%a} {hour.start.astimezone(org.tz):%H}": (hour.open, hour.free)
        for day in slots.center_week(organization=org, first_day=MONDAY)[:1]
        for hour in day.hours
        if hour.open or hour.free
    }


def open_monday(tenant: Tenant) -> AvailabilityWindow:
    return AvailabilityWindow.objects.create(
        organization=tenant.organization,
        provider=ProviderFactory(organization=tenant.organization),
        weekday=0,
        start=time(9),
        end=time(11),
    )


def test_a_warm_week_reads_the_two_versions_alone(
    tenant_a: Tenant, django_assert_num_queries
) -> None:
    open_monday(tenant_a)
    org = tenant_a.organization
    with django_assert_num_queries(3):  # the versions, the fingerprint, the rows with theirs
        slots.center_week(organization=org, first_day=MONDAY)
    with django_assert_num_queries(1):  # the versions
        week = slots.center_week(organization=org, first_day=MONDAY)
    assert (week[0].hours[2].open, week[0].hours[2].free) == (1, 1)  # Monday 09:00


def test_every_transaction_writing_hours_adds_one_to_its_organization_only(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    before_b = hours_version(tenant_b)
    window = open_monday(tenant_a)
    first = hours_version(tenant_a)
    assert first >= 1

    with transaction.atomic():  # two rows, one transaction: one more
        window.end = time(10)
        window.save(update_fields=["end"])
        AvailabilityException.objects.create(
            organization=tenant_a.organization, provider=window.provider, kind="off", date=MONDAY
        )
    assert hours_version(tenant_a) == first + 1

    with connection.cursor() as cursor:  # whatever writes them: SQL too
        cursor.execute(
            "DELETE FROM providers_availabilityexception WHERE provider_id = %s",
            [window.provider_id],
        )
    assert hours_version(tenant_a) == first + 2

    with transaction.atomic():  # a transaction rolled back counts nothing
        window.delete()
        transaction.set_rollback(True)
    assert hours_version(tenant_a) == first + 2
    assert hours_version(tenant_b) == before_b


def test_hours_time_off_and_sessions_show_at_once(tenant_a: Tenant) -> None:
    window = open_monday(tenant_a)
    assert monday(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}
    assert monday(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}  # from the versions' entry

    window.end = time(10)
    window.save(update_fields=["end"])
    assert monday(tenant_a) == {"Mon 09": (1, 1)}

    window.end = time(11)
    window.save(update_fields=["end"])
    off = AvailabilityException.objects.create(
        organization=tenant_a.organization,
        provider=window.provider,
        kind="off",
        date=MONDAY,
        start=time(10),
        end=time(11),
    )
    assert monday(tenant_a) == {"Mon 09": (1, 1)}
    off.delete()
    assert monday(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}

    org = tenant_a.organization
    session = Session.objects.create(
        organization=org,
        relationship=RelationshipFactory(organization=org, provider=window.provider),
        calendar_provider_id=window.provider_id,
        starts_at=datetime.combine(MONDAY, time(9), tzinfo=org.tz),
        duration_minutes=60,
        status="scheduled",
    )
    assert monday(tenant_a) == {"Mon 09": (1, 0), "Mon 10": (1, 1)}
    session.status = "cancelled"
    session.save(update_fields=["status"])
    assert monday(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}

    window.provider.status = "inactive"
    window.provider.save(update_fields=["status"])
    assert monday(tenant_a) == {}


def test_two_organizations_with_the_same_versions_never_share_an_entry(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    open_monday(tenant_a)
    assert monday(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}
    assert monday(tenant_b) == {}
    assert monday(tenant_a) == {"Mon 09": (1, 1), "Mon 10": (1, 1)}
