"""The providers list's rows written by `provider_row` are the text the template loop wrote
(docs/performance.md, "The lists within 15x /healthz")."""

import pytest
from django.template import Context, engines

from matchpal.models import ServiceType
from providers.selectors import provider_list, provider_rows, with_service_types
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


def test_the_pages_rows_with_their_service_types_are_the_loops_text(
    tenant_a: Tenant, django_assert_num_queries
) -> None:
    """The list reads a page's rows with the columns it shows, then their service types in one
    query (`with_service_types`): the same text as the loop over `provider_list`, whose
    service types are prefetched; `service_types.all()` then runs no query."""
    org = tenant_a.organization
    ServiceType.objects.create(organization=org, name="Maths & <Science>")
    ServiceType.objects.create(organization=org, name="Zoology")
    ProviderFactory(
        organization=org, name="Ann", services=["Zoology", "Tutoring", "Maths & <Science>"]
    )
    ProviderFactory(organization=org, name="Bo", services=[])
    ProviderFactory(organization=org, name="Cy", services=["Zoology"])
    rows = list(provider_rows(organization=org))
    with django_assert_num_queries(1):
        with_service_types(rows, organization=org)
    with django_assert_num_queries(0):
        after = render(ROWS, {"page": rows, "organization": org})
        assert render(LOOP, {"page": rows, "organization": org}) == after
    before = render(LOOP, {"page": list(provider_list(organization=org)), "organization": org})
    assert after == before
    ann = after[after.index(">Ann<") :]
    assert ann.index("Maths &amp;") < ann.index("Tutoring") < ann.index("Zoology") < len(ann)
