"""The ledger kept by PostgreSQL alone (grants 0010; docs/ledger.md, "Database guards"): each
raw-SQL attempt that bypasses the services is refused, at the statement (TRUNCATE) or at the
commit (the balance checks are deferred; `SET CONSTRAINTS … IMMEDIATE` runs them now, as the
commit would). The same change made through the services, entry and balance together, passes.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from grants import services
from grants.models import Grant, GrantEntry
from grants.reconcile import find_differences, find_session_differences
from tests.factories import RelationshipFactory, SessionFactory, make_grant

pytestmark = pytest.mark.django_db

MATCHES = "grant_matches_ledger"


def sql(statement: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused_at_commit(statement: str, *params: object, match: str) -> None:
    """Run `statement` and then the deferred checks, in a savepoint: refused with `match`."""
    checks = f'SET CONSTRAINTS "{MATCHES}_update", "{MATCHES}_insert", "{MATCHES}" IMMEDIATE'
    with pytest.raises(IntegrityError, match=match), transaction.atomic():
        sql(statement + "; " + checks, *params)


@pytest.fixture
def ledger(tenant_a):  # type: ignore[no-untyped-def]
    """A grant of 600 minutes, 100 held for a pairing, 40 of it consumed by a session."""
    rel = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    grant = make_grant(student=tenant_a.student, minutes=600)
    services.hold(actor=None, relationship=rel, quantity=100)
    session = SessionFactory(relationship=rel, charged_minutes=40)
    services.consume(
        actor=None, relationship=rel, session=session, quantity=40, at=session.starts_at
    )
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # what the fixture wrote passes the checks
    sql("SET CONSTRAINTS ALL DEFERRED")
    return grant, session


def unchanged(grant: Grant) -> None:
    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held, grant.status) == (600, 40, 60, "active")
    assert find_differences() == []


def test_the_ledger_cannot_be_truncated(ledger) -> None:
    for table in ("grants_grantentry", "grants_grant"):
        with (
            pytest.raises(IntegrityError, match="append-only: TRUNCATE refused"),
            transaction.atomic(),
        ):
            sql(f"TRUNCATE {table} CASCADE")
    assert GrantEntry.objects.count() == 3  # credit, hold, consume: nothing lost
    unchanged(ledger[0])


@pytest.mark.parametrize(
    "change",
    [
        "total = total + 60",  # hours given without an entry
        "total = total - 60",
        "used = used - 10",  # hours given back without a restore
        "held = held - 10",  # a hold released without its entry
        "used = used + 5, held = held - 5",  # moved between columns, available unchanged
    ],
)
def test_a_balance_changed_without_its_entry_is_refused(ledger, change: str) -> None:
    grant = ledger[0]
    refused_at_commit(
        f"UPDATE grants_grant SET {change} WHERE id = %s",
        grant.pk,
        match=rf"grant {grant.pk} has total \d+, used \d+, held \d+ but its ledger entries sum "
        "to total 600, used 40, held 60: a balance changes only together with its entry",
    )
    unchanged(grant)


@pytest.mark.parametrize("status", ["expired", "revoked"])
def test_a_status_changed_without_its_entry_is_refused(ledger, status: str) -> None:
    grant = ledger[0]
    refused_at_commit(
        "UPDATE grants_grant SET status = %s WHERE id = %s",
        status,
        grant.pk,
        match=rf"grant {grant.pk} is {status} with 0 available to book but its ledger entries "
        "say 500: a status changes only together with its entry",
    )
    unchanged(grant)


def test_an_entry_without_its_balance_change_is_refused(ledger) -> None:
    grant = ledger[0]
    refused_at_commit(
        "INSERT INTO grants_grantentry (organization_id, grant_id, kind, total_delta, "
        "used_delta, held_delta, usable_delta, reason, created_at) "
        "SELECT organization_id, id, 'credit', 60, 0, 0, 60, 'forged', now() "
        "FROM grants_grant WHERE id = %s",
        grant.pk,
        match=rf"grant {grant.pk} has total 600, used 40, held 60 but its ledger entries sum to "
        "total 660, used 40, held 60",
    )
    unchanged(grant)


def test_a_grant_checked_earlier_in_the_transaction_is_checked_again_after_a_change(
    ledger,
) -> None:
    """The fixture's `SET CONSTRAINTS … IMMEDIATE` found the grant equal to its ledger in this
    transaction (grants 0015 notes it, to skip a second sum of the same state). What comes
    after is checked all the same: a forged entry while the balance moves away and back to the
    state noted, and a balance moved after a legitimate posting."""
    grant = ledger[0]
    refused_at_commit(
        "INSERT INTO grants_grantentry (organization_id, grant_id, kind, total_delta, "
        "used_delta, held_delta, usable_delta, reason, created_at) "
        "SELECT organization_id, id, 'credit', 60, 0, 0, 60, 'forged', now() "
        "FROM grants_grant WHERE id = %s; "
        "UPDATE grants_grant SET total = total + 60 WHERE id = %s; "
        "UPDATE grants_grant SET total = total - 60 WHERE id = %s",
        grant.pk,
        grant.pk,
        grant.pk,
        match=rf"grant {grant.pk} has total 600, used 40, held 60 but its ledger entries sum to "
        "total 660",
    )
    unchanged(grant)
    services.grant_adjust(actor=None, grant=grant, delta=30, reason="Bonus")
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # the adjustment checked and noted: it passes
    sql("SET CONSTRAINTS ALL DEFERRED")
    refused_at_commit(
        "UPDATE grants_grant SET used = used + 1, held = held - 1 WHERE id = %s",
        grant.pk,
        match=rf"grant {grant.pk} has total 630, used 41, held 59 but its ledger entries sum to "
        "total 630, used 40, held 60",
    )


def test_a_grant_inserted_with_hours_and_no_entry_is_refused(ledger) -> None:
    grant = ledger[0]
    refused_at_commit(
        "INSERT INTO grants_grant (public_id, organization_id, student_id, unit, total, used, "
        "held, valid_from, status, source, reference, created_at) "
        "SELECT gen_random_uuid(), organization_id, student_id, unit, 600, 0, 0, valid_from, "
        "'active', 'manual', 'forged', now() FROM grants_grant WHERE id = %s",
        grant.pk,
        match=r"has total 600, used 0, held 0 but its ledger entries sum to total 0, used 0",
    )
    assert Grant.objects.count() == 1


def test_a_balance_changed_with_its_entry_passes(ledger) -> None:
    grant = ledger[0]
    with transaction.atomic():
        sql(
            "INSERT INTO grants_grantentry (organization_id, grant_id, kind, total_delta, "
            "used_delta, held_delta, usable_delta, reason, created_at) "
            "SELECT organization_id, id, 'adjust', 60, 0, 0, 60, 'by hand', now() "
            "FROM grants_grant WHERE id = %s",
            grant.pk,
        )
        sql("UPDATE grants_grant SET total = total + 60 WHERE id = %s", grant.pk)
        sql(
            "UPDATE grants_studentbalance SET active_available = active_available + 60 "
            "WHERE student_id = %s",
            grant.student_id,
        )
        sql("SET CONSTRAINTS ALL IMMEDIATE")
    grant.refresh_from_db()
    assert grant.total == 660
    assert find_differences() == []


def test_the_services_pass_every_check(ledger) -> None:
    grant = ledger[0]
    services.grant_adjust(actor=None, grant=grant, delta=30, reason="Bonus")
    services.grant_expire(actor=None, grant=grant)
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    grant.refresh_from_db()
    assert (grant.total, grant.status) == (630, "expired")


def test_reconcile_finds_charged_minutes_the_ledger_did_not_consume(ledger) -> None:
    _, session = ledger
    assert find_session_differences() == []
    sql("UPDATE sessions_app_session SET charged_minutes = 90 WHERE id = %s", session.pk)

    differences = find_session_differences()

    assert [str(d) for d in differences] == [
        f"session {session.pk}: charged minutes is 90, the ledger says 40"
    ]
    assert find_session_differences(organization_id=session.organization_id) == differences
    assert find_session_differences(organization_id=session.organization_id + 1000) == []


def test_the_reconcile_command_reports_changed_charged_minutes(ledger) -> None:
    _, session = ledger
    sql("UPDATE sessions_app_session SET charged_minutes = 25 WHERE id = %s", session.pk)
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("reconcile_grants", stdout=out)

    assert raised.value.returncode == 1
    assert out.getvalue() == f"session {session.pk}: charged minutes is 25, the ledger says 40\n"
    assert str(raised.value) == "1 difference(s) between balances and ledger."
