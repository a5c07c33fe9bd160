"""The "session logged" notice is told by a Celery task queued once the log commits
(`sessions_app.tasks.tell_logged`): the log's own transaction writes no notice, a refused log
queues nothing, the task run twice tells once (the notice's key), a log cancelled before the task
runs tells nobody, and a real worker takes it from the broker to the mailbox."""

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import close_old_connections
from django.utils import timezone

from matchpal.celery import app as celery_app
from notifications.models import DeliveryStatus, Dispatch, EmailDelivery
from notifications.services import muted
from sessions_app import services, tasks
from sessions_app.rules import SessionRuleError
from tests.integrations.test_worker import real_worker
from tests.support import Tenant, at, log, make_tenant, member, paired, past_grant


def logged_emails() -> list[str]:
    return sorted(EmailDelivery.objects.filter(kind="session_logged").values_list("to", flat=True))


@pytest.mark.usefixtures("clock")
def test_the_log_queues_one_task_after_commit_and_writes_no_notice_itself(
    tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    past_grant(tenant_a.student, 1200)
    rel = paired(tenant_a, quantity=600)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        session = log(tenant_a, rel, at(10, 15), 60)
    assert not Dispatch.objects.filter(kind="session_logged").exists()
    with mock.patch.object(tasks.tell_logged, "delay") as delay:
        for callback in callbacks:
            callback()

    delay.assert_called_once_with(session.pk, tenant_a.provider_user.pk)
    assert logged_emails() == []


@pytest.mark.usefixtures("clock")
def test_a_refused_log_queues_nothing(tenant_a: Tenant, django_capture_on_commit_callbacks) -> None:
    past_grant(tenant_a.student, 1200)
    rel = paired(tenant_a, quantity=600)
    log(tenant_a, rel, at(10, 15), 60)

    with (
        mock.patch.object(tasks.tell_logged, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(SessionRuleError),
    ):
        log(tenant_a, rel, at(10, 15), 60)  # the same start again

    delay.assert_not_called()


@pytest.mark.usefixtures("clock")
def test_a_log_while_notices_are_muted_queues_nothing(
    tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    """The demo's seeding logs months of sessions muted: the task would run later, in a worker,
    unmuted, so it is not queued at all."""
    past_grant(tenant_a.student, 1200)
    rel = paired(tenant_a, quantity=600)

    with (
        mock.patch.object(tasks.tell_logged, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
        muted(),
    ):
        log(tenant_a, rel, at(10, 15), 60)

    delay.assert_not_called()


@pytest.mark.usefixtures("clock")
def test_the_task_run_twice_tells_the_student_once(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 1200)
    rel = paired(tenant_a, quantity=600)
    session = log(tenant_a, rel, at(10, 15), 60)  # on-commit callbacks never run in the test

    tasks.tell_logged(session.pk, tenant_a.provider_user.pk)
    tasks.tell_logged(session.pk, tenant_a.provider_user.pk)

    student = tenant_a.student
    assert logged_emails() == sorted([student.email, student.guardian_email])
    assert Dispatch.objects.filter(kind="session_logged").count() == 1


@pytest.mark.usefixtures("clock")
def test_a_log_cancelled_before_the_task_runs_tells_nobody(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 1200)
    rel = paired(tenant_a, quantity=600)
    session = log(tenant_a, rel, at(10, 15), 60)
    services.session_cancel(
        membership=member(tenant_a.admin, tenant_a.organization),
        session=session,
        reason="Logged by mistake",
    )

    tasks.tell_logged(session.pk, tenant_a.provider_user.pk)

    assert logged_emails() == []


def wait_for(condition, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_the_logged_notice_from_the_broker_to_the_mailbox() -> None:
    assert celery_app.conf.broker_url.startswith("redis://"), celery_app.conf.broker_url
    tenant = make_tenant("Alpha Tutoring", "alpha")
    past_grant(tenant.student, 1200)
    rel = paired(tenant, quantity=600)
    starts = (timezone.now() - timedelta(hours=3)).replace(second=0, microsecond=0)

    with real_worker() as received:
        log(tenant, rel, starts, 60)
        assert wait_for(
            lambda: (
                EmailDelivery.objects.filter(
                    kind="session_logged", status=DeliveryStatus.SENT
                ).count()
                == 2
            )
        ), list(EmailDelivery.objects.values("kind", "to", "status", "error"))

    assert "sessions_app.tasks.tell_logged" in received
    assert logged_emails() == sorted([tenant.student.email, tenant.student.guardian_email])
    assert Dispatch.objects.filter(kind="session_logged").count() == 1
