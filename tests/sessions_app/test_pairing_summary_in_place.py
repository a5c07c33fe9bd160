"""The warning signs' summaries are kept in place as sessions are logged
(`sessions_app/migrations/0014_pairing_activity_in_place.py`): a log adds itself to its
pairing's row, a short session is rewritten only when it stops or starts being short, and the
figures always equal a rebuild from the sessions."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sessions_app import rollups
from sessions_app.models import PairingActivity, SessionStatus, ShortSession
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db


def row_versions(table: str, key: str) -> dict[int, str]:
    """Each row's physical place: a rewritten row gets a new one."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key}, ctid::text FROM {table}")
        return dict(cursor.fetchall())


def short_ids() -> list[int]:
    return sorted(ShortSession.objects.values_list("session_id", flat=True))


def test_logs_of_moving_lengths_keep_the_summaries_equal_to_a_rebuild(tenant_a: Tenant) -> None:
    relationship = RelationshipFactory(organization=tenant_a.organization)
    start = timezone.now() - timedelta(days=60)
    made = [
        SessionFactory(
            relationship=relationship, starts_at=start + timedelta(days=day), duration_minutes=d
        )
        for day, d in enumerate([60, 60, 25, 120, 60, 10, 90, 60])
    ]
    assert rollups.differences() == []
    activity = PairingActivity.objects.get(relationship=relationship)
    assert (activity.completed, activity.minutes, activity.last_session_at) == (
        8,
        485,
        made[-1].starts_at,
    )
    # The usual length is 485 / 8 = 60.6 minutes: under half of it are the 25 and the 10.
    assert short_ids() == [made[2].pk, made[5].pk]

    # A scheduled session counts for nothing; one logged earlier than the latest keeps the
    # latest start.
    SessionFactory(
        relationship=relationship,
        starts_at=timezone.now() + timedelta(days=2),
        status=SessionStatus.SCHEDULED,
    )
    SessionFactory(relationship=relationship, starts_at=start - timedelta(days=1))
    assert PairingActivity.objects.get(relationship=relationship).last_session_at == (
        made[-1].starts_at
    )
    assert rollups.differences() == []


def test_a_long_session_makes_earlier_ones_short_and_a_rebuild_agrees(tenant_a: Tenant) -> None:
    relationship = RelationshipFactory(organization=tenant_a.organization)
    start = timezone.now() - timedelta(days=30)
    first = SessionFactory(relationship=relationship, starts_at=start, duration_minutes=30)
    SessionFactory(
        relationship=relationship, starts_at=start + timedelta(days=1), duration_minutes=30
    )
    assert short_ids() == []
    SessionFactory(
        relationship=relationship, starts_at=start + timedelta(days=2), duration_minutes=180
    )
    # The usual length is now 80 minutes: both 30-minute sessions fall under half of it.
    assert len(short_ids()) == 2
    assert first.pk in short_ids()
    assert rollups.differences() == []


def test_a_log_of_the_usual_length_rewrites_no_other_short_session(tenant_a: Tenant) -> None:
    relationship = RelationshipFactory(organization=tenant_a.organization)
    start = timezone.now() - timedelta(days=30)
    for day, minutes in enumerate([10, 60, 60, 70]):  # usual length 50: the 10 is short
        SessionFactory(
            relationship=relationship,
            starts_at=start + timedelta(days=day),
            duration_minutes=minutes,
        )
    kept = row_versions("sessions_app_shortsession", "session_id")
    assert len(kept) == 1

    SessionFactory(
        relationship=relationship, starts_at=start + timedelta(days=5), duration_minutes=50
    )

    assert row_versions("sessions_app_shortsession", "session_id") == kept
    assert rollups.differences() == []


def test_a_scheduled_session_leaves_the_pairing_s_row_untouched(tenant_a: Tenant) -> None:
    relationship = RelationshipFactory(organization=tenant_a.organization)
    SessionFactory(relationship=relationship, starts_at=timezone.now() - timedelta(days=3))
    kept = row_versions("sessions_app_pairingactivity", "relationship_id")

    SessionFactory(
        relationship=relationship,
        starts_at=timezone.now() + timedelta(days=3),
        status=SessionStatus.SCHEDULED,
    )

    assert row_versions("sessions_app_pairingactivity", "relationship_id") == kept
    assert rollups.differences() == []
