"""The email log admins browse (docs/notifications.md, "The delivery log"): newest first, each
row's address, kind, subject, status, attempts and error; filtered by status, kind and part of
the address; each email's page shows its text and what it was about."""

import pytest
from django.test import Client

from notifications.models import DeliveryStatus, EmailDelivery
from notifications.services import Audience, Message, Recipient, notify
from tests.support import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(tenant_a: Tenant) -> list[EmailDelivery]:
    org = tenant_a.organization
    for n, (kind, address) in enumerate(
        [
            ("hours_granted", "ana@example.net"),
            ("grant_expired", "ben@example.net"),
            ("hours_granted", "carla@school.example"),
        ]
    ):
        notify(
            organization=org,
            kind=kind,
            about=f"grant:{n}",
            audiences=[Audience([Recipient(email=address)], Message(f"Subject {n}", "Text"))],
        )
    EmailDelivery.objects.filter(to="ben@example.net").update(
        status=DeliveryStatus.FAILED, attempts=6, error="SMTPRecipientsRefused: 550"
    )
    return list(EmailDelivery.objects.filter(organization=org).order_by("-id"))


def listed(client: Client, slug: str, query: str = "") -> list[str]:
    response = client.get(f"/o/{slug}/notifications/emails/{query}")
    assert response.status_code == 200
    return [e.to for e in response.context["page"]]


def test_the_log_lists_newest_first_and_filters_by_status_kind_and_address(
    tenant_a: Tenant, admin_client_a: Client, log: list[EmailDelivery]
) -> None:
    slug = tenant_a.organization.slug
    assert listed(admin_client_a, slug) == [
        "carla@school.example",
        "ben@example.net",
        "ana@example.net",
    ]
    assert listed(admin_client_a, slug, "?status=failed") == ["ben@example.net"]
    assert listed(admin_client_a, slug, "?kind=hours_granted") == [
        "carla@school.example",
        "ana@example.net",
    ]
    assert listed(admin_client_a, slug, "?to=SCHOOL") == ["carla@school.example"]
    assert listed(admin_client_a, slug, "?status=failed&kind=hours_granted") == []
    page = admin_client_a.get(f"/o/{slug}/notifications/emails/?status=failed").content.decode()
    assert "SMTPRecipientsRefused: 550" in page
    assert '<span class="text-danger">Failed</span>' in page


def test_an_emails_page_shows_its_text_and_what_it_was_about(
    tenant_a: Tenant, admin_client_a: Client, log: list[EmailDelivery]
) -> None:
    email = next(e for e in log if e.to == "ben@example.net")
    page = admin_client_a.get(
        f"/o/{tenant_a.organization.slug}/notifications/emails/{email.public_id}/"
    ).content.decode()
    assert "Subject 1" in page
    assert "grant:1" in page
    assert "SMTPRecipientsRefused: 550" in page
