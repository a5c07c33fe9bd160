"""The usage history: the running balance agrees with the balance cards through expiries and
extensions, and each row links to the relationship and session it concerns."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from grants import services
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.support import Tenant, assert_reconciled, client_for

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def my_hours(t: Tenant, page: int = 1):  # type: ignore[no-untyped-def]
    response = client_for(t.student_user).get(f"/o/{t.organization.slug}/my/hours/", {"page": page})
    assert response.status_code == 200
    return response.context


def rows(context) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [(e.kind, e.running) for e in context["history"]]


def card(context) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(available, held) on the only balance card: tutoring, in minutes."""
    (balance,) = context["balances"]
    return balance.available, balance.held


def test_running_balance_follows_expiry_restore_and_extension_to_the_minute(
    tenant_a: Tenant,
) -> None:
    org = tenant_a.organization
    with time_machine.travel(datetime(2031, 3, 1, 14, 0, tzinfo=UTC), tick=False) as clock:
        soon = make_grant(
            student=tenant_a.student, minutes=600, expires_at=timezone.now() + 10 * DAY
        )
        make_grant(student=tenant_a.student, minutes=300)  # never expires
        rel = RelationshipFactory(
            organization=org, student=tenant_a.student, provider=tenant_a.provider
        )
        services.hold(actor=None, relationship=rel, quantity=120)  # from `soon`, expiring first
        session = SessionFactory(relationship=rel, duration_minutes=45)
        services.consume(
            actor=None, relationship=rel, session=session, quantity=45, at=session.starts_at
        )
        context = my_hours(tenant_a)
        assert card(context) == (780, 75)
        assert rows(context)[0] == ("consume", 780)

        clock.shift(10 * DAY)
        assert services.expire_due_grants() == 1
        # The job released the 75 still held on `soon` and expired it: its 555 unused minutes
        # leave the usable balance, as they leave the card.
        context = my_hours(tenant_a)
        assert card(context) == (300, 0)
        assert rows(context) == [
            ("expire", 300),
            ("release", 855),
            ("consume", 780),
            ("hold", 780),
            ("credit", 900),
            ("credit", 600),
        ]

        # A cancelled session restores to the expired grant: still not usable.
        services.restore(actor=None, relationship=rel, session=session, to_hold=True)
        context = my_hours(tenant_a)
        assert card(context) == (300, 0)
        assert rows(context)[0] == ("restore", 300)

        # The admin extends it: all 600 minutes are back, on the card and in the history.
        services.grant_extend(
            actor=tenant_a.admin,
            grant=soon,
            expires_at=timezone.now() + 20 * DAY,
            reason="Illness",
        )
        context = my_hours(tenant_a)
        assert card(context) == (900, 0)
        assert rows(context)[0] == ("extend", 900)

        # And expiring it again takes them out again.
        services.grant_expire(actor=tenant_a.admin, grant=soon)
        assert card(my_hours(tenant_a)) == (300, 0)
        assert rows(my_hours(tenant_a))[0] == ("expire", 300)
    assert_reconciled()


def test_a_refund_in_full_and_a_transfer_move_the_running_balance_like_the_cards(
    tenant_a: Tenant,
) -> None:
    grant = make_grant(student=tenant_a.student, minutes=200)
    other = make_grant(student=tenant_a.student, minutes=100)
    services.grant_transfer(
        actor=tenant_a.admin, from_grant=other, to_grant=grant, quantity=40, reason="Merge"
    )
    services.grant_refund(actor=tenant_a.admin, grant=other, quantity=60, reason="Refund")
    context = my_hours(tenant_a)
    assert card(context) == (240, 0)
    assert rows(context) == [
        ("refund", 240),
        ("transfer_in", 300),
        ("transfer_out", 260),
        ("credit", 300),
        ("credit", 200),
    ]


@override_settings(MATCHPAL_PAGE_SIZE=4)
def test_the_running_balance_on_a_later_page_counts_everything_before_it(
    tenant_a: Tenant,
) -> None:
    grant = make_grant(student=tenant_a.student, minutes=600, expires_at=timezone.now() + DAY)
    for n in range(5):
        services.grant_adjust(actor=tenant_a.admin, grant=grant, delta=10, reason=f"r{n}")
    services.grant_expire(actor=None, grant=grant)
    services.grant_extend(
        actor=tenant_a.admin, grant=grant, expires_at=timezone.now() + 9 * DAY, reason="Back"
    )
    # Newest first: extend 650, expire 0, adjusts 650 … 610, credit 600.
    assert rows(my_hours(tenant_a, 1)) == [
        ("extend", 650),
        ("expire", 0),
        ("adjust", 650),
        ("adjust", 640),
    ]
    assert rows(my_hours(tenant_a, 2)) == [
        ("adjust", 630),
        ("adjust", 620),
        ("adjust", 610),
        ("credit", 600),
    ]


def test_history_rows_link_to_their_relationship_and_session(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    make_grant(student=tenant_a.student, minutes=300)
    rel = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    services.hold(actor=None, relationship=rel, quantity=90)
    session = SessionFactory(relationship=rel, duration_minutes=60)
    services.consume(
        actor=None, relationship=rel, session=session, quantity=60, at=session.starts_at
    )
    relationship_url = reverse("relationships:detail", args=[org.slug, rel.public_id])
    session_url = reverse("sessions_app:detail", args=[org.slug, session.public_id])

    for user, page in (
        (tenant_a.admin, f"/o/{org.slug}/students/{tenant_a.student.public_id}/hours/"),
        (tenant_a.student_user, f"/o/{org.slug}/my/hours/"),
    ):
        client = client_for(user)
        html = client.get(page).content.decode()
        # The consume row links both; the hold row its relationship; the credit row nothing.
        assert html.count(f'href="{relationship_url}"') == 2
        assert html.count(f'href="{session_url}"') == 1
        assert f'<a href="{session_url}">session of ' in html
        # Both pages open for whoever sees the history.
        assert client.get(relationship_url).status_code == 200
        assert client.get(session_url).status_code == 200


def expected_running(t: Tenant) -> list[tuple[int, int]]:
    """(entry id, usable balance of its unit after it), newest first, summed here in Python
    from every entry of the student: what each page's column must show."""
    from grants.models import GrantEntry

    entries = GrantEntry.objects.filter(grant__student=t.student).select_related("grant")
    totals: dict[str, int] = {}
    rows = []
    for entry in entries.order_by("created_at", "id"):
        totals[entry.grant.unit] = totals.get(entry.grant.unit, 0) + entry.usable_delta
        rows.append((entry.pk, totals[entry.grant.unit]))
    return rows[::-1]


@pytest.mark.sqlite
@override_settings(MATCHPAL_PAGE_SIZE=3)
def test_every_page_of_two_units_shows_the_sum_of_everything_up_to_each_row(
    tenant_a: Tenant,
) -> None:
    """Minutes and sessions, an expiry and entries created in the same instant: every page's
    column equals the running sum of its unit over the whole ledger, on the student's page,
    the admin's page of the student and the student's home (the newest ten)."""
    org = tenant_a.organization
    with time_machine.travel(datetime(2031, 5, 1, 9, 0, tzinfo=UTC), tick=False):
        minutes = make_grant(student=tenant_a.student, minutes=600, expires_at=timezone.now() + DAY)
        sessions = make_grant(student=tenant_a.student, minutes=8, unit="sessions")
        # Same timestamp: the order between them is by id, on the pages and here.
        for n in range(4):
            services.grant_adjust(actor=tenant_a.admin, grant=minutes, delta=15, reason=f"m{n}")
            services.grant_adjust(actor=tenant_a.admin, grant=sessions, delta=-1, reason=f"s{n}")
        rel = RelationshipFactory(
            organization=org, student=tenant_a.student, provider=tenant_a.provider
        )
        services.hold(actor=None, relationship=rel, quantity=100)
    with time_machine.travel(datetime(2031, 5, 3, 9, 0, tzinfo=UTC), tick=False):
        assert services.expire_due_grants() == 1
        services.grant_adjust(actor=tenant_a.admin, grant=sessions, delta=2, reason="later")
        expected = expected_running(tenant_a)
        assert len(expected) == 14
        for user, url in (
            (tenant_a.student_user, f"/o/{org.slug}/my/hours/"),
            (tenant_a.admin, f"/o/{org.slug}/students/{tenant_a.student.public_id}/hours/"),
        ):
            shown = []
            for page in range(1, 6):
                response = client_for(user).get(url, {"page": page})
                assert response.status_code == 200
                history = response.context["history"]
                shown += [(e.pk, e.running) for e in history]
                if not history.has_next():
                    break
            assert shown == expected, url
        home = client_for(tenant_a.student_user).get(f"/o/{org.slug}/")
        assert [(e.pk, e.running) for e in home.context["history"]] == expected[:10]
    assert_reconciled()
