"""The providers list's rows written by `provider_row` are the text the template loop wrote
(docs/performance.md, "The lists within 15x /healthz")."""

import pytest
from django.template import Context, engines

from matchpal.models import ServiceType
from providers.selectors import provider_list
from tests.factories import ProviderFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db

LINKS = (
    "{% load matchpal_tags provider_tags %}"
    "{% row_link 'providers:detail' organization.slug as detail %}\n"
)

# The loop as it was before the rows were written in Python.
LOOP = """  {% for p in page %}
    <tr>
      <td><a href="{{ detail|with_id:p.public_id }}">{{ p.name }}</a></td>
      <td>{{ p.email }}</td>
      <td>{% for st in p.service_types.all %}<span class="badge text-bg-info me-1">{{ st.name }}</span>{% endfor %}</td>
      <td>{% if p.user_id %}<span class="badge text-bg-success">Yes</span>{% else %}<span class="badge text-bg-light">No</span>{% endif %}</td>
      <td>{{ p.get_status_display }}</td>
    </tr>
  {% endfor %}"""  # noqa: E501

ROWS = "  {% for p in page %}{% provider_row p detail %}{% endfor %}"


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINKS + text).render(Context(context))


def test_the_rows_are_the_loops_text(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    ServiceType.objects.create(organization=org, name="Maths & <Science>")
    ProviderFactory(
        organization=org,
        name='Ann "A&B" <O\'Neil>',
        email="ann@example.com",
        services=["Tutoring", "Maths & <Science>"],
    )
    ProviderFactory(organization=org, name="Bo", services=[])
    rows = list(provider_list(organization=org))
    assert len(rows) == 3
    context = {"page": rows, "organization": org}
    before = render(LOOP, context)
    after = render(ROWS, context)
    assert after == before
    assert "Ann &quot;A&amp;B&quot; &lt;O&#x27;Neil&gt;" in after
    assert "Maths &amp; &lt;Science&gt;" in after
    assert "text-bg-success" in after
    assert "text-bg-light" in after
