"""A relationship page's sessions, read by the statements compiled once and written by
`relationship_session_row`, are the text the ORM's rows gave through the template loop, on
every page, for each role (docs/performance.md, "The pairing's page and the homes' rows")."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.template import Context, engines
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from matchpal.models import Membership
from matchpal.pagination import paginate
from relationships import selectors as relationships
from relationships.models import Relationship
from sessions_app import selectors
from sessions_app.models import SessionKind, SessionStatus
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db

LINK = "{% load matchpal_tags session_tags %}{% row_link 'sessions_app:detail' organization.slug as session_link %}\n"  # noqa: E501

# The loop as it was before the rows were written in Python (relationships/detail.html).
LOOP = """  {% for s in sessions %}
  <tr><td><a href="{{ session_link|with_id:s.public_id }}">{{ s.starts_at|date:"D M j, Y H:i" }}</a></td>
    <td>{{ s.duration_minutes|hours }}</td><td>{{ s.get_kind_display }}</td><td>{{ s.get_status_display }}{% if s.dispute_open %} <span class="badge text-bg-danger">Disputed</span>{% endif %}</td>
    {% if not membership.is_student %}<td class="text-end">{{ s.provider_earnings }}</td>{% if sees_client_amount %}<td class="text-end">{{ s.client_amount }}</td>{% endif %}{% endif %}</tr>
  {% empty %}<tr><td colspan="6" class="text-secondary">No sessions yet.</td></tr>{% endfor %}"""  # noqa: E501

ROWS = '  {% for s in sessions %}{% relationship_session_row s session_link sees_client_amount %}{% empty %}<tr><td colspan="6" class="text-secondary">No sessions yet.</td></tr>{% endfor %}'  # noqa: E501


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINK + text).render(Context(context))


def _orm_page(relationship: Relationship, page: str) -> object:
    """The page as the view read it before: the ORM's queryset, every column, with money."""
    request = RequestFactory().get("/", {"page": page})
    return paginate(
        request,
        relationship.sessions.filter(organization=relationship.organization)
        .select_related("logged_by")
        .with_money()
        .order_by("-starts_at", "-id"),
    )


def _relationship(tenant: Tenant, unit: str) -> Relationship:
    org = tenant.organization
    relationship = RelationshipFactory(
        organization=org, student=tenant.student, provider=tenant.provider, unit=unit
    )
    now = timezone.now()
    rates = {"provider_pay_rate": Decimal("31.50"), "client_rate": Decimal("1234.05")}
    for n in range(27):
        SessionFactory(
            relationship=relationship,
            starts_at=now - timedelta(days=n, hours=n % 5),
            duration_minutes=30 + 5 * n,
            charged_minutes=1 if unit == "sessions" else 30 + 5 * n,
            **rates,
        )
    # A disputed revision, a charged absence, one to come.
    SessionFactory(
        relationship=relationship,
        starts_at=now - timedelta(days=3, minutes=7),
        kind=SessionKind.REVISION,
        review_minutes=20,
        charged_minutes=1 if unit == "sessions" else 20,
        disputed_at=now,
        **rates,
    )
    SessionFactory(
        relationship=relationship,
        starts_at=now - timedelta(days=1, hours=4),
        status=SessionStatus.CANCELLED,
        charged_minutes=1 if unit == "sessions" else 60,
        **rates,
    )
    SessionFactory(
        relationship=relationship,
        starts_at=now + timedelta(days=2),
        status=SessionStatus.SCHEDULED,
        **rates,
    )
    return relationship


@pytest.mark.parametrize("role", ["student", "provider", "admin"])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
@pytest.mark.parametrize("unit", ["minutes", "sessions"])
def test_each_page_is_the_loops_text(tenant_a: Tenant, role: str, zone: str, unit: str) -> None:
    org = tenant_a.organization
    org.require_student_confirmation = unit == "sessions"
    org.pay_providers_for_charged_absences = True
    org.providers_see_client_amount = role == "provider" and unit == "minutes"
    org.save()
    relationship = _relationship(tenant_a, unit)
    user = {
        "student": tenant_a.student_user,
        "provider": tenant_a.provider_user,
        "admin": tenant_a.admin,
    }[role]
    membership = Membership.objects.select_related("organization").get(user=user, organization=org)
    shown = relationships.relationship_get(
        organization=org, membership=membership, public_id=relationship.public_id
    )
    sees = selectors.sees_client_amount(membership, org)
    base = {"organization": org, "membership": membership, "sees_client_amount": sees}
    for page in ("1", "2", "3", "last"):
        request = RequestFactory().get("/", {"page": page})
        with CaptureQueriesContext(connection) as queries:
            new = selectors.relationship_sessions_page(
                request, relationship=shown, membership=membership
            )
            rows = list(new)
        assert len(queries) == 2  # the capped count and the page
        old = _orm_page(relationship, page)
        assert new.number == old.number
        assert new.paginator.num_pages == old.paginator.num_pages
        with timezone.override(zone):
            before = render(LOOP, {**base, "sessions": old})
            after = render(ROWS, {**base, "sessions": rows})
        assert after == before
        assert len(rows) == (5 if page in ("2", "3") else 25)
    if role != "student":
        assert "text-end" in after
        assert ("1234" in after) == sees
    else:
        assert "text-end" not in after


def test_no_sessions(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    relationship = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    membership = Membership.objects.select_related("organization").get(
        user=tenant_a.admin, organization=org
    )
    new = selectors.relationship_sessions_page(
        RequestFactory().get("/"), relationship=relationship, membership=membership
    )
    context = {"organization": org, "membership": membership, "sees_client_amount": True}
    before = render(LOOP, {**context, "sessions": _orm_page(relationship, "1")})
    assert render(ROWS, {**context, "sessions": new}) == before
    assert "No sessions yet." in before


def test_the_history_and_the_relationship_are_the_orms(tenant_a: Tenant) -> None:
    """`relationship_get` and `status_history` (compiled) give what the ORM gave."""
    from relationships import services

    org = tenant_a.organization
    relationship = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider, status="proposed"
    )
    admin = Membership.objects.select_related("organization", "user").get(
        user=tenant_a.admin, organization=org
    )
    provider = Membership.objects.select_related("organization", "user").get(
        user=tenant_a.provider_user, organization=org
    )
    services.relationship_accept(membership=provider, relationship=relationship)
    services.relationship_cancel(membership=admin, relationship=relationship, reason="moved <away>")
    history = relationships.status_history(relationship=relationship)
    orm = list(relationship.status_changes.filter(organization=org).select_related("actor"))
    assert [(h.pk, h.to_status, str(h.actor), h.reason) for h in history] == [
        (h.pk, h.to_status, str(h.actor), h.reason) for h in orm
    ]
    assert len(history) >= 2
    for membership in (admin, provider):
        got = relationships.relationship_get(
            organization=org, membership=membership, public_id=relationship.public_id
        )
        orm_got = (
            relationships.relationship_list(organization=org, membership=membership)
            .filter(public_id=relationship.public_id)
            .first()
        )
        assert orm_got is not None
        assert (got.pk, got.held, got.consumed, got.student.name, got.provider.user_id) == (  # type: ignore[attr-defined]
            orm_got.pk,
            orm_got.held,  # type: ignore[attr-defined]
            orm_got.consumed,  # type: ignore[attr-defined]
            orm_got.student.name,
            orm_got.provider.user_id,
        )
