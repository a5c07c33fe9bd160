"""`grants_of_student` reads `grant_list`'s grants and their service types with statements
compiled once: the same grants, the same service types in the same order, and nothing more
to query when a page lists them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grants import selectors
from tests.factories import StudentFactory, make_grant
from tests.support import Tenant, service_type

pytestmark = pytest.mark.django_db


def test_the_grants_and_their_service_types_are_grant_lists(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    service_type(org, "Advising")
    make_grant(student=tenant_a.student, minutes=600, service_types=("Tutoring", "Advising"))
    make_grant(student=tenant_a.student, minutes=90)
    make_grant(student=tenant_a.student, minutes=3, unit="sessions", service_types=("Advising",))
    make_grant(student=StudentFactory(organization=org), minutes=60)
    expected = list(selectors.grant_list(organization=org, student=tenant_a.student))
    with CaptureQueriesContext(connection) as queries:
        grants = selectors.grants_of_student(organization=org, student=tenant_a.student)
        shown = [
            (g.pk, g.unit, g.total, g.package_id, [st.name for st in g.service_types.all()])
            for g in grants
        ]
    assert len(queries) == 1  # the grants and their service types in one round trip
    assert shown == [
        (g.pk, g.unit, g.total, g.package_id, [st.name for st in g.service_types.all()])
        for g in expected
    ]
    assert shown[0][4] == ["Advising", "Tutoring"]
