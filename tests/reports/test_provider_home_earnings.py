"""The provider home's earnings, read by a statement compiled once (`matchpal.compiled`), are
`sessions_app.selectors.earnings_since`'s, whichever of the week and the month began first."""

import pytest

from matchpal.models import Role
from reports import selectors
from sessions_app import selectors as sessions
from tests.support import Tenant, at, log, member, paired, past_grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.mark.parametrize(
    ("week", "month"),
    [
        (at(8, 0), at(1, 0)),  # the month began first
        (at(1, 0), at(3, 0)),  # the week began first (a month starting mid-week)
    ],
)
def test_the_home_earnings_are_earnings_since(tenant_a: Tenant, week, month) -> None:  # type: ignore[no-untyped-def]
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    for day, minutes in ((2, 30), (4, 45), (9, 60)):
        log(tenant_a, rel, at(day, 10), minutes, by="admin")
    membership = member(tenant_a.provider_user, tenant_a.organization)
    assert membership.role == Role.PROVIDER
    keys = {"organization": tenant_a.organization.pk, "user": membership.user_id}
    rows = selectors._provider_earnings.rows(**keys, week=week, month=month, since=min(week, month))
    shown = selectors._earnings(rows)
    expected = sessions.earnings_since(
        organization=tenant_a.organization, membership=membership, starts=[week, month]
    )
    assert (shown["week_minutes"], shown["week_earnings"]) == (
        expected[0].minutes,
        expected[0].amount,
    )
    assert (shown["month_minutes"], shown["month_earnings"]) == (
        expected[1].minutes,
        expected[1].amount,
    )
    assert shown["month_minutes"] != shown["week_minutes"]
