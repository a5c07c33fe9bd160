"""On SQLite (`make run`) no trigger keeps the admin home's summaries: the hours per service type
and the sessions' figures are computed from the grants, the ledger's credits and the sessions
there. Both ways give the same figures on the known history (run here on PostgreSQL, where the
summaries are kept, with the fallback forced; on SQLite, where the test runs too, both are the
fallback, and its figures are not zero)."""

from dataclasses import asdict

import pytest

from reports import dashboard
from tests.reports.ledger_history import History, build_history
from tests.support import Tenant, at, log_as_admin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock"), pytest.mark.sqlite]


@pytest.fixture
def history(tenant_a: Tenant) -> History:
    built = build_history(tenant_a)
    rel = built.r1
    log_as_admin(tenant_a, rel, at(2, 10), 50)
    return built


def figures(history: History) -> tuple[list[dict[str, object]], dict[str, object]]:
    org = history.tenant.organization
    sessions = dashboard.session_figures(org)
    return (
        [asdict(h) for h in dashboard.center_hours(org)],
        {
            "week": asdict(sessions["week"]),
            "month": asdict(sessions["month"]),
            "weekly": [asdict(p) for p in sessions["weekly"].periods],
            "monthly": [asdict(p) for p in sessions["monthly"].periods],
        },
    )


def test_the_fallback_gives_the_summaries_figures(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = figures(history)
    monkeypatch.setattr(dashboard, "summaries_kept", lambda: False)
    computed = figures(history)

    assert computed == kept
    hours, sessions = computed
    assert any(h["purchased"] and h["used"] for h in hours)
    assert sum(p["completed"] for p in sessions["monthly"]) > 0  # type: ignore[misc]
