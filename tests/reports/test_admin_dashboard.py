"""The admin dashboard on the admin home: recent transactions and grants expiring soon, of
this organization only, each read through its index."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from grants import services
from matchpal.models import Organization
from students.models import Student
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory, make_grant
from tests.support import Tenant, client_for

pytestmark = pytest.mark.django_db


def home(tenant: Tenant):  # type: ignore[no-untyped-def]
    response = client_for(tenant.admin).get(reverse("org_home", args=[tenant.organization.slug]))
    assert response.status_code == 200
    return response


def test_recent_transactions_are_the_center_s_latest_entries_linked_to_the_student(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    org = tenant_a.organization
    students = [StudentFactory(organization=org, name=f"Student {i}") for i in range(10)]
    grants = [make_grant(student=s, minutes=60 * (i + 1)) for i, s in enumerate(students)]
    services.grant_adjust(actor=tenant_a.admin, grant=grants[0], delta=-15, reason="Fix")
    Student.objects.filter(pk=tenant_b.student.pk).update(name="Of another center")
    make_grant(student=tenant_b.student, minutes=999)

    response = home(tenant_a)

    entries = response.context["recent_entries"]
    assert [(e.grant.student.name, e.kind, e.total_delta) for e in entries] == [
        ("Student 0", "adjust", -15),
        *[(f"Student {i}", "credit", 60 * (i + 1)) for i in range(9, 2, -1)],
    ]
    html = response.content.decode()
    section = html[html.index('data-testid="recent-transactions"') :]
    url = reverse("grants:student_hours", args=[org.slug, students[0].public_id])
    assert f'href="{url}"' in section
    assert "Of another center" not in section.split("</table>")[0]


def test_grants_expiring_within_fourteen_days_with_hours_left(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    org = tenant_a.organization
    now = timezone.now()

    def grant(name: str, days: float, minutes: int = 60):  # type: ignore[no-untyped-def]
        student = StudentFactory(organization=org, name=name)
        return make_grant(student=student, minutes=minutes, expires_at=now + timedelta(days=days))

    grant("In ten days", 10)
    grant("In two days", 2)
    grant("In twenty days", 20)
    revoked = grant("Refunded", 5)
    services.grant_refund(actor=tenant_a.admin, grant=revoked, quantity=60, reason="Refund")
    expired = grant("Expired early", 3)
    services.grant_expire(actor=tenant_a.admin, grant=expired)
    make_grant(student=StudentFactory(organization=org, name="Never"), minutes=60)
    make_grant(student=tenant_b.student, minutes=60, expires_at=now + timedelta(days=4))

    response = home(tenant_a)

    assert response.context["expiring_count"] == 2
    assert [g.student.name for g in response.context["expiring"]] == [
        "In two days",
        "In ten days",
    ]
    html = response.content.decode()
    assert "Grants expiring in the next 14 days" in html


def test_the_count_is_every_grant_of_the_window_the_list_the_first_five(tenant_a: Tenant) -> None:
    now = timezone.now()
    for day in range(1, 8):
        student = StudentFactory(organization=tenant_a.organization, name=f"Day {day}")
        make_grant(student=student, minutes=30, expires_at=now + timedelta(days=day))

    response = home(tenant_a)

    assert response.context["expiring_count"] == 7
    assert [g.student.name for g in response.context["expiring"]] == [
        f"Day {d}" for d in range(1, 6)
    ]


def test_repeated_cancellations_count_pairings_at_the_threshold_within_the_window(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Three cancellations of one pairing within 30 days (the defaults) is a warning; two, or a
    third outside the window, or on another center, is not. The settings move it."""
    now = timezone.now()

    def pairing(tenant: Tenant, *days_ago: float):  # type: ignore[no-untyped-def]
        relationship = RelationshipFactory(organization=tenant.organization)
        for days in days_ago:
            SessionFactory(
                relationship=relationship,
                starts_at=now - timedelta(days=days),
                status="cancelled",
            )
        SessionFactory(relationship=relationship, starts_at=now - timedelta(days=1))
        return relationship

    pairing(tenant_a, 1, 5, 29)  # three in the window
    pairing(tenant_a, 2, 3, 4, 6)  # four
    pairing(tenant_a, 1, 2)  # two
    pairing(tenant_a, 1, 2, 31)  # the third outside the window
    pairing(tenant_b, 1, 2, 3)  # another center

    response = home(tenant_a)
    assert response.context["warnings"]["repeated_cancellations"] == 2
    html = response.content.decode()
    section = html[html.index('data-testid="warning-signs"') :]
    link = reverse("warning_repeated_cancellations", args=[tenant_a.organization.slug])
    assert f'href="{link}"' in section

    Organization.objects.filter(pk=tenant_a.organization.pk).update(
        warning_cancellations=2, warning_cancellation_days=40
    )
    assert home(tenant_a).context["warnings"]["repeated_cancellations"] == 4


def test_an_expiry_shows_the_hours_it_took_out_of_free_to_book(tenant_a: Tenant) -> None:
    """An expiry changes no column of the grant but its status: its change is what it took
    out of the student's free to book."""
    grant = make_grant(student=tenant_a.student, minutes=90)
    services.grant_expire(actor=tenant_a.admin, grant=grant)

    html = home(tenant_a).content.decode()
    section = html[html.index('data-testid="recent-transactions"') :].split("</table>")[0]
    assert "Expired" in section
    assert "free to book \u22121 h 30 min" in section
