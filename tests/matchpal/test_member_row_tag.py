"""The members page's rows written by `member_row` are the text the template loop wrote
(docs/performance.md, "The lists and the provider's home within 15x")."""

import pytest
from django.template import Context, engines

from matchpal.forms import RoleForm
from matchpal.models import Membership, Role
from matchpal.selectors import member_list
from tests.factories import UserFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db

LINKS = (
    "{% load matchpal_tags member_tags %}"
    "{% row_link 'member_change_role' organization.slug as change_role %}"
    "{% row_link 'member_remove' organization.slug as remove %}\n"
)

# The loop as it was before the rows were written in Python.
LOOP = """  {% for m in members.object_list %}
    <tr>
      <td>{{ m.user.email }}</td><td>{{ m.user.name }}</td>
      <td>
        <form method="post" action="{{ change_role|with_id:m.public_id }}" class="d-flex gap-2">{% csrf_token %}
          <select name="role" class="form-select form-select-sm" aria-label="Role of {{ m.user.email }}">
            {% for value, label in role_form.fields.role.choices %}<option value="{{ value }}" {% if value == m.role %}selected{% endif %}>{{ label }}</option>{% endfor %}
          </select>
          <button class="btn btn-sm btn-outline-primary" type="submit">Change</button>
        </form>
      </td>
      <td>
        <form method="post" action="{{ remove|with_id:m.public_id }}">{% csrf_token %}
          <button class="btn btn-sm btn-outline-danger" type="submit">Remove</button>
        </form>
      </td>
    </tr>
  {% endfor %}
"""  # noqa: E501

ROWS = (
    "  {% for m in members.object_list %}"
    "{% member_row m change_role remove role_form.fields.role.choices %}{% endfor %}\n"
)


class Page:
    def __init__(self, rows: list[Membership]) -> None:
        self.object_list = rows


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINKS + text).render(Context(context))


@pytest.mark.parametrize("token", ['a-token&<"x">', None])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, token: str | None) -> None:
    org = tenant_a.organization
    odd = UserFactory(email="o'neil+<x>@example.com", name='Ann "A&B" <O\'Neil>')
    Membership.objects.create(user=odd, organization=org, role=Role.PROVIDER)
    rows = list(member_list(organization=org))
    assert len(rows) >= 4
    assert {m.role for m in rows} == set(Role.values)
    context: dict[str, object] = {
        "members": Page(rows),
        "organization": org,
        "role_form": RoleForm(),
    }
    if token is not None:
        context["csrf_token"] = token
    before = render(LOOP, context)
    after = render(ROWS, context)
    assert after == before
    assert "Ann &quot;A&amp;B&quot; &lt;O&#x27;Neil&gt;" in after
    assert after.count(" selected>") == len(rows)
    if token is not None:
        assert after.count('name="csrfmiddlewaretoken"') == 2 * len(rows)
