"""The provider home's "Past sessions still to log" and "My students" written by `to_log_row`
and `paired_row` are the text the template loops wrote (docs/performance.md, "The provider's
home, again")."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.template import Context, engines
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from matchpal.models import Membership
from relationships import selectors as relationships
from relationships.models import RelationshipStatus
from reports.selectors import provider_dashboard
from sessions_app import selectors as session_selectors
from sessions_app.models import SessionStatus
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory
from tests.support import Tenant, service_type

pytestmark = pytest.mark.django_db

LINKS = (
    "{% load matchpal_tags relationship_tags session_tags %}"
    "{% row_link 'relationships:detail' organization.slug as detail %}"
    "{% row_link 'relationships:accept' organization.slug as accept %}"
    "{% row_link 'relationships:decline' organization.slug as decline %}"
    "{% row_link 'sessions_app:complete' organization.slug as complete %}"
    "{% row_link 'sessions_app:log' organization.slug as log %}"
    "{% row_link 'sessions_app:detail' organization.slug as session_detail %}"
    "{% row_link 'sessions_app:accept' organization.slug as accept_session %}"
    "{% row_link 'sessions_app:decline' organization.slug as decline_session %}\n"
)

# The loops as they were before the rows were written in Python.
LOOPS = """{% for s in requests %}
  <li class="list-group-item d-flex flex-wrap justify-content-between align-items-center gap-2">
    <span><a href="{% url 'sessions_app:detail' organization.slug s.public_id %}">{{ s.starts_at|date:"D M j, H:i" }}</a> · {{ s.relationship.student.name }}{% if s.topic %} · <span class="text-secondary">{{ s.topic }}</span>{% endif %}{% if s.series %} <span class="badge text-bg-light">weekly</span>{% endif %}</span>
    <span class="d-flex gap-2">
      <form method="post" action="{% url 'sessions_app:accept' organization.slug s.public_id %}">{% csrf_token %}<button class="btn btn-sm btn-success" type="submit">Accept</button></form>
      <a class="btn btn-sm btn-outline-danger" href="{% url 'sessions_app:decline' organization.slug s.public_id %}">Decline</a>
    </span>
  </li>
{% endfor %}
{% for s in upcoming %}
  <li class="list-group-item"><a href="{% url 'sessions_app:detail' organization.slug s.public_id %}">{{ s.starts_at|date:"D M j, H:i" }}</a> · {{ s.relationship.student.name }}{% if s.topic %} · <span class="text-secondary">{{ s.topic }}</span>{% endif %}</li>
{% endfor %}
{% for s in to_log %}
  <li class="list-group-item d-flex justify-content-between align-items-center"><span>{{ s.starts_at|date:"D M j, H:i" }} · {{ s.relationship.student.name }}</span>
    {% actions_for s as can %}{% if can.complete %}<a class="btn btn-sm btn-primary" href="{{ complete|with_id:s.public_id }}">Log it</a>{% else %}<span class="small text-secondary">Past the {{ organization.logging_grace_hours }}-hour window: an admin logs it</span>{% endif %}</li>
{% endfor %}
{% for r in proposals %}
  <li class="list-group-item d-flex flex-wrap justify-content-between align-items-center gap-2">
    <span><a href="{{ detail|with_id:r.public_id }}">{{ r.student.name }}</a> · {{ r.service_type.name }} · {{ r.held|quantity:r.unit }} reserved{% if r.respond_by %} <span class="text-secondary small">answer by {{ r.respond_by|date:"M j" }}</span>{% endif %}</span>
    <span class="d-flex gap-2">
      <form method="post" action="{{ accept|with_id:r.public_id }}" hx-post="{{ accept|with_id:r.public_id }}" hx-target="#work" hx-swap="outerHTML">{% csrf_token %}<button class="btn btn-sm btn-success" type="submit">Accept</button></form>
      <a class="btn btn-sm btn-outline-danger" href="{{ decline|with_id:r.public_id }}" hx-post="{{ decline|with_id:r.public_id }}" hx-target="#work" hx-swap="outerHTML" hx-confirm="Decline the proposal for {{ r.student.name }}? The reserved hours go back to the student.">Decline</a>
    </span>
  </li>
{% endfor %}
{% for r in paired %}
  <li class="list-group-item d-flex flex-wrap justify-content-between align-items-center gap-2">
    <span><a href="{{ detail|with_id:r.public_id }}">{{ r.student.name }}</a> · {{ r.service_type.name }} · <span class="text-secondary">{{ r.held|quantity:r.unit }} reserved</span></span>
    <a class="btn btn-sm btn-primary" href="{{ log|with_id:r.public_id }}">Log session</a>
  </li>
{% endfor %}"""  # noqa: E501

ROWS = (
    "{% for s in requests %}"
    "{% request_row s session_detail accept_session decline_session %}{% endfor %}\n"
    "{% for s in upcoming %}{% coming_up_row s session_detail %}{% endfor %}\n"
    "{% for s in to_log %}{% to_log_row s complete %}{% endfor %}\n"
    "{% for r in proposals %}{% proposal_row r detail accept decline %}{% endfor %}\n"
    "{% for r in paired %}{% paired_row r detail log %}{% endfor %}"
)


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINKS + text).render(Context(context))


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
@pytest.mark.parametrize("token", ["a-token", None])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, zone: str, token: str | None) -> None:
    org = tenant_a.organization
    tenant_a.student.name = 'Bea "B&C" <O\'Hara>'
    tenant_a.student.save(update_fields=["name"])
    minutes = RelationshipFactory(
        organization=org,
        student=tenant_a.student,
        provider=tenant_a.provider,
        status=RelationshipStatus.PAIRED,
    )
    RelationshipFactory(
        organization=org,
        student=StudentFactory(organization=org, name="Carl <i>"),
        provider=tenant_a.provider,
        service_type=service_type(org, "Advising"),
        unit="sessions",
        status=RelationshipStatus.PAIRED,
    )
    # Two proposals, one with a date to answer by, one without.
    RelationshipFactory(
        organization=org,
        student=StudentFactory(organization=org, name="Dee & <Co>"),
        provider=tenant_a.provider,
        status=RelationshipStatus.PROPOSED,
        respond_by=timezone.now() + timedelta(days=3),
    )
    RelationshipFactory(
        organization=org,
        student=StudentFactory(organization=org, name="Eve"),
        provider=tenant_a.provider,
        service_type=service_type(org, "Advising"),
        unit="sessions",
        status=RelationshipStatus.PROPOSED,
    )
    now = timezone.now()
    grace = org.logging_grace_hours
    # One still in the provider's window (Log it), one past it (an admin's to log).
    SessionFactory(
        relationship=minutes, starts_at=now - timedelta(hours=1), status=SessionStatus.SCHEDULED
    )
    SessionFactory(
        relationship=minutes,
        starts_at=now - timedelta(hours=grace + 5),
        status=SessionStatus.SCHEDULED,
    )
    # Booking requests (one weekly, one with a topic) and sessions coming up.
    SessionFactory(
        relationship=minutes,
        starts_at=now + timedelta(days=2),
        status=SessionStatus.PENDING,
        topic="Fractions <& decimals>",
        series=uuid.uuid4(),
    )
    SessionFactory(
        relationship=minutes, starts_at=now + timedelta(days=3), status=SessionStatus.PENDING
    )
    SessionFactory(
        relationship=minutes,
        starts_at=now + timedelta(days=4),
        status=SessionStatus.SCHEDULED,
        topic="Essays",
    )
    SessionFactory(
        relationship=minutes, starts_at=now + timedelta(days=5), status=SessionStatus.SCHEDULED
    )
    membership = Membership.objects.select_related("organization").get(
        user=tenant_a.provider_user, organization=org
    )
    context = provider_dashboard(organization=org, membership=membership)
    assert len(context["to_log"]) == 2  # type: ignore[arg-type]
    assert len(context["paired"]) == 2  # type: ignore[arg-type]
    assert len(context["requests"]) == 2  # type: ignore[arg-type]
    assert len(context["upcoming"]) == 2  # type: ignore[arg-type]
    context |= {"organization": org, "membership": membership}
    if token is not None:
        context["csrf_token"] = token
    # The rows read only what the statements read: nothing deferred is fetched after.
    with timezone.override(zone), CaptureQueriesContext(connection) as queries:
        after = render(ROWS, context)
    assert not queries.captured_queries
    with timezone.override(zone):
        before = render(LOOPS, context)
    assert after == before
    assert len(context["proposals"]) == 2  # type: ignore[arg-type]
    # The requests and the sessions coming up are the ORM's, with what the rows show.
    for name, listed in (
        ("requests", session_selectors.requests_to_answer),
        ("upcoming", session_selectors.coming_up),
    ):
        assert [
            (s.pk, s.public_id, s.starts_at, s.topic, s.series, s.relationship.student.name)
            for s in context[name]  # type: ignore[attr-defined]
        ] == [
            (s.pk, s.public_id, s.starts_at, s.topic, s.series, s.relationship.student.name)
            for s in listed(organization=org, membership=membership)
        ]
    # The pairings are the relationships the ORM lists, in its order, with what the rows show.
    for name, orm in (
        ("proposals", relationships.proposals_for_provider),
        ("paired", relationships.paired_for_provider),
    ):
        assert [
            (p.pk, p.public_id, p.unit, p.respond_by, p.held, p.student.name, p.service_type.name)
            for p in context[name]  # type: ignore[attr-defined]
        ] == [
            (r.pk, r.public_id, r.unit, r.respond_by, r.held, r.student.name, r.service_type.name)  # type: ignore[attr-defined]
            for r in orm(organization=org, membership=membership)
        ]
    assert "answer by" in after
    assert "Decline the proposal for Dee &amp; &lt;Co&gt;?" in after
    assert ">Log it</a>" in after
    assert f"Past the {grace}-hour window" in after
    assert "Bea &quot;B&amp;C&quot; &lt;O&#x27;Hara&gt;" in after
    assert "Carl &lt;i&gt;" in after
    assert "Advising" in after
    assert "Fractions &lt;&amp; decimals&gt;" in after
    assert "weekly</span>" in after
    assert ('value="a-token"' in after) is (token is not None)
