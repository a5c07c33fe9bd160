"""The student home's sessions written by `student_session_row` are the text the template
loop wrote, the Confirm form (with its CSRF token), Dispute and Cancel included
(docs/performance.md, "The student's pages within 15×")."""

from datetime import timedelta

import pytest
from django.template import Context, engines
from django.utils import timezone

from matchpal.models import Membership
from reports.selectors import student_sessions
from sessions_app.models import SessionStatus
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant, service_type

pytestmark = pytest.mark.django_db

LINKS = (
    "{% load matchpal_tags session_tags %}"
    "{% row_link 'sessions_app:detail' organization.slug as detail %}"
    "{% row_link 'sessions_app:confirm' organization.slug as confirm %}"
    "{% row_link 'sessions_app:dispute' organization.slug as dispute %}"
    "{% row_link 'sessions_app:cancel_booking' organization.slug as cancel_booking %}\n"
)

# The loop as it was before the rows were written in Python.
LOOP = """    {% for s in sessions %}
      <li class="list-group-item" data-testid="student-session">
        <div class="d-flex justify-content-between flex-wrap gap-1">
          <span><a href="{{ detail|with_id:s.public_id }}">{{ s.starts_at|date:"M j, H:i" }}</a> · {{ s.relationship.provider.name }} <span class="text-secondary small">{{ s.relationship.service_type.name }}</span></span>
          <span class="badge text-bg-{% if s.status == 'completed' %}success{% elif s.status == 'scheduled' %}primary{% else %}secondary{% endif %} align-self-center" data-testid="session-status">{{ s.get_status_display }}</span>{% if s.dispute_open %}<span class="badge text-bg-danger align-self-center" data-testid="session-disputed">Disputed</span>{% endif %}
        </div>
        <div class="small text-secondary" data-testid="session-usage">{{ s.charged_minutes|quantity:s.relationship.unit }} used · Used after it: {{ s.running|quantity:s.relationship.unit }}</div>
        {# The same rule as the session's page: Confirm only where it counts, Dispute inside the window. #}
        {% actions_for s as can %}
        {% if can.confirm or can.dispute or can.cancel_booking %}
          <div class="d-flex gap-2 align-items-center mt-1">
            {% if can.confirm %}<form method="post" action="{{ confirm|with_id:s.public_id }}">{% csrf_token %}<button class="btn btn-sm btn-outline-success" type="submit">Confirm</button></form>{% endif %}
            {% if can.dispute %}<a class="small text-danger" href="{{ dispute|with_id:s.public_id }}">Dispute</a>{% endif %}
            {% if can.cancel_booking %}<a class="small" href="{{ cancel_booking|with_id:s.public_id }}">Cancel</a>{% endif %}
          </div>
        {% endif %}
      </li>
    {% endfor %}"""  # noqa: E501

ROWS = (
    "    {% for s in sessions %}"
    "{% student_session_row s detail confirm dispute cancel_booking %}{% endfor %}"
)


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINKS + text).render(Context(context))


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
@pytest.mark.parametrize("token", ["a-token", None])
@pytest.mark.parametrize("confirmation", [True, False])
def test_the_rows_are_the_loops_text(
    tenant_a: Tenant, zone: str, token: str | None, confirmation: bool
) -> None:
    org = tenant_a.organization
    org.require_student_confirmation = confirmation
    org.save(update_fields=["require_student_confirmation"])
    tenant_a.provider.name = 'Ann "A&B" <O\'Neil>'
    tenant_a.provider.save(update_fields=["name"])
    relationship = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    sessions_unit = RelationshipFactory(
        organization=org,
        student=tenant_a.student,
        provider=tenant_a.provider,
        service_type=service_type(org, "Advising"),
        unit="sessions",
    )
    now = timezone.now()
    SessionFactory(
        relationship=relationship, starts_at=now + timedelta(days=2), status=SessionStatus.SCHEDULED
    )
    SessionFactory(
        relationship=relationship, starts_at=now + timedelta(days=3), status=SessionStatus.PENDING
    )
    SessionFactory(relationship=relationship, starts_at=now - timedelta(days=1))
    SessionFactory(relationship=sessions_unit, starts_at=now - timedelta(days=2))
    SessionFactory(
        relationship=relationship,
        starts_at=now - timedelta(days=3),
        duration_minutes=95,
        disputed_at=now - timedelta(days=1),
    )
    SessionFactory(
        relationship=relationship,
        starts_at=now - timedelta(days=2, hours=5),
        student_confirmed_at=now - timedelta(days=1),
    )
    SessionFactory(relationship=relationship, starts_at=now - timedelta(days=90))
    SessionFactory(
        relationship=relationship,
        starts_at=now - timedelta(days=40),
        status=SessionStatus.CANCELLED,
    )
    membership = Membership.objects.select_related("organization").get(
        user=tenant_a.student_user, organization=org
    )
    sessions = student_sessions(organization=org, membership=membership)
    assert len(sessions) == 8
    context = {"sessions": sessions, "organization": org, "membership": membership}
    if token is not None:
        context["csrf_token"] = token
    with timezone.override(zone):
        before = render(LOOP, context)
        after = render(ROWS, context)
    assert after == before
    assert "Disputed" in after
    assert ">Dispute</a>" in after
    assert ">Cancel</a>" in after
    assert ("btn-outline-success" in after) is confirmation
    assert "Ann &quot;A&amp;B&quot; &lt;O&#x27;Neil&gt;" in after
