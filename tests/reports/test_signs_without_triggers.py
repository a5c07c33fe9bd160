"""On SQLite (`make run`) no trigger keeps the warning signs' summaries (`PairingActivity`,
`ShortSession`): there the signs rewrite the center's rows from its relationships and sessions
before reading them (`reports.dashboard.refresh_signs`). Here, on PostgreSQL, the triggers'
rows, counts and lists are taken first, then the rewrite is forced and must give the same rows,
counts and lists; on SQLite, where the test runs too, both are the rewrite, and the counts are
the expected ones, not zero."""

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from reports import dashboard
from reports.digests import idle_relationships
from sessions_app.models import PairingActivity, ShortSession
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory
from tests.support import Tenant, client_for

# The real clock: the triggers re-decide the short sessions of the last year of the database's
# own clock when the center's thresholds move.
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

EXPECTED = {"short": 3, "long_gap": 2, "irregular": 1, "idle": 1, "repeated_cancellations": 1}


def _pairing(tenant: Tenant, name: str, *days_ago: float, minutes: int = 60, **kw: object):  # type: ignore[no-untyped-def]
    now = timezone.now()
    relationship = RelationshipFactory(
        organization=tenant.organization,
        student=StudentFactory(organization=tenant.organization, name=name),
        **{"paired_at": now - timedelta(days=90), **kw},
    )
    for days in days_ago:
        SessionFactory(
            relationship=relationship,
            starts_at=now - timedelta(days=days),
            duration_minutes=minutes,
        )
    return relationship


def _cancelled(relationship: Any, *days_ago: float) -> None:
    for days in days_ago:
        SessionFactory(
            relationship=relationship,
            starts_at=timezone.now() - timedelta(days=days),
            status="cancelled",
        )


@pytest.fixture
def center(tenant_a: Tenant, tenant_b: Tenant) -> Tenant:
    """Each sign present once or more, with a counter-example beside it."""
    now = timezone.now()
    _pairing(tenant_a, "Regular", 35, 28, 21, 14, 7, 1)  # no sign
    _pairing(tenant_a, "Gap", 60, 50, 40, 30)  # long gap
    _pairing(tenant_a, "Irregular", 60, 59, 58, 40, 39, 2)  # irregular
    _pairing(tenant_a, "Uneven", 20.5, 16.25, 12.75, 8.1, 4.3, 0.2)  # a variation under 50 %
    _pairing(tenant_a, "Idle")  # never met, paired 90 days ago
    _pairing(tenant_a, "Newly paired", paired_at=now - timedelta(days=3))  # not idle yet
    _pairing(tenant_a, "Ended", 90, status="completed")  # a gap, but not paired
    short = _pairing(tenant_a, "Short", 20, 13, 6)
    SessionFactory(relationship=short, starts_at=now - timedelta(days=2), duration_minutes=25)
    _pairing(tenant_a, "Tiny", 3, 2, minutes=4)  # both under the 5-minute minimum
    _pairing(tenant_a, "Old short", 45, 44, minutes=4)  # before the 30-day window
    _cancelled(_pairing(tenant_a, "Cancelling", 1), 2, 3, 4)  # repeated cancellations
    _cancelled(_pairing(tenant_a, "Cancelled twice", 1), 2, 3)  # under the threshold
    _cancelled(_pairing(tenant_a, "Cancelled long ago", 1), 2, 70, 80)
    _pairing(tenant_b, "Other center gap", 60)
    _pairing(tenant_b, "Other center idle")
    return tenant_a


def _rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    activity = PairingActivity.objects.order_by("relationship_id").values_list(
        "relationship_id",
        "organization_id",
        "status",
        "paired_at",
        "completed",
        "minutes",
        "last_session_at",
        "gap_variation",
    )
    short = ShortSession.objects.order_by("session_id").values_list(
        "session_id", "organization_id", "relationship_id", "starts_at"
    )
    return list(activity), list(short)


def _listed(listed: dashboard.SignList) -> list[int]:
    """Every row of a sign's list, in its order."""
    return [row.pk for row in listed.rows.filter(pk__in=listed.ids)]


def _signs(tenant: Tenant) -> tuple[dict[str, int], dict[str, list[int]], list[int]]:
    org = tenant.organization
    limits = dashboard.Thresholds.of(org)
    counts = dashboard.warning_counts(org, limits)
    lists = {sign: _listed(dashboard.sign_list(org, sign, limits)) for sign in dashboard.SIGNS}
    digest = [row.pk for row in idle_relationships(org, limits)]
    return counts, lists, digest


def test_the_signs_from_the_sessions_equal_the_triggers(
    center: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept_signs = _signs(center)
    kept_rows = _rows()
    monkeypatch.setattr(dashboard, "summaries_kept", lambda: False)
    computed_signs = _signs(center)

    assert _rows() == kept_rows
    assert computed_signs == kept_signs
    counts, lists, digest = computed_signs
    assert counts == EXPECTED
    assert {sign: len(rows) for sign, rows in lists.items()} == EXPECTED
    assert len(digest) == 3  # the long gaps ("Gap", "Old short") and the idle pairing
    gap_variations = {row[7] for row in kept_rows[0]}
    assert 0 in gap_variations  # "Regular"
    assert len(gap_variations - {None, 0}) >= 2  # "Irregular", "Uneven"


def test_a_change_of_the_settings_moves_the_signs_from_the_sessions_too(
    center: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = center.organization
    org.warning_gap_days = 10
    org.warning_short_session_percent = 40
    org.warning_irregular_percent = 200
    org.min_session_minutes = 3
    org.save()
    kept = _signs(center)
    kept_rows = _rows()
    monkeypatch.setattr(dashboard, "summaries_kept", lambda: False)

    assert _signs(center) == kept
    assert _rows() == kept_rows
    assert kept[0]["short"] == 0
    assert kept[0]["long_gap"] == 2


def test_the_home_and_the_lists_show_the_signs(center: Tenant) -> None:
    """The pages themselves, on whichever database runs the test (SQLite: from the sessions)."""
    slug = center.organization.slug
    client = client_for(center.admin)
    response = client.get(reverse("org_home", args=[slug]))
    assert response.status_code == 200
    assert response.context["warnings"] == EXPECTED
    listed = client.get(reverse("warning_long_gap", args=[slug])).content.decode()
    rows = listed.split('data-testid="warning-rows"')[1].split("</table>")[0]
    assert ">Gap<" in rows or "<td>Gap</td>" in rows
    assert "Regular" not in rows
