"""The sessions list's rows written by `session_row` are the text the template loop wrote,
buttons included, for each role that opens the list (docs/performance.md, "The lists within
15x /healthz")."""

from datetime import timedelta

import pytest
from django.template import Context, engines
from django.utils import timezone

from matchpal.models import Membership
from sessions_app.models import SessionStatus
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db

LINKS = (
    "{% load matchpal_tags session_tags %}"
    "{% row_link 'sessions_app:detail' organization.slug as detail %}"
    "{% row_link 'sessions_app:edit' organization.slug as edit %}"
    "{% row_link 'sessions_app:cancel' organization.slug as cancel %}"
    "{% row_link 'sessions_app:no_show' organization.slug as no_show %}\n"
)

# The loop as it was before the rows were written in Python.
LOOP = """  {% for s in page %}
  <tr>
    <td class="text-nowrap"><a href="{{ detail|with_id:s.public_id }}">{{ s.starts_at|date:"D M j, Y H:i" }}</a></td>
    <td>{{ s.relationship.student.name }}</td><td>{{ s.relationship.provider.name }}</td>
    <td>{{ s.duration_minutes|hours }}</td><td>{{ s.get_kind_display }}</td><td>{{ s.get_status_display }}{% if s.dispute_open %} <span class="badge text-bg-danger">Disputed</span>{% endif %}</td>
    <td class="text-nowrap">{% actions_for s as can %}{% if can.edit %}<a class="btn btn-sm btn-outline-secondary" href="{{ edit|with_id:s.public_id }}">Edit</a> {% endif %}{% if can.cancel %}<a class="btn btn-sm btn-outline-secondary" href="{{ cancel|with_id:s.public_id }}">Cancel</a> {% endif %}{% if can.no_show %}<a class="btn btn-sm btn-outline-secondary" href="{{ no_show|with_id:s.public_id }}">No-show</a>{% endif %}</td>
  </tr>
  {% endfor %}"""  # noqa: E501

ROWS = "  {% for s in page %}{% session_row s detail edit cancel no_show %}{% endfor %}"


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINKS + text).render(Context(context))


@pytest.mark.parametrize("role", ["admin", "provider"])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, role: str, zone: str) -> None:
    org = tenant_a.organization
    tenant_a.student.name = 'Ann "A&B" <O\'Neil>'
    tenant_a.student.save(update_fields=["name"])
    relationship = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    now = timezone.now()
    rows = [
        SessionFactory(
            relationship=relationship,
            starts_at=now + timedelta(days=2),
            status=SessionStatus.SCHEDULED,
        ),
        SessionFactory(relationship=relationship, starts_at=now - timedelta(days=1)),
        SessionFactory(
            relationship=relationship,
            starts_at=now - timedelta(days=3),
            duration_minutes=95,
            kind="advising",
            disputed_at=now - timedelta(days=1),
        ),
        SessionFactory(
            relationship=relationship,
            starts_at=now - timedelta(days=40),
            status=SessionStatus.CANCELLED,
        ),
    ]
    user = tenant_a.admin if role == "admin" else tenant_a.provider_user
    membership = Membership.objects.select_related("organization").get(user=user, organization=org)
    for session in rows:
        session.organization = org
        session.relationship.organization = org
    context = {"page": rows, "organization": org, "membership": membership}
    with timezone.override(zone):
        before = render(LOOP, context)
        after = render(ROWS, context)
    assert after == before
    assert "Disputed" in after
    assert "Ann &quot;A&amp;B&quot; &lt;O&#x27;Neil&gt;" in after
    assert ">Edit</a>" in after
    assert "1 h 35 min" in after or "1h35" in after or "95" in after
