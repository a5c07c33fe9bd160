"""/healthz (the process answers) and /readyz (database, Redis, beat's heartbeat), and the
heartbeat beat sends. The whole stack answering /readyz: tests/test_compose_processes.py."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from matchpal import health
from matchpal.celery import app as celery_app
from matchpal.tasks import beat_heartbeat

pytestmark = [pytest.mark.django_db]


def test_healthz_answers_without_asking_anything_else(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


def test_ready_once_beat_has_stamped_its_heartbeat() -> None:
    assert Client().get("/readyz").status_code == 503

    beat_heartbeat.delay()  # eager in tests: as a worker runs it
    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert response.json() == {
        "ready": True,
        "checks": {
            "database": {"ok": True, "detail": "ok"},
            "redis": {"ok": True, "detail": "ok"},
            "beat": {"ok": True, "detail": "last heartbeat 0 s ago"},
        },
    }


def test_not_ready_without_a_heartbeat() -> None:
    response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["beat"] == {"ok": False, "detail": "no heartbeat yet"}
    assert body["checks"]["database"]["ok"] is True


def test_not_ready_when_the_heartbeat_is_older_than_five_minutes() -> None:
    health.stamp_heartbeat(timezone.now() - timedelta(minutes=5, seconds=30))

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["beat"] == {
        "ok": False,
        "detail": "last heartbeat 330 s ago",
    }
    health.stamp_heartbeat(timezone.now() - timedelta(minutes=4, seconds=50))
    assert Client().get("/readyz").status_code == 200


def test_not_ready_when_redis_does_not_answer(settings) -> None:  # type: ignore[no-untyped-def]
    health.stamp_heartbeat()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == {"ok": False, "detail": "ConnectionError"}


def test_the_embedded_setup_has_no_redis_to_ask(settings) -> None:  # type: ignore[no-untyped-def]
    health.stamp_heartbeat()
    settings.REDIS_URL = None

    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"ok": True, "detail": "not configured"}


def test_beat_sends_the_heartbeat_every_minute_and_drops_a_late_one() -> None:
    entry = celery_app.conf.beat_schedule["beat-heartbeat"]

    assert entry["task"] == "matchpal.tasks.beat_heartbeat"
    assert entry["schedule"] == timedelta(minutes=1)
    assert entry["options"] == {"expires": 60}
    assert entry["task"] in celery_app.tasks
