"""The list tags (one call per list) write what `{% for %}` over their row tags wrote, with
`{% if %}…{% else %}` standing for `{% empty %}`: the hours pages' history and grants, the
student home's sessions and recent activity, the provider home's students and a relationship
page's sessions (docs/performance.md, "The pairing's page and the homes' rows")."""

from datetime import timedelta

import pytest
from django.template import Context, engines
from django.test import RequestFactory
from django.utils import timezone

from grants import selectors
from grants.history import History
from matchpal.models import Membership
from relationships.models import RelationshipStatus
from reports.selectors import provider_dashboard, student_home
from sessions_app import selectors as session_selectors
from sessions_app.models import SessionStatus
from tests.factories import RelationshipFactory, SessionFactory, make_grant
from tests.grants.test_history_page import build_ledger
from tests.support import Tenant, service_type

pytestmark = pytest.mark.django_db

LINKS = (
    "{% load matchpal_tags hours_tags session_tags relationship_tags %}"
    "{% row_link 'relationships:detail' organization.slug as detail %}"
    "{% row_link 'sessions_app:detail' organization.slug as session_detail %}"
    "{% row_link 'sessions_app:log' organization.slug as log %}"
    "{% row_link 'sessions_app:confirm' organization.slug as confirm %}"
    "{% row_link 'sessions_app:dispute' organization.slug as dispute %}"
    "{% row_link 'sessions_app:cancel_booking' organization.slug as cancel_booking %}"
    "{% row_link 'grants:grant_adjust' organization.slug as adjust %}"
    "{% row_link 'grants:grant_transfer' organization.slug as transfer %}"
    "{% row_link 'grants:grant_refund' organization.slug as refund %}"
    "{% row_link 'grants:grant_extend' organization.slug as extend %}\n"
)

# (the loop over the row tag, the list tag), as the templates were and are.
PAIRS = {
    "history": (
        "{% for e in history %}{% history_row e detail session_detail %}{% empty %}<tr>none</tr>{% endfor %}",  # noqa: E501
        "{% if history %}{% history_rows history detail session_detail %}{% else %}<tr>none</tr>{% endif %}",  # noqa: E501
    ),
    "student_grants": (
        "{% for g in grants %}{% student_grant_row g %}{% empty %}<tr>none</tr>{% endfor %}",
        "{% if grants %}{% student_grant_rows grants %}{% else %}<tr>none</tr>{% endif %}",
    ),
    "admin_grants": (
        "{% for g in grants %}{% admin_grant_row g adjust transfer refund extend %}{% empty %}<tr>none</tr>{% endfor %}",  # noqa: E501
        "{% if grants %}{% admin_grant_rows grants adjust transfer refund extend %}{% else %}<tr>none</tr>{% endif %}",  # noqa: E501
    ),
    "home_history": (
        "{% for e in recent %}{% home_history_row e %}{% empty %}<li>none</li>{% endfor %}",
        "{% if recent %}{% home_history_rows recent %}{% else %}<li>none</li>{% endif %}",
    ),
    "student_sessions": (
        "{% for s in sessions %}{% student_session_row s session_detail confirm dispute cancel_booking %}{% empty %}<li>none</li>{% endfor %}",  # noqa: E501
        "{% if sessions %}{% student_session_rows sessions session_detail confirm dispute cancel_booking %}{% else %}<li>none</li>{% endif %}",  # noqa: E501
    ),
    "paired": (
        "{% for r in paired %}{% paired_row r detail log %}{% empty %}<li>none</li>{% endfor %}",
        "{% if paired %}{% paired_rows paired detail log %}{% else %}<li>none</li>{% endif %}",
    ),
    "relationship_sessions": (
        "{% for s in page %}{% relationship_session_row s session_detail True %}{% empty %}<tr>none</tr>{% endfor %}",  # noqa: E501
        "{% if page %}{% relationship_session_rows page session_detail True %}{% else %}<tr>none</tr>{% endif %}",  # noqa: E501
    ),
}


def render(text: str, context: dict[str, object]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    return engine.from_string(LINKS + text).render(Context(context))


def _context(t: Tenant, role: str) -> dict[str, object]:
    org = t.organization
    user = {"student": t.student_user, "provider": t.provider_user, "admin": t.admin}[role]
    membership = Membership.objects.select_related("organization", "user").get(
        user=user, organization=org
    )
    context: dict[str, object] = {
        "organization": org,
        "membership": membership,
        "csrf_token": "a-token",
    }
    if role == "student":
        home = student_home(organization=org, membership=membership, student=t.student)
        context |= {"sessions": home["sessions"], "recent": home["history"]}
        grants = selectors.grants_of_student(organization=org, student=t.student)
        history = History(organization=org, student=t.student, grants=grants)
        context |= {"grants": grants, "history": history[:25]}
    elif role == "provider":
        context |= {"paired": provider_dashboard(organization=org, membership=membership)["paired"]}
    else:
        relationship = (
            RelationshipFactory._meta.model.objects.filter(organization=org, sessions__isnull=False)
            .order_by("pk")
            .first()
        )
        if relationship is not None:
            context["page"] = session_selectors.relationship_sessions_page(
                RequestFactory().get("/"), relationship=relationship, membership=membership
            )
        else:
            context["page"] = []
        context["grants"] = selectors.grants_of_student(organization=org, student=t.student)
    return context


def _fill(t: Tenant) -> None:
    org = t.organization
    build_ledger(t)
    make_grant(student=t.student, minutes=90, expires_at=timezone.now() + timedelta(days=20))
    relationship = RelationshipFactory(
        organization=org,
        student=t.student,
        provider=t.provider,
        service_type=service_type(org, "Advising"),
        status=RelationshipStatus.PAIRED,
    )
    now = timezone.now()
    for n in range(4):
        SessionFactory(
            relationship=relationship,
            starts_at=now - timedelta(days=n + 1),
            status=SessionStatus.COMPLETED if n else SessionStatus.SCHEDULED,
            disputed_at=now if n == 2 else None,
        )


@pytest.mark.parametrize("filled", [True, False])
@pytest.mark.parametrize("role", ["student", "provider", "admin"])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_a_list_tag_writes_its_loops_text(
    tenant_a: Tenant, role: str, zone: str, filled: bool
) -> None:
    if filled:
        _fill(tenant_a)
    context = _context(tenant_a, role)
    names = {
        "student": ["history", "student_grants", "home_history", "student_sessions"],
        "provider": ["paired"],
        "admin": ["admin_grants", "relationship_sessions"],
    }[role]
    for name in names:
        loop, tag = PAIRS[name]
        with timezone.override(zone):
            before = render(loop, context)
            after = render(tag, context)
        assert after == before, name
        assert ("none<" in after) is not filled, name
