"""The scheduling world: the clock at NOW (Wednesday June 11 2025, noon in New York); the
student of tenant A paired with the provider for tutoring, 10 h reserved; the provider open on
Thursdays 15:00–18:00."""

import pytest

from relationships.models import Relationship
from tests.scheduling.support import hours
from tests.support import Tenant, paired, past_grant


@pytest.fixture
def rel(clock: object, tenant_a: Tenant) -> Relationship:
    past_grant(tenant_a.student, 900)
    relationship = paired(tenant_a, quantity=600)
    hours(tenant_a, 3, "15:00", "18:00")
    return relationship
