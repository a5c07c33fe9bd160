"""The admin home's content kept in the cache under the version of the center's data and the
minute (reports/home_cache.py): every kind of write shows on the next view, whatever wrote it,
and two tenants never share an entry.

These tests commit (`transaction=True`): the version is counted at commit, and a transaction
that has written rows itself always computes the figures (the other tests of the page run in
one transaction, and so always compute them)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from matchpal import data_version
from reports import home_cache
from sessions_app import services as session_services
from sessions_app.models import Session
from students.models import Student
from tests.factories import SessionFactory, StudentFactory
from tests.support import Tenant, client_for, log, member, pair, paired, past_grant, propose

pytestmark = pytest.mark.django_db(transaction=True)


def page(tenant: Tenant, client: Client | None = None) -> str:
    client = client or client_for(tenant.admin)
    response = client.get(reverse("org_home", args=[tenant.organization.slug]))
    assert response.status_code == 200
    return response.content.decode()


def computed(tenant: Tenant) -> str:
    """The content computed now, without the cache, as the view writes it."""
    org = tenant.organization
    org.refresh_from_db()
    with timezone.override(org.tz):
        return home_cache.render(org, member(tenant.admin, org))


def shows_now(tenant: Tenant) -> str:
    """The page, checked to hold the content as computed now; returns that content."""
    html = page(tenant)
    content = computed(tenant)
    assert content in html
    return content


def test_a_second_view_reads_the_version_only(tenant_a: Tenant, clock: object) -> None:
    past_grant(tenant_a.student, 600)
    first = shows_now(tenant_a)
    client = client_for(tenant_a.admin)
    with CaptureQueriesContext(connection) as queries:
        assert first in page(tenant_a, client)
    # The user with the membership (one statement), the version: no figure is read.
    assert len(queries) == 2, [q["sql"] for q in queries.captured_queries]


def test_each_kind_of_write_shows_on_the_next_view(tenant_a: Tenant, clock: object) -> None:
    org = tenant_a.organization
    seen = [shows_now(tenant_a)]

    def changed() -> None:
        content = shows_now(tenant_a)
        assert content not in seen, "the write did not change the page"
        seen.append(content)

    # A grant: the center's hours, the recent transactions.
    past_grant(tenant_a.student, 600)
    changed()
    # A relationship change: a proposal awaiting an answer, then its acceptance (a hold).
    relationship = propose(tenant_a, quantity=120)
    changed()
    relationship = pair(tenant_a, relationship)
    changed()
    # A log: this week's sessions, the hours used.
    session = log(tenant_a, relationship)
    changed()
    # A cancellation (the hours given back).
    session_services.session_cancel(
        membership=member(tenant_a.admin, org), session=session, reason="Logged by mistake"
    )
    changed()
    # A new student.
    StudentFactory(organization=org, name="Zoe Newcomer")
    changed()
    # A write by no service at all: a bulk update of the sessions.
    Session.objects.filter(pk=session.pk).update(status="completed")
    changed()
    # A student's name, through a queryset update (shown among the newest students).
    Student.objects.filter(organization=org, name="Zoe Newcomer").update(name="Zoe Renamed")
    changed()
    # The center's settings (a threshold the warning signs quote).
    org.warning_gap_days += 7
    org.save(update_fields=["warning_gap_days"])
    changed()


def test_the_minute_is_part_of_the_key(tenant_a: Tenant, clock) -> None:  # type: ignore[no-untyped-def]
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a, quantity=120)
    # A session starting in 30 seconds: not yet past its start.
    SessionFactory(
        relationship=relationship,
        starts_at=timezone.now() + timedelta(seconds=30),
        status="scheduled",
    )
    before = shows_now(tenant_a)
    clock.shift(timedelta(minutes=1))
    after = shows_now(tenant_a)
    assert before != after  # now one session past its start, not logged


def test_two_tenants_never_share_an_entry(
    tenant_a: Tenant, tenant_b: Tenant, clock: object
) -> None:
    a_before = shows_now(tenant_a)
    b_before = shows_now(tenant_b)
    assert a_before != b_before
    # A write in one tenant changes its own page only.
    past_grant(tenant_b.student, 900)
    assert shows_now(tenant_a) == a_before
    b_after = shows_now(tenant_b)
    assert b_after != b_before
    assert tenant_a.student.name not in b_after


def test_a_transaction_that_wrote_computes_the_figures(tenant_a: Tenant, clock: object) -> None:
    from django.db import transaction

    from matchpal.models import Organization

    first = shows_now(tenant_a)
    org = Organization.objects.get(pk=tenant_a.organization.pk)
    with transaction.atomic():
        StudentFactory(organization=org, name="Yann Uncommitted")
        # The version is counted at commit: this transaction reads its own rows.
        assert data_version.version(org) is None
        with timezone.override(org.tz):
            content = home_cache.admin_home(org, member(tenant_a.admin, org))
        assert "Yann Uncommitted" in content
        assert content != first


def test_the_low_balance_list_follows_the_grants_becoming_valid(
    tenant_a: Tenant,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    """The low-balance list is kept until the next moment a grant becomes valid or expires:
    a grant becoming valid takes its student off the list with no write at all."""
    past_grant(tenant_a.student, 30)  # under the threshold: listed
    past_grant(tenant_a.student, 900, valid_from=timezone.now() + timedelta(minutes=5))
    before = shows_now(tenant_a)
    low = before.split("Low balance", 1)
    assert len(low) == 2
    assert tenant_a.student.name in low[1]
    clock.shift(timedelta(minutes=3))  # the minute changed, the usable grants did not
    assert shows_now(tenant_a) == before
    clock.shift(timedelta(minutes=3))  # the second grant is valid now
    after = shows_now(tenant_a)
    assert "Low balance" not in after


def test_the_pending_invitations_follow_their_expiry(
    tenant_a: Tenant,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    """The head counts are kept until the next pending invitation expires: its expiry changes
    the count with no write at all."""
    from matchpal.models import Invitation, Role

    Invitation.objects.create(
        organization=tenant_a.organization,
        email="new@alpha.example",
        role=Role.PROVIDER,
        invited_by=tenant_a.admin,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    before = shows_now(tenant_a)
    clock.shift(timedelta(minutes=3))  # the minute changed, the invitation still pending
    assert shows_now(tenant_a) == before
    clock.shift(timedelta(minutes=3))  # expired
    assert shows_now(tenant_a) != before


@pytest.mark.usefixtures("redis_unreachable")
def test_with_redis_down_every_view_computes_the_figures_and_nothing_more(
    tenant_a: Tenant, clock: object
) -> None:
    past_grant(tenant_a.student, 600)
    org = tenant_a.organization
    membership = member(tenant_a.admin, org)
    with CaptureQueriesContext(connection) as computing, timezone.override(org.tz):
        content = home_cache.render(org, membership)
    client = client_for(tenant_a.admin)

    for _ in range(2):  # nothing was kept by the first
        with CaptureQueriesContext(connection) as queries:
            assert content in page(tenant_a, client)
        # The session's row (not read from the cache), the user with the membership, the
        # version, then the figures as computed without a cache: not the kept parts' moments.
        assert len(queries) == 3 + len(computing), [q["sql"] for q in queries.captured_queries]
