"""The week's sessions, read for a provider and a student by the statements compiled once and
written by `week_session`, are the text the ORM's rows gave through the template loop, for
each role; and a provider's check-in list is `to_check_in`'s rows (docs/performance.md, "The
pairing's page and the homes' rows")."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.template import Context, engines
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from matchpal.models import Membership
from sessions_app import checkin, selectors
from sessions_app.models import SessionStatus
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db

LINK = "{% load matchpal_tags session_tags %}{% row_link 'sessions_app:detail' organization.slug as detail %}"  # noqa: E501

# The loop as it was before the sessions were written in Python (sessions_app/week.html).
LOOP = """{% for d in week.days %}
    {% for s in d.sessions %}
    <a class="mp-week-session mp-status-{{ s.status }}" href="{% url 'sessions_app:detail' organization.slug s.public_id %}">
      <span class="fw-semibold">{{ s.starts_at|time:"H:i" }}</span> {{ s.duration_minutes }} min ·
      {% if membership.is_student %}{{ s.relationship.provider.name }}{% elif membership.is_provider %}{{ s.relationship.student.name }}{% else %}{{ s.relationship.student.name }} / {{ s.relationship.provider.name }}{% endif %}
      {% if s.status != 'scheduled' %}<span class="small">({{ s.get_status_display }})</span>{% endif %}
    </a>
    {% empty %}<div class="mp-week-empty">No sessions</div>{% endfor %}{% endfor %}"""  # noqa: E501

ROWS = """{% for d in week.days %}
    {% for s in d.sessions %}{% week_session s detail %}{% empty %}<div class="mp-week-empty">No sessions</div>{% endfor %}{% endfor %}"""  # noqa: E501


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINK + text).render(Context(context))


def _member(tenant: Tenant, role: str) -> Membership:
    user = {
        "student": tenant.student_user,
        "provider": tenant.provider_user,
        "admin": tenant.admin,
    }[role]
    return Membership.objects.select_related("organization").get(
        user=user, organization=tenant.organization
    )


def _sessions(tenant: Tenant, monday: datetime) -> None:
    org = tenant.organization
    tenant.student.name = 'Ann "A&B" <O\'Neil>'
    tenant.student.save(update_fields=["name"])
    tenant.provider.name = "Bo <b>&"
    tenant.provider.save(update_fields=["name"])
    relationship = RelationshipFactory(
        organization=org, student=tenant.student, provider=tenant.provider
    )
    other = RelationshipFactory(organization=org)  # another pair: only the admin sees it
    statuses = [
        SessionStatus.SCHEDULED,
        SessionStatus.COMPLETED,
        SessionStatus.PENDING,
        SessionStatus.NO_SHOW,
        SessionStatus.CANCELLED,
        SessionStatus.MISSED,
    ]
    for n, status in enumerate(statuses * 2):
        SessionFactory(
            relationship=relationship if n % 3 else other,
            starts_at=monday + timedelta(days=n % 7, hours=1 + n, minutes=5 * n),
            duration_minutes=30 + 15 * n,
            status=status,
        )


@pytest.mark.parametrize("role", ["student", "provider", "admin"])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_the_week_is_the_loops_text(tenant_a: Tenant, role: str, zone: str) -> None:
    org = tenant_a.organization
    org.timezone = zone
    org.save()
    tz = org.tz
    today = timezone.localtime(timezone.now(), tz).date()
    monday_day = today - timedelta(days=today.weekday())
    monday = datetime.combine(monday_day, datetime.min.time(), tzinfo=tz)
    end = monday + timedelta(days=7)
    _sessions(tenant_a, monday)
    membership = _member(tenant_a, role)
    with CaptureQueriesContext(connection) as queries:
        week = selectors.week_days(organization=org, membership=membership, start=monday, end=end)
    assert len(queries) == 1
    # The ORM's rows, as the week read them before (every column of the five tables).
    orm_rows = selectors.with_organization(
        selectors.session_rows(organization=org, membership=membership)
        .filter(starts_at__gte=monday, starts_at__lt=end)
        .exclude(status=SessionStatus.CANCELLED)
        .order_by("starts_at", "id")[: selectors.WEEK_MAX_SESSIONS + 1],
        org,
    )
    by_day: dict[object, list[object]] = {monday_day + timedelta(days=n): [] for n in range(7)}
    for session in orm_rows:
        by_day[timezone.localtime(session.starts_at, tz).date()].append(session)
    old_week = {"days": [{"day": day, "sessions": items} for day, items in by_day.items()]}
    context = {"organization": org, "membership": membership}
    with timezone.override(zone):
        before = render(LOOP, {**context, "week": old_week})
        after = render(ROWS, {**context, "week": week})
    assert after == before
    assert [s.pk for d in week.days for s in d.sessions] == [s.pk for s in orm_rows]
    assert len(orm_rows) == (10 if role == "admin" else 6)
    assert "(Requested)" in after
    assert ("mp-week-empty" in after) == (role != "admin")


def test_a_providers_check_ins_are_to_check_ins_rows(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    relationship = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    ended = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider, status="completed"
    )
    other = RelationshipFactory(organization=org)
    now = timezone.now()
    for n in range(checkin.CHECK_IN_ROWS + 15):
        SessionFactory(
            relationship=relationship,
            starts_at=now - timedelta(hours=2 * n + 1),
            status=SessionStatus.SCHEDULED if n % 5 else SessionStatus.MISSED,
        )
    SessionFactory(
        relationship=relationship, starts_at=now + timedelta(hours=3), status="scheduled"
    )
    SessionFactory(relationship=ended, starts_at=now - timedelta(days=9), status="scheduled")
    SessionFactory(relationship=other, starts_at=now - timedelta(days=9), status="scheduled")
    membership = _member(tenant_a, "provider")
    with CaptureQueriesContext(connection) as queries:
        rows, more = checkin.check_in_rows(organization=org, membership=membership)
    assert len(queries) == 1
    orm = list(checkin.to_check_in(organization=org, membership=membership))
    shown = orm[: checkin.CHECK_IN_ROWS]
    assert more
    assert len(rows) == checkin.CHECK_IN_ROWS
    assert [
        (r.pk, r.public_id, r.starts_at, r.duration_minutes, r.status, r.student, r.provider)
        for r in rows
    ] == [
        (
            s.pk,
            s.public_id,
            s.starts_at,
            s.duration_minutes,
            s.status,
            s.relationship.student.name,
            s.relationship.provider.name,
        )
        for s in shown
    ]
