"""The migrations that fill a large table run in short batches while the old version serves
(docs/deploy.md, "Migrations while the old version serves"): the Sessions report's roll-ups
filled a month of one center at a time (`reports.0002_fill_rollups`), the session's provider
copied in batches, then made required by short steps (`sessions_app.0011`, `.0012`), the
warning signs' summaries filled by batches of relationships (`sessions_app.0013`) and the
center balances by batches of grants (`grants.0014`). Each ends
where the single statement it replaces did, and can run again. PostgreSQL only (the roll-ups and
the constraints live there)."""

from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from grants.balances import center_differences
from grants.models import CenterBalance
from reports.models import PayrollPeriod, RelationshipPeriod, SessionHour
from reports.rollups import find_differences
from sessions_app.models import PairingActivity, Session, ShortSession
from sessions_app.rollups import differences as pairing_differences
from tests.reports.history import History, build
from tests.reports.ledger_history import build_history
from tests.support import Tenant

pytestmark = [pytest.mark.django_db]

fill_rollups = import_module("reports.migrations.0002_fill_rollups")
fill_payroll = import_module("reports.migrations.0004_fill_payroll_and_longer_grains")
copy_providers = import_module("sessions_app.migrations.0011_booking_provider_backfill")
require_provider = import_module("sessions_app.migrations.0012_booking_provider_required")
fill_activity = import_module("sessions_app.migrations.0013_pairing_activity_fill")
fill_center = import_module("grants.migrations.0014_center_balance_fill")


@pytest.fixture
def history(clock: object, tenant_a: Tenant, tenant_b: Tenant) -> History:
    build_history(tenant_b)  # May, in the other center
    return build(tenant_a)  # June


@pytest.fixture
def editor() -> Any:
    """What the migrations' functions use of a schema editor: its connection."""
    return SimpleNamespace(connection=connection)


def rows_of(model: Any) -> list[tuple[Any, ...]]:
    fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
    return sorted(model.objects.values_list(*fields))


def test_the_batched_fill_ends_with_the_rollups_the_triggers_keep(
    history: History, editor: Any
) -> None:
    kept = rows_of(SessionHour), rows_of(RelationshipPeriod), rows_of(PayrollPeriod)
    assert all(kept)
    SessionHour.objects.all().delete()
    RelationshipPeriod.objects.all().delete()
    PayrollPeriod.objects.all().delete()

    fill_rollups.fill(None, editor)
    fill_payroll.fill(None, editor)  # the payroll, and the relationships' quarters and years

    assert (rows_of(SessionHour), rows_of(RelationshipPeriod), rows_of(PayrollPeriod)) == kept
    assert find_differences() == []
    fill_rollups.fill(None, editor)  # again: each batch replaces its month
    fill_payroll.fill(None, editor)
    assert (rows_of(SessionHour), rows_of(RelationshipPeriod), rows_of(PayrollPeriod)) == kept


def test_stale_payroll_rows_are_replaced_not_added_to(history: History, editor: Any) -> None:
    kept = rows_of(PayrollPeriod)
    PayrollPeriod.objects.update(rows=99, minutes_charged=-3)

    fill_payroll.fill(None, editor)

    assert rows_of(PayrollPeriod) == kept


def test_a_month_holding_stale_rows_is_replaced_not_added_to(history: History, editor: Any) -> None:
    kept = rows_of(SessionHour)
    SessionHour.objects.update(sessions=99, completed=-3)  # what a write between batches leaves

    fill_rollups.fill(None, editor)

    assert rows_of(SessionHour) == kept


def test_the_providers_are_copied_in_batches_then_required(
    history: History, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = sorted(Session.objects.values_list("pk", "relationship__provider_id"))
    with connection.cursor() as cursor:
        # The deferred tenant keys checked now: ALTER TABLE refuses pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE sessions_app_session ALTER COLUMN provider_id DROP NOT NULL")
        cursor.execute("UPDATE sessions_app_session SET provider_id = NULL")
    monkeypatch.setattr(copy_providers, "BATCH", 3)  # several batches over the test's sessions
    last = max(pk for pk, _ in expected)
    with connection.cursor() as cursor:
        # A session the old version writes after its batch went by.
        cursor.execute("UPDATE sessions_app_session SET provider_id = NULL WHERE id = %s", [last])

    copy_providers.copy_providers(None, editor)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE sessions_app_session SET provider_id = NULL WHERE id = %s", [last])
    step = require_provider.Migration.operations[0]
    step.database_forwards("sessions_app", editor, None, None)
    step.database_forwards("sessions_app", editor, None, None)  # again: nothing left to do

    assert sorted(Session.objects.values_list("pk", "calendar_provider_id")) == expected
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT is_nullable FROM information_schema.columns "
            "WHERE table_name = 'sessions_app_session' AND column_name = 'provider_id'"
        )
        assert cursor.fetchone() == ("NO",)
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint "
            "WHERE conrelid = 'sessions_app_session'::regclass AND conname IN "
            "('session_provider_org', 'session_relationship_provider', "
            "'session_provider_no_overlap', 'session_provider_not_null_check') ORDER BY conname"
        )
        assert cursor.fetchall() == [
            ("session_provider_no_overlap", True),
            ("session_provider_org", True),
            ("session_relationship_provider", True),
        ]


def test_the_pairing_summaries_are_filled_in_batches_of_relationships(
    history: History, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = rows_of(PairingActivity), rows_of(ShortSession)
    assert kept[0]
    PairingActivity.objects.all().delete()
    ShortSession.objects.all().delete()
    monkeypatch.setattr(fill_activity, "BATCH", 2)  # several batches over the test's pairings

    fill_activity.fill(None, editor)

    assert (rows_of(PairingActivity), rows_of(ShortSession)) == kept
    assert pairing_differences() == []
    PairingActivity.objects.update(completed=99, minutes=1)  # stale rows: replaced, not kept
    fill_activity.fill(None, editor)  # again: each batch replaces its relationships
    assert (rows_of(PairingActivity), rows_of(ShortSession)) == kept


def test_the_center_balances_are_filled_in_batches_of_grants(
    history: History, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = rows_of(CenterBalance)
    assert kept
    CenterBalance.objects.update(purchased=999, used=-5)  # what the single migration left, or not
    monkeypatch.setattr(fill_center, "BATCH", 2)

    fill_center.fill(None, editor)

    assert rows_of(CenterBalance) == kept
    assert center_differences() == []
    fill_center.fill(None, editor)  # again: it starts from zero again
    assert rows_of(CenterBalance) == kept
