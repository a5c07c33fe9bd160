"""Two runs of the admins' digest job at once (two beat processes, a run overlapping the next)
send each admin one weekly digest and one daily digest: each admin's key is claimed under the
unique constraint before anything is sent (docs/notifications.md, "Digests")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Dispatch, EmailDelivery
from notifications.services import preferences_save
from reports.digests import send_admin_digests
from tests.support import Tenant, member, paired, past_grant, second_admin
from tests.threads import run_together

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_two_digest_jobs_at_once_send_each_admin_one_of_each(tenant_a: Tenant, mailoutbox) -> None:
    org = tenant_a.organization
    admin_2 = second_admin(tenant_a)
    past_grant(tenant_a.student, 1200)
    paired(tenant_a, quantity=600, paired_at=timezone.now() - timedelta(days=40))  # never met
    for admin in (tenant_a.admin, admin_2):
        preferences_save(membership=member(admin, org), choices={"attention_digest": True})
    mailoutbox.clear()
    # Both runs see the same day and week, whatever the hour the suite runs at.
    now = timezone.now().astimezone(org.tz).replace(hour=12) + timedelta(days=2)

    outcomes = run_together(
        lambda: send_admin_digests(now=now), lambda: send_admin_digests(now=now)
    )

    assert [status for status, _ in outcomes] == ["ok", "ok"]
    assert sum(told for _, told in outcomes) == 4
    for kind in ("idle_digest", "attention_digest"):
        assert Dispatch.objects.filter(kind=kind).count() == 2
        assert sorted(EmailDelivery.objects.filter(kind=kind).values_list("to", flat=True)) == (
            sorted([tenant_a.admin.email, admin_2.email])
        )
    digests = [m for m in mailoutbox if "digest" in m.subject]
    assert sorted(a for m in digests for a in m.to) == sorted(
        [tenant_a.admin.email, admin_2.email] * 2
    )
