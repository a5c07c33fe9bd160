"""With Celery's broker (Redis) down, a change that notifies people is saved and its notices are
in their inboxes; the emails cannot be queued, so they stay "Queued" in the delivery log, and
the request does not fail for it (matchpal/broker.py). Celery publishes for real here, to a port
where nothing listens."""

import logging

import pytest

from notifications.models import DeliveryStatus, EmailDelivery
from tests.notifications.support import inbox
from tests.support import Tenant, paired, past_grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("broker_unreachable")]


def test_a_proposal_is_saved_and_told_in_the_app_its_emails_wait(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="matchpal.broker")
    past_grant(tenant_a.student, 600)

    with django_capture_on_commit_callbacks(execute=True):
        relationship = paired(tenant_a)

    assert relationship.status == "paired"
    assert inbox(tenant_a.provider_user, tenant_a.organization)
    deliveries = EmailDelivery.objects.filter(organization=tenant_a.organization)
    assert deliveries.exists()
    assert set(deliveries.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert mailoutbox == []
    assert any(
        r.name == "matchpal.broker" and "not queued: the broker cannot be reached" in r.getMessage()
        for r in caplog.records
    )
