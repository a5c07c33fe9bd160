"""The relationships list's rows written by `relationship_row` are the text the template loop
wrote (docs/performance.md, "The lists within 15x /healthz")."""

import pytest
from django.template import Context, engines
from django.utils import timezone

from matchpal.models import Membership
from relationships import selectors
from tests.support import Tenant, other_provider, paired, past_grant, propose

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

LINKS = (
    "{% load matchpal_tags relationship_tags %}"
    "{% row_link 'relationships:detail' organization.slug as detail %}\n"
)

# The loop as it was before the rows were written in Python.
LOOP = """  {% for r in page %}
  <tr>
    <td><a href="{{ detail|with_id:r.public_id }}">{{ r.student.name }}</a></td>
    <td>{{ r.provider.name }}</td><td>{{ r.service_type.name }}</td>
    <td><span class="badge text-bg-{% if r.status == 'paired' %}success{% elif r.status == 'proposed' %}warning{% else %}secondary{% endif %}">{{ r.get_status_display }}</span></td>
    <td class="text-end">{{ r.held|add:r.consumed|quantity:r.unit }}</td>
    <td class="text-end">{{ r.consumed|quantity:r.unit }}</td>
    <td class="text-end">{{ r.held|quantity:r.unit }}</td>
    <td class="text-nowrap">{{ r.created_at|date:"M j, Y" }}</td>
  </tr>
  {% endfor %}"""  # noqa: E501

ROWS = "  {% for r in page %}{% relationship_row r detail %}{% endfor %}"


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINKS + text).render(Context(context))


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, zone: str) -> None:
    org = tenant_a.organization
    tenant_a.student.name = 'Ann "A&B" <O\'Neil>'
    tenant_a.student.save(update_fields=["name"])
    past_grant(tenant_a.student, 900)
    paired(tenant_a, quantity=120)
    propose(tenant_a, quantity=60, provider=other_provider(tenant_a)[1])
    membership = Membership.objects.get(user=tenant_a.admin, organization=org)
    rows = list(selectors.relationship_list(organization=org, membership=membership))
    rows[-1].status = "cancelled"
    assert len(rows) == 2
    context = {"page": rows, "organization": org}
    with timezone.override(zone):
        before = render(LOOP, context)
        after = render(ROWS, context)
    assert after == before
    assert "text-bg-warning" in after
    assert "text-bg-secondary" in after
    assert "Ann &quot;A&amp;B&quot; &lt;O&#x27;Neil&gt;" in after
