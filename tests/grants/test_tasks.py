"""The daily expiry job as Celery runs it: the task (eager in tests) and its beat schedule."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.schedules import crontab
from django.utils import timezone

from grants import services, tasks
from grants.models import Grant
from matchpal.celery import app
from tests.factories import RelationshipFactory, make_grant
from tests.support import allocation, assert_reconciled, balance, entries

DAY = timedelta(days=1)
TASK = "grants.tasks.expire_due_grants"


@pytest.mark.django_db
def test_the_task_expires_due_grants_releases_their_holds_and_is_safe_twice(tenant_a) -> None:
    rel = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    with time_machine.travel(datetime(2031, 3, 1, 9, 0, tzinfo=UTC), tick=False) as clock:
        due = make_grant(student=tenant_a.student, minutes=120, expires_at=timezone.now() + DAY)
        kept = make_grant(student=tenant_a.student, minutes=60)
        services.hold(actor=None, relationship=rel, quantity=150)
        assert tasks.expire_due_grants.delay().get() == 0

        clock.shift(DAY)
        result = tasks.expire_due_grants.delay()

        assert result.successful()
        assert result.get() == 1
        assert Grant.objects.get(pk=due.pk).status == "expired"
        assert (balance(due), allocation(rel, due)) == ((120, 0, 0), (0, 0))
        assert entries(due)[-2:] == [("release", 0, 0, -120), ("expire", 0, 0, 0)]
        assert balance(kept) == (60, 0, 30)
        # The beat may fire it again (a retry, a second scheduler): nothing changes.
        assert tasks.expire_due_grants.apply().get() == 0
        assert len(entries(due)) == 4
    assert_reconciled()


def test_the_beat_schedule_runs_the_task_once_a_day() -> None:
    scheduled = [e for e in app.conf.beat_schedule.values() if e["task"] == TASK]
    assert len(scheduled) == 1
    schedule = scheduled[0]["schedule"]
    assert isinstance(schedule, crontab)
    # One time of day, every day of every month.
    assert (len(schedule.hour), len(schedule.minute)) == (1, 1)
    assert schedule.day_of_week == set(range(7))
    assert schedule.day_of_month == set(range(1, 32))
    assert schedule.month_of_year == set(range(1, 13))
    # The name the beat sends is a registered task: this one.
    assert TASK in app.tasks
    assert tasks.expire_due_grants.name == TASK
    # From one run to the next: exactly one day, whatever the day (month ends included).
    first = datetime(2031, 2, 27, min(schedule.hour), min(schedule.minute), tzinfo=UTC)
    for day in range(4):
        run = first + day * DAY
        with time_machine.travel(run + timedelta(seconds=1), tick=False):
            assert schedule.remaining_estimate(run) == DAY - timedelta(seconds=1)
