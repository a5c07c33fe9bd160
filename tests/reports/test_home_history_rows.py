"""The student home's "Recent activity" written by `home_history_row` is the text the template
loop wrote (docs/performance.md, "The student's pages: the home's reads and rows")."""

import pytest
from django.template import Context, engines
from django.utils import timezone

from providers.models import Provider
from reports.selectors import student_home
from tests.support import Tenant, at, log, member, paired, past_grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

# The loop as it was before the rows were written in Python.
LOOP = """  {% for e in history %}
    <li class="list-group-item d-flex justify-content-between"><span>{{ e.created_at|date:"M j" }} · {{ e.get_kind_display }}{% if e.relationship %} · {{ e.relationship.provider.name }}{% endif %}{% if e.session %} <span class="small text-secondary">(session of {{ e.session.starts_at|date:"M j" }})</span>{% endif %}</span><span class="text-secondary text-nowrap ms-2">{{ e.running|quantity:e.grant.unit }} free to book</span></li>
  {% empty %}<li class="list-group-item text-secondary">Nothing yet.</li>{% endfor %}"""  # noqa: E501

ROWS = (
    "  {% for e in history %}{% home_history_row e %}{% empty %}"
    '<li class="list-group-item text-secondary">Nothing yet.</li>{% endfor %}'
)


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string("{% load matchpal_tags hours_tags %}" + text).render(Context(context))


def home_history(tenant: Tenant) -> list[object]:
    context = student_home(
        organization=tenant.organization,
        membership=member(tenant.student_user, tenant.organization),
        student=tenant.student,
    )
    history = context["history"]
    assert isinstance(history, list)
    return history


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Pacific/Auckland"])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, zone: str) -> None:
    Provider.objects.filter(pk=tenant_a.provider.pk).update(name='<b>"Tom & Jerry"</b>')
    past_grant(tenant_a.student, 900)
    past_grant(tenant_a.student, 3, unit="sessions")
    relationship = paired(tenant_a, quantity=600)
    log(tenant_a, relationship, duration=45)
    log(tenant_a, relationship, at(9, 23, 30), duration=90)
    history = home_history(tenant_a)
    assert len(history) >= 5
    context = {"history": history, "organization": tenant_a.organization}
    with timezone.override(zone):
        before = render(LOOP, context)
        after = render(ROWS, context)
    assert after == before
    assert "&lt;b&gt;&quot;Tom &amp; Jerry&quot;&lt;/b&gt;" in after
    assert "(session of " in after
    assert "3 sessions free to book" in after


def test_no_activity_yet(tenant_a: Tenant) -> None:
    context = {"history": home_history(tenant_a), "organization": tenant_a.organization}
    assert render(ROWS, context) == render(LOOP, context)
    assert "Nothing yet." in render(ROWS, context)
