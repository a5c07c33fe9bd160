"""The grants' rows of the hours pages written by `admin_grant_row` and `student_grant_row`
are the text the template loops wrote (docs/performance.md, "The lists within 15x /healthz")."""

from datetime import timedelta

import pytest
from django.template import Context, engines
from django.utils import timezone

from grants import selectors
from matchpal.models import ServiceType
from tests.support import Tenant, past_grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

LINKS = (
    "{% row_link 'grants:grant_adjust' organization.slug as adjust %}"
    "{% row_link 'grants:grant_transfer' organization.slug as transfer %}"
    "{% row_link 'grants:grant_refund' organization.slug as refund %}"
    "{% row_link 'grants:grant_extend' organization.slug as extend %}\n"
)

# The loops as they were before the rows were written in Python.
ADMIN_LOOP = """  {% for g in grants %}
  <tr class="{% if g.status != 'active' %}text-secondary{% endif %}">
    <td>{% for st in g.service_types.all %}{{ st.name }}{% if not forloop.last %}, {% endif %}{% endfor %}{% if g.status != 'active' %} <span class="badge text-bg-secondary">{{ g.get_status_display }}</span>{% endif %}</td>
    <td class="text-end">{{ g.total|quantity:g.unit }}</td>
    <td class="text-end">{{ g.used|quantity:g.unit }}</td>
    <td class="text-end">{{ g.held|quantity:g.unit }}</td>
    <td class="text-end"><strong>{{ g.available|quantity:g.unit }}</strong></td>
    <td class="text-nowrap">{% if g.expires_at %}{{ g.expires_at|last_day|date:"M j, Y" }}{% else %}—{% endif %}</td>
    <td>{{ g.get_source_display }}</td>
    <td class="small">{{ g.reference }}</td>
    <td class="text-nowrap">
      {% if g.status == 'revoked' %}<span class="text-secondary small">No actions</span>{% else %}
      <div class="dropdown">
        <button class="btn btn-sm btn-outline-secondary dropdown-toggle" data-bs-toggle="dropdown" type="button">Actions</button>
        <ul class="dropdown-menu dropdown-menu-end">
          <li><a class="dropdown-item" href="{{ adjust|with_id:g.public_id }}">Adjust</a></li>
          <li><a class="dropdown-item" href="{{ transfer|with_id:g.public_id }}">Transfer</a></li>
          <li><a class="dropdown-item" href="{{ refund|with_id:g.public_id }}">Refund</a></li>
          <li><a class="dropdown-item" href="{{ extend|with_id:g.public_id }}">Extend</a></li>
        </ul>
      </div>
      {% endif %}
    </td>
  </tr>
  {% endfor %}"""  # noqa: E501

STUDENT_LOOP = """    {% for g in grants %}
    <tr class="{% if g.status != 'active' %}text-secondary{% endif %}" data-testid="grant">
      <td>{% for st in g.service_types.all %}{{ st.name }}{% if not forloop.last %}, {% endif %}{% endfor %}{% if g.status != 'active' %} <span class="badge text-bg-secondary">{{ g.get_status_display }}</span>{% endif %}</td>
      <td class="text-end">{{ g.total|quantity:g.unit }}</td>
      <td class="text-end">{{ g.used|quantity:g.unit }}</td>
      <td class="text-end">{{ g.held|quantity:g.unit }}</td>
      <td class="text-end"><strong>{{ g.available|quantity:g.unit }}</strong></td>
      <td class="text-nowrap" data-testid="grant-expires">{% if g.expires_at %}{{ g.expires_at|last_day|date:"M j, Y" }}{% else %}No expiry{% endif %}</td>
    </tr>
    {% endfor %}"""  # noqa: E501


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string("{% load matchpal_tags hours_tags %}" + text).render(Context(context))


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, zone: str) -> None:
    org = tenant_a.organization
    ServiceType.objects.create(organization=org, name="Maths & <Science>")
    past_grant(tenant_a.student, 900, reference='Order "#12" & co')
    past_grant(
        tenant_a.student,
        300,
        service_types=("Tutoring", "Maths & <Science>"),
        expires_at=timezone.now() + timedelta(days=40),
    )
    past_grant(tenant_a.student, 120, unit="sessions")
    grants = list(selectors.grant_list(organization=org, student=tenant_a.student))
    grants[1].status = "revoked"
    grants[2].status = "expired"
    context = {"grants": grants, "organization": org}
    with timezone.override(zone):
        admin_before = render(LINKS + ADMIN_LOOP, context)
        admin_after = render(
            LINKS + "  {% for g in grants %}{% admin_grant_row g adjust transfer refund extend %}"
            "{% endfor %}",
            context,
        )
        student_before = render(STUDENT_LOOP, context)
        student_after = render(
            "    {% for g in grants %}{% student_grant_row g %}{% endfor %}", context
        )
    assert admin_after == admin_before
    assert student_after == student_before
    for html in (admin_after, student_after):
        assert "Maths &amp; &lt;Science&gt;" in html
        assert "Revoked" in html
        assert "Expired" in html
    assert "No actions" in admin_after
    assert "Order &quot;#12&quot; &amp; co" in admin_after
