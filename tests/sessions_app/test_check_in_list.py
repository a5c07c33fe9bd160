"""The check-in list (`sessions_app:check_ins`): the sessions a member may check in now,
oldest first (then by key), at most `CHECK_IN_ROWS`: an admin's scheduled and missed sessions
that have started, on paired relationships, read ids first by a compiled statement
(`checkin.check_in_rows`); a provider's own scheduled ones."""

from datetime import timedelta

import pytest
from django.db import connection
from django.template import Context, engines
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from matchpal.models import Membership
from sessions_app import checkin
from sessions_app.models import Session
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory
from tests.support import Tenant, client_for

pytestmark = pytest.mark.django_db


def _rows(tenant: Tenant, user) -> tuple[list[int], bool]:  # type: ignore[no-untyped-def]
    path = reverse("sessions_app:check_ins", args=[tenant.organization.slug])
    response = client_for(user).get(path)
    assert response.status_code == 200
    return [s.pk for s in response.context["rows"]], response.context["more"]


def _expected(tenant: Tenant, statuses: tuple[str, ...], **only: object) -> list[int]:
    """Worked out here: started, in one of `statuses`, on a paired relationship, oldest
    first, then by key."""
    now = timezone.now()
    sessions = Session.objects.filter(organization=tenant.organization, **only).select_related(
        "relationship"
    )
    return [
        s.pk
        for s in sorted(sessions, key=lambda s: (s.starts_at, s.pk))
        if s.status in statuses and s.starts_at <= now and s.relationship.status == "paired"
    ]


@pytest.fixture
def sessions(tenant_a: Tenant, tenant_b: Tenant) -> None:
    now = timezone.now().replace(microsecond=0)
    for tenant in (tenant_a, tenant_b):
        org = tenant.organization
        mine = RelationshipFactory(organization=org, provider=tenant.provider)
        others = [RelationshipFactory(organization=org) for _ in range(3)]
        ended = RelationshipFactory(organization=org, status="completed")
        proposed = RelationshipFactory(organization=org, status="proposed")
        for days in (1, 2, 3):
            at = now - timedelta(days=days)
            # The same start on several pairings: by key.
            for pairing in (mine, *others):
                SessionFactory(relationship=pairing, starts_at=at, status="scheduled")
            SessionFactory(
                relationship=others[0], starts_at=at - timedelta(hours=1), status="missed"
            )
            SessionFactory(relationship=others[1], starts_at=at - timedelta(hours=2))  # completed
            SessionFactory(
                relationship=others[2], starts_at=at - timedelta(hours=3), status="cancelled"
            )
            # Not on a paired relationship.
            SessionFactory(relationship=ended, starts_at=at, status="scheduled")
            SessionFactory(relationship=proposed, starts_at=at, status="missed")
            # Not started.
            SessionFactory(relationship=mine, starts_at=now + timedelta(days=days))
            SessionFactory(
                relationship=others[0], starts_at=now + timedelta(days=days), status="scheduled"
            )


@pytest.mark.usefixtures("sessions")
def test_an_admin_sees_the_started_scheduled_and_missed_sessions_of_paired_relationships(
    tenant_a: Tenant,
) -> None:
    expected = _expected(tenant_a, ("scheduled", "missed"))
    assert len(expected) == 15
    assert _rows(tenant_a, tenant_a.admin) == (expected, False)


@pytest.mark.usefixtures("sessions")
def test_a_provider_sees_their_own_scheduled_sessions(tenant_a: Tenant) -> None:
    expected = _expected(tenant_a, ("scheduled",), relationship__provider=tenant_a.provider)
    assert len(expected) == 3
    assert _rows(tenant_a, tenant_a.provider_user) == (expected, False)


@pytest.mark.usefixtures("sessions")
def test_the_list_stops_at_its_rows_and_says_there_are_more(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _expected(tenant_a, ("scheduled", "missed"))
    for shown in (1, 4, 14):
        monkeypatch.setattr(checkin, "CHECK_IN_ROWS", shown)
        assert _rows(tenant_a, tenant_a.admin) == (expected[:shown], True)
    monkeypatch.setattr(checkin, "CHECK_IN_ROWS", 15)
    assert _rows(tenant_a, tenant_a.admin) == (expected, False)


@pytest.mark.parametrize("pairings", [1, 10])
def test_an_admins_list_is_two_queries_whatever_its_rows(tenant_a: Tenant, pairings: int) -> None:
    """The membership (1) and the rows with their student, provider and service type (1)."""
    now = timezone.now()
    for n in range(pairings):
        pairing = RelationshipFactory(organization=tenant_a.organization)
        for hours in (1, 2, 3):
            SessionFactory(
                relationship=pairing,
                starts_at=now - timedelta(hours=hours, minutes=n),
                status="scheduled",
            )
    client = client_for(tenant_a.admin)
    path = reverse("sessions_app:check_ins", args=[tenant_a.organization.slug])
    client.get(path)  # the session's first request
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert len(response.context["rows"]) == 3 * pairings
    assert len(queries) == 2, [q["sql"] for q in queries]


# The loop as it was before the rows were written in Python (`check_in_row`).
LOOP = """{% load matchpal_tags %}
  {% for s in rows %}
  <li class="list-group-item d-flex flex-wrap justify-content-between align-items-center gap-2">
    <div>
      <span class="fw-semibold">{{ s.starts_at|date:"D M j, H:i" }}</span> · {{ s.relationship.student.name }}{% if membership.is_admin %} with {{ s.relationship.provider.name }}{% endif %} · {{ s.duration_minutes }} min
      {% if s.status == 'missed' %}<span class="badge text-bg-warning">Missed</span>{% elif s.starts_at <= overdue_after %}<span class="badge text-bg-danger">Overdue</span>{% endif %}
    </div>
    <a class="btn btn-sm btn-primary" href="{% url 'sessions_app:check_in' organization.slug s.public_id %}">Check in</a>
  </li>
  {% endfor %}"""  # noqa: E501
ROWS = """{% load matchpal_tags session_tags %}
  {% row_link 'sessions_app:check_in' organization.slug as check_in %}{% for s in rows %}{% check_in_row s check_in overdue_after membership.is_admin %}{% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
@pytest.mark.parametrize("role", ["admin", "provider"])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, zone: str, role: str) -> None:
    """Scheduled (overdue and not yet), missed, a name that needs escaping, in two time zones
    and for both roles: the tag writes what the loop wrote."""
    org = tenant_a.organization
    now = timezone.now()
    pairing = RelationshipFactory(
        organization=org,
        provider=tenant_a.provider,
        student=StudentFactory(organization=org, name='Ann "A&B" <O\'Neil>'),
    )
    for hours, status in ((1, "scheduled"), (30, "scheduled"), (50, "missed")):
        SessionFactory(
            relationship=pairing,
            starts_at=now - timedelta(hours=hours),
            status=status,
            duration_minutes=45,
        )
    member = Membership.objects.get(
        organization=org, role=role, user__in=[tenant_a.admin, tenant_a.provider_user]
    )
    sessions = list(checkin.to_check_in(organization=org, membership=member))
    rows, _ = checkin.check_in_rows(organization=org, membership=member)
    assert [row.pk for row in rows] == [s.pk for s in sessions]
    assert len(rows) == (3 if role == "admin" else 2)
    context = {
        "organization": org,
        "membership": member,
        "overdue_after": now - timedelta(hours=org.checkin_overdue_hours),
    }
    engine = engines["django"].engine  # type: ignore[attr-defined]
    with timezone.override(zone):
        expected = engine.from_string(LOOP).render(Context({**context, "rows": sessions}))
        assert engine.from_string(ROWS).render(Context({**context, "rows": rows})) == expected
    assert "Overdue" in expected
    assert "Missed" in expected or role == "provider"


# --- `Session.check_in_open`, kept by the database (sessions_app 0020) ----------------------------


def _flags_wrong() -> list[tuple[int, str, str, bool]]:
    """Every session whose flag is not "scheduled or missed, on a paired relationship"."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT s.id, s.status, r.status, s.check_in_open
              FROM sessions_app_session s
              JOIN relationships_relationship r ON r.id = s.relationship_id
             WHERE s.check_in_open IS DISTINCT FROM
                   (s.status IN ('scheduled', 'missed') AND r.status = 'paired')
        """)
        return cursor.fetchall()


@pytest.mark.usefixtures("sessions")
def test_the_flag_follows_each_sessions_status_and_relationship(tenant_a: Tenant) -> None:
    assert _flags_wrong() == []
    assert Session.objects.filter(check_in_open=True).count() == 2 * (3 * 4 + 3 + 3)


def test_a_pairing_that_ends_leaves_the_list_and_one_paired_joins_it(tenant_a: Tenant) -> None:
    """The relationship's status changes after its sessions were written: its scheduled and
    missed sessions follow it, in the same transaction; the list is the one worked out from
    the relationships' status at every step."""
    org, now = tenant_a.organization, timezone.now().replace(microsecond=0)
    paired = RelationshipFactory(organization=org)
    proposed = RelationshipFactory(organization=org, status="proposed")
    for pairing in (paired, proposed):
        for hours, status in ((1, "scheduled"), (2, "missed"), (3, "completed")):
            SessionFactory(
                relationship=pairing, starts_at=now - timedelta(hours=hours), status=status
            )
    expected = _expected(tenant_a, ("scheduled", "missed"))
    assert len(expected) == 2
    assert _rows(tenant_a, tenant_a.admin) == (expected, False)

    proposed.status = "paired"
    proposed.save(update_fields=["status"])
    expected = _expected(tenant_a, ("scheduled", "missed"))
    assert len(expected) == 4
    assert _rows(tenant_a, tenant_a.admin) == (expected, False)

    for ending in ("completed", "cancelled"):
        paired.status = ending
        paired.save(update_fields=["status"])
        expected = _expected(tenant_a, ("scheduled", "missed"))
        assert len(expected) == 2
        assert _rows(tenant_a, tenant_a.admin) == (expected, False)
        assert _flags_wrong() == []
        paired.status = "paired"
        paired.save(update_fields=["status"])
        assert _flags_wrong() == []
    assert len(_rows(tenant_a, tenant_a.admin)[0]) == 4


def test_the_flag_is_the_databases_to_decide(tenant_a: Tenant) -> None:
    """A write that sets the flag, or changes what it depends on, leaves it as the session's
    status and its relationship's say: it cannot be set wrong from outside."""
    org, now = tenant_a.organization, timezone.now()
    paired = RelationshipFactory(organization=org)
    ended = RelationshipFactory(organization=org, status="completed")
    scheduled = SessionFactory(
        relationship=paired, starts_at=now - timedelta(hours=1), status="scheduled"
    )
    done = SessionFactory(relationship=paired, starts_at=now - timedelta(hours=2))
    left = SessionFactory(relationship=ended, starts_at=now - timedelta(hours=3), status="missed")
    sessions = Session.objects.filter(pk__in=[scheduled.pk, done.pk, left.pk])

    assert sessions.filter(check_in_open=True).count() == 1
    sessions.update(check_in_open=True)
    assert list(sessions.filter(check_in_open=True).values_list("pk", flat=True)) == [scheduled.pk]
    sessions.update(check_in_open=False)
    assert list(sessions.filter(check_in_open=True).values_list("pk", flat=True)) == [scheduled.pk]
    # A full save writes the column with the instance's value; the trigger decides it again.
    scheduled.status = "completed"
    scheduled.save()
    done.status = "scheduled"
    done.save()
    assert list(sessions.filter(check_in_open=True).values_list("pk", flat=True)) == [done.pk]
    # Moved to the ended pairing and back.
    sessions.filter(pk=done.pk).update(relationship=ended)
    assert not sessions.filter(check_in_open=True).exists()
    sessions.filter(pk=done.pk).update(relationship=paired)
    assert list(sessions.filter(check_in_open=True).values_list("pk", flat=True)) == [done.pk]
    assert _flags_wrong() == []


def test_marked_missed_a_session_keeps_its_relationships_say(tenant_a: Tenant) -> None:
    """Scheduled to missed (the missed-session job's update) keeps the flag without reading
    the relationship; on a paired relationship it stays open, on an ended one closed."""
    org, now = tenant_a.organization, timezone.now()
    paired = RelationshipFactory(organization=org)
    ended = RelationshipFactory(organization=org, status="completed")
    sessions = [
        SessionFactory(relationship=pairing, starts_at=now - timedelta(hours=1), status="scheduled")
        for pairing in (paired, ended)
    ]

    Session.objects.filter(pk__in=[s.pk for s in sessions]).update(status="missed")

    assert _flags_wrong() == []
    assert list(Session.objects.filter(check_in_open=True).values_list("pk", flat=True)) == [
        sessions[0].pk
    ]
