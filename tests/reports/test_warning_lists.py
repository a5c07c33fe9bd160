"""The warning signs' list pages (`reports.views.warning_list`): each shows the sign's rows of
its own center in its order (sessions newest first, pairings by their last session, oldest
first), a page at a time, read ids first from the signs' summaries
(`matchpal.pagination.paginate_by_ids`)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reports import dashboard
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory
from tests.support import Tenant, client_for

pytestmark = pytest.mark.django_db


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


def _cancel(relationship, *days_ago: float) -> None:  # type: ignore[no-untyped-def]
    for days in days_ago:
        SessionFactory(
            relationship=relationship,
            starts_at=timezone.now() - timedelta(days=days),
            status="cancelled",
        )


def _page(tenant: Tenant, sign: str, query: str = ""):  # type: ignore[no-untyped-def]
    url = reverse(f"warning_{sign}", args=[tenant.organization.slug]) + query
    response = client_for(tenant.admin).get(url)
    assert response.status_code == 200
    return response


def _names(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The students of the page's rows, in order."""
    rows = response.context["page"].object_list
    if response.context["sign"] == "short":
        return [row.relationship.student.name for row in rows]
    return [row.student.name for row in rows]


def test_each_list_shows_its_rows_in_its_order(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _pairing(tenant_a, "Regular", 35, 28, 21, 14, 7, 1)
    _pairing(tenant_a, "Gap 60", 80, 70, 60)
    _pairing(tenant_a, "Gap 30", 50, 40, 30)
    _pairing(tenant_a, "Irregular 2", 60, 59, 58, 40, 39, 2)
    _pairing(tenant_a, "Irregular 5", 61, 60, 59, 41, 40, 5)
    _pairing(tenant_a, "Idle late", paired_at=timezone.now() - timedelta(days=40))
    _pairing(tenant_a, "Idle early", paired_at=timezone.now() - timedelta(days=80))
    short_old = _pairing(tenant_a, "Short 9", 30, 23, 16)
    SessionFactory(
        relationship=short_old, starts_at=timezone.now() - timedelta(days=9), duration_minutes=10
    )
    short_new = _pairing(tenant_a, "Short 3", 24, 17, 10)
    SessionFactory(
        relationship=short_new, starts_at=timezone.now() - timedelta(days=3), duration_minutes=10
    )
    # Any status of the pairing, as the sign counts: an ended one with its cancellations too.
    _cancel(_pairing(tenant_a, "Cancelling", 25), 1, 2, 3)
    _cancel(_pairing(tenant_a, "Ended cancelling", 40, status="completed"), 4, 5, 6)
    _cancel(_pairing(tenant_a, "Cancelled twice", 10), 1, 2)
    # Another center's rows of every sign.
    _pairing(tenant_b, "B gap", 60)
    _pairing(tenant_b, "B idle")
    _cancel(_pairing(tenant_b, "B cancelling", 20), 1, 2, 3)

    # The ended pairing is not paired: no long gap.
    assert _names(_page(tenant_a, "long_gap")) == ["Gap 60", "Gap 30", "Cancelling"]
    assert _names(_page(tenant_a, "irregular")) == ["Irregular 5", "Irregular 2"]
    assert _names(_page(tenant_a, "idle")) == ["Idle early", "Idle late"]
    assert _names(_page(tenant_a, "short")) == ["Short 3", "Short 9"]
    # Oldest last session first: the ended pairing's (40 days) before the other's (25).
    assert _names(_page(tenant_a, "repeated_cancellations")) == [
        "Ended cancelling",
        "Cancelling",
    ]

    # Each list is its count on the home.
    org = tenant_a.organization
    counts = dashboard.warning_counts(org, dashboard.Thresholds.of(org))
    for sign, n in counts.items():
        assert _page(tenant_a, sign).context["page"].paginator.count == n, sign


def test_a_long_list_pages(tenant_a: Tenant, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_PAGE_SIZE = 2
    for days in (70, 60, 50, 40, 30):
        _pairing(tenant_a, f"Gap {days}", days)

    first = _page(tenant_a, "long_gap")
    assert _names(first) == ["Gap 70", "Gap 60"]
    assert "Page 1 of 3" in first.content.decode()
    assert _names(_page(tenant_a, "long_gap", "?page=2")) == ["Gap 50", "Gap 40"]
    assert _names(_page(tenant_a, "long_gap", "?page=3")) == ["Gap 30"]
    # Past the end: the last page; not a number (the benchmark's label `?page=last` is only a
    # label: it requests the last page by its number): the first.
    assert _names(_page(tenant_a, "long_gap", "?page=9")) == ["Gap 30"]
    assert _names(_page(tenant_a, "long_gap", "?page=last")) == ["Gap 70", "Gap 60"]


def test_short_sessions_page_newest_first(tenant_a: Tenant, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_PAGE_SIZE = 2
    pairing = _pairing(tenant_a, "Short", 28, 27, 26)
    for days in (5, 4, 3):
        SessionFactory(
            relationship=pairing,
            starts_at=timezone.now() - timedelta(days=days),
            duration_minutes=10,
        )
    first = _page(tenant_a, "short").context["page"]
    second = _page(tenant_a, "short", "?page=2").context["page"]
    starts = [s.starts_at for s in [*first.object_list, *second.object_list]]
    assert len(starts) == 3
    assert starts == sorted(starts, reverse=True)
    assert first.paginator.count == 3


def test_another_centers_admin_gets_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _pairing(tenant_a, "Gap", 60)
    url = reverse("warning_long_gap", args=[tenant_a.organization.slug])
    assert client_for(tenant_b.admin).get(url).status_code == 404
