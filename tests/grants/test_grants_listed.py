"""An hours page (the admin's and the student's) lists every grant that can still be used and,
of the finished ones (used up, past their expiry or revoked), the last `PAST_GRANTS_SHOWN`;
`?grants=all` lists them all (docs/ledger.md, "Pages"). The balances and the history count
every grant either way."""

import re

import pytest
from django.utils import timezone

from grants import selectors, services
from grants.selectors import PAST_GRANTS_SHOWN
from tests.factories import make_grant
from tests.support import Tenant, client_for

pytestmark = pytest.mark.django_db

LEFT_OUT = 3
NOTE = f"{LEFT_OUT} earlier grants used up, expired or revoked not listed."


@pytest.fixture
def grants(tenant_a: Tenant) -> list[str]:
    """Two usable grants between finished ones, in the list's order (by id: none expires)."""
    references = []
    for n in range(PAST_GRANTS_SHOWN + LEFT_OUT):
        grant = make_grant(student=tenant_a.student, minutes=60, reference=f"Past {n:02d}")
        services.grant_expire(actor=None, grant=grant)
        references.append(grant.reference)
        if n in (1, 7):
            references.append(
                make_grant(student=tenant_a.student, minutes=60, reference=f"Usable {n}").reference
            )
    return references


def listed(body: bytes) -> list[str]:
    """The grants' references, in the grants table's order (the history names them too)."""
    after = re.split(r"[Gg]rants</h2>", body.decode(), maxsplit=1)[1]
    table = after.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"(?:Past \d\d|Usable \d)", table)


def free_to_book(body: bytes) -> list[str]:
    return re.findall(r'data-testid="available-tutoring">([^<]+)<', body.decode())


def test_the_admin_sees_the_usable_grants_and_the_last_finished_ones(
    tenant_a: Tenant, grants: list[str]
) -> None:
    org, student = tenant_a.organization, tenant_a.student
    path = f"/o/{org.slug}/students/{student.public_id}/hours/"
    client = client_for(tenant_a.admin)

    page = client.get(path)
    every = client.get(f"{path}?grants=all")

    assert page.status_code == every.status_code == 200
    every_listed = listed(every.content)
    assert sorted(every_listed) == sorted(grants)
    # The finished grants left out are the first in the list's order.
    left_out = [r for r in every_listed if r.startswith("Past")][:LEFT_OUT]
    assert listed(page.content) == [r for r in every_listed if r not in left_out]
    assert {"Usable 1", "Usable 7"} <= set(listed(page.content))
    assert NOTE in page.content.decode()
    assert "not listed" not in every.content.decode()
    # The balances count every grant either way: the two usable hours.
    assert free_to_book(page.content) == free_to_book(every.content) == ["2 h"]


def test_the_student_sees_the_same_grants(tenant_a: Tenant, grants: list[str]) -> None:
    path = f"/o/{tenant_a.organization.slug}/my/hours/"
    client = client_for(tenant_a.student_user)

    page = client.get(path)
    every = client.get(f"{path}?grants=all")

    rows = [body.decode().count('data-testid="grant"') for body in (page.content, every.content)]
    assert rows == [len(grants) - LEFT_OUT, len(grants)]
    assert NOTE in page.content.decode()
    assert "not listed" not in every.content.decode()


def test_up_to_the_limit_nothing_is_left_out(tenant_a: Tenant) -> None:
    for _ in range(PAST_GRANTS_SHOWN):
        services.grant_expire(actor=None, grant=make_grant(student=tenant_a.student, minutes=60))
    usable = make_grant(student=tenant_a.student, minutes=60)
    grants = selectors.grants_of_student(
        organization=tenant_a.organization, student=tenant_a.student
    )

    shown, left_out = selectors.grants_shown(grants, now=timezone.now(), every=False)

    assert (len(shown), left_out) == (PAST_GRANTS_SHOWN + 1, 0)
    assert usable.pk in [grant.pk for grant in shown]
