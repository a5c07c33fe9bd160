"""The ledger history's rows written by `history_row` are the text the template loop wrote
(docs/performance.md, "The lists within 15x /healthz")."""

import pytest
from django.template import Context, Template, engines
from django.utils import timezone

from grants import selectors
from tests.support import Tenant, at, log, paired, past_grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

# The partial's loop as it was before the rows were written in Python.
LOOP = (
    "{% load matchpal_tags %}"
    "{% row_link 'relationships:detail' organization.slug as relationship_link %}"
    "{% row_link 'sessions_app:detail' organization.slug as session_link %}"
    """
  {% for e in history %}
  <tr>
    <td class="text-nowrap">{{ e.created_at|date:"M j, Y H:i" }}</td>
    <td>{{ e.get_kind_display }}{% if e.relationship %} · <a href="{{ relationship_link|with_id:e.relationship.public_id }}">{{ e.relationship.provider.name }}</a>{% endif %}{% if e.session %} · <a href="{{ session_link|with_id:e.session.public_id }}">session of {{ e.session.starts_at|date:"M j" }}</a>{% endif %}</td>
    <td class="text-end text-nowrap">{% if e.total_delta %}total {{ e.total_delta|quantity:e.grant.unit }} {% endif %}{% if e.used_delta %}used {{ e.used_delta|quantity:e.grant.unit }} {% endif %}{% if e.held_delta %}reserved {{ e.held_delta|quantity:e.grant.unit }}{% endif %}</td>
    <td class="text-end text-nowrap">{{ e.running|quantity:e.grant.unit }}</td>
    <td>{% if e.actor %}{{ e.actor }}{% else %}System{% endif %}</td>
    <td class="small">{{ e.reason }}</td>
  </tr>
  {% endfor %}"""  # noqa: E501
)

ROWS = (
    "{% load matchpal_tags hours_tags %}"
    "{% row_link 'relationships:detail' organization.slug as relationship_link %}"
    "{% row_link 'sessions_app:detail' organization.slug as session_link %}"
    "\n  {% for e in history %}{% history_row e relationship_link session_link %}{% endfor %}"
)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, zone: str) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 900)
    relationship = paired(tenant_a, quantity=600)
    log(tenant_a, relationship, duration=45)
    log(tenant_a, relationship, at(11, 9), duration=90)
    entries = list(selectors.history(organization=org, student=tenant_a.student))
    assert len(entries) >= 4
    rows = selectors.with_running(entries, grants=[grant])
    rows[0].reason = '<b>"Tom & Jerry"</b>'
    rows[-1].actor = None
    engine = engines["django"]
    context = {"history": rows, "organization": org}
    with timezone.override(zone):
        before = Template(LOOP, engine=engine.engine).render(Context(context))
        after = Template(ROWS, engine=engine.engine).render(Context(context))
    assert after == before
    assert "&lt;b&gt;&quot;Tom &amp; Jerry&quot;&lt;/b&gt;" in after
    assert "System" in after
    assert "session of" in after
