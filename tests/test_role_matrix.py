"""Every tenant page × each role of organization A → the status the role gets (DESIGN §2).

The URLs come from the URL resolver (`tests/isolation.py`), their kwargs are A's own objects: the
student and provider personas' own records for `students:*` and `providers:*`, the provider's
membership for the member actions, a pending invitation for `invitation_revoke`. GET is what a
browser does on a page; POST sends the same body as the isolation crawler. A POST-only view
answers GET with 405 before anything else. A tenant URL missing from `EXPECTED` fails.
"""

from typing import NamedTuple

import pytest
from django.test import Client

from tests.factories import MembershipFactory, ProviderFactory, StudentFactory, UserFactory
from tests.isolation import (
    KWARGS,
    POSTS,
    ROLES,
    persona_client,
    registry_problems,
    tenant_routes,
)
from tests.support import Tenant

ROUTES = tenant_routes()


class Expect(NamedTuple):
    """(admin, provider, student) statuses for GET and for POST."""

    get: tuple[int, int, int]
    post: tuple[int, int, int]


ADMIN_PAGE = Expect(get=(200, 403, 403), post=(200, 403, 403))
ADMIN_FORM = Expect(get=(200, 403, 403), post=(302, 403, 403))
ADMIN_ACTION = Expect(get=(405, 405, 405), post=(302, 403, 403))
# Admins and providers (on their own relationships).
STAFF_PAGE = Expect(get=(200, 200, 403), post=(200, 200, 403))
STAFF_FORM = Expect(get=(200, 200, 403), post=(302, 302, 403))

EXPECTED: dict[str, Expect] = {
    "org_home": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    **{
        f"warning_{sign}": ADMIN_PAGE
        for sign in ("short", "long_gap", "irregular", "idle", "repeated_cancellations")
    },
    "org_settings": ADMIN_FORM,
    "members": ADMIN_PAGE,
    "member_invite": ADMIN_FORM,
    "member_change_role": ADMIN_ACTION,
    "member_remove": ADMIN_ACTION,
    "invitation_revoke": ADMIN_ACTION,
    "service_type_list": ADMIN_PAGE,
    "service_type_create": ADMIN_FORM,
    "service_type_edit": ADMIN_FORM,
    "service_type_set_active": ADMIN_ACTION,
    "students:list": ADMIN_PAGE,
    "students:create": ADMIN_FORM,
    "students:me": Expect(get=(403, 403, 200), post=(403, 403, 200)),
    # The student persona's own record; another student's is below.
    "students:detail": Expect(get=(200, 403, 200), post=(200, 403, 200)),
    "students:edit": ADMIN_FORM,
    "students:set_status": ADMIN_ACTION,
    "students:invite": ADMIN_ACTION,
    "students:suspension_lift": ADMIN_ACTION,
    "privacy:student_data": ADMIN_PAGE,
    # The file itself, to an admin's POST.
    "privacy:student_export": Expect(get=(405, 405, 405), post=(200, 403, 403)),
    "privacy:student_erase": ADMIN_ACTION,
    "providers:list": ADMIN_PAGE,
    "providers:create": ADMIN_FORM,
    "providers:me": Expect(get=(403, 200, 403), post=(403, 302, 403)),
    # The provider persona's own record; another provider's is below.
    "providers:detail": Expect(get=(200, 200, 403), post=(200, 200, 403)),
    "providers:edit": ADMIN_FORM,
    "providers:set_status": ADMIN_ACTION,
    "providers:invite": ADMIN_ACTION,
    # The provider's own hours; an admin edits anyone's (docs/scheduling.md).
    "providers:availability": STAFF_PAGE,
    "providers:availability_window_add": STAFF_FORM,
    "providers:availability_window_remove": Expect(get=(405, 405, 405), post=(302, 302, 403)),
    "providers:availability_exception_add": STAFF_FORM,
    "providers:availability_exception_remove": Expect(get=(405, 405, 405), post=(302, 302, 403)),
    "grants:package_list": ADMIN_PAGE,
    "grants:package_create": ADMIN_FORM,
    "grants:package_edit": ADMIN_FORM,
    "grants:package_set_active": ADMIN_ACTION,
    "grants:student_hours": ADMIN_PAGE,
    "grants:grant_create": ADMIN_FORM,
    "grants:grant_adjust": ADMIN_FORM,
    "grants:grant_transfer": ADMIN_FORM,
    "grants:grant_refund": ADMIN_FORM,
    "grants:grant_extend": ADMIN_FORM,
    "grants:hold_release": ADMIN_FORM,
    "grants:my_hours": Expect(get=(403, 403, 200), post=(403, 403, 200)),
    # The personas' own relationship and sessions: the provider's and the student's.
    "relationships:list": STAFF_PAGE,
    "relationships:propose": ADMIN_FORM,
    # The matches of the search fields: a provider's are the people of their own relationships.
    "relationships:search_students": STAFF_PAGE,
    "relationships:search_providers": STAFF_PAGE,
    "relationships:detail": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    "relationships:accept": Expect(get=(405, 405, 405), post=(302, 302, 403)),
    "relationships:decline": STAFF_FORM,
    "relationships:cancel": ADMIN_FORM,
    "relationships:complete": ADMIN_FORM,
    "relationships:allocation": ADMIN_FORM,
    "relationships:rates": ADMIN_FORM,
    "sessions_app:list": STAFF_PAGE,
    "sessions_app:log": STAFF_FORM,
    "sessions_app:new": ADMIN_FORM,
    "sessions_app:reschedule": Expect(get=(200, 200, 403), post=(302, 200, 403)),
    "sessions_app:detail": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    "sessions_app:edit": STAFF_FORM,
    "sessions_app:complete": STAFF_FORM,
    "sessions_app:cancel": STAFF_FORM,
    "sessions_app:no_show": STAFF_FORM,
    "sessions_app:send_report": Expect(get=(405, 405, 405), post=(302, 302, 403)),
    "sessions_app:confirm": Expect(get=(405, 405, 405), post=(403, 403, 302)),
    "sessions_app:dispute": Expect(get=(403, 403, 200), post=(403, 403, 302)),
    "sessions_app:resolve_dispute": ADMIN_FORM,
    # A message on the personas' scheduled session: the student's and the provider's go out;
    # an admin's is refused with a message (302 back to the session).
    "sessions_app:message_post": Expect(get=(405, 405, 405), post=(302, 302, 302)),
    "sessions_app:check_in": STAFF_FORM,
    "sessions_app:check_ins": STAFF_PAGE,
    # Everyone's own week and own private feed link.
    "sessions_app:week": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    "sessions_app:calendar_feed": Expect(get=(200, 200, 200), post=(302, 302, 302)),
    "sessions_app:feedback_questions": ADMIN_PAGE,
    "sessions_app:feedback_question_create": ADMIN_FORM,
    "sessions_app:feedback_question_edit": ADMIN_FORM,
    # Booking: a student books their own, an admin for any student (`?student=`; without one
    # the page says where to start). Without a chosen time the second step leads back to the
    # first.
    "sessions_app:book": Expect(get=(200, 403, 200), post=(200, 403, 200)),
    "sessions_app:book_confirm": Expect(get=(200, 403, 200), post=(200, 403, 200)),
    "sessions_app:accept": Expect(get=(405, 405, 405), post=(302, 302, 403)),
    "sessions_app:decline": STAFF_FORM,
    "sessions_app:cancel_following": STAFF_FORM,
    # The student cancels their own booking; staff use the session's Cancel.
    "sessions_app:cancel_booking": Expect(get=(403, 403, 200), post=(403, 403, 302)),
    "sessions_app:center_week": ADMIN_PAGE,
    "woocommerce:store_list": ADMIN_PAGE,
    "woocommerce:store_create": ADMIN_FORM,
    "woocommerce:store_detail": ADMIN_PAGE,
    "woocommerce:store_edit": ADMIN_FORM,
    "woocommerce:store_sync": ADMIN_ACTION,
    "woocommerce:error_list": ADMIN_PAGE,
    "woocommerce:error_detail": ADMIN_FORM,
    "woocommerce:delivery_list": ADMIN_PAGE,
    "woocommerce:delivery_detail": ADMIN_PAGE,
    # Everyone lists and starts their own exports; the job (the student persona's) and its file
    # are the requester's and the admins' only.
    "exports:list": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    "exports:start": Expect(get=(200, 200, 200), post=(302, 302, 302)),
    "exports:detail": Expect(get=(200, 404, 200), post=(200, 404, 200)),
    "exports:download": Expect(get=(200, 404, 200), post=(200, 404, 200)),
    # Each role's own figures (docs/reports.md); the one-line-per-session export is for staff.
    "reports:index": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    "reports:sessions": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    "reports:sessions_csv": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    "reports:session_rows_csv": STAFF_PAGE,
    # The center's books: admins only (a provider's earnings are the Payroll report's).
    "reports:usage": ADMIN_PAGE,
    "reports:usage_csv": ADMIN_PAGE,
    "reports:financial": ADMIN_PAGE,
    "reports:financial_csv": ADMIN_PAGE,
    # A provider's own payroll; a student's own statement (an admin's, of the student chosen).
    "reports:payroll": STAFF_PAGE,
    "reports:payroll_csv": STAFF_PAGE,
    "reports:statement": Expect(get=(200, 403, 200), post=(200, 403, 200)),
    "reports:statement_csv": Expect(get=(200, 403, 200), post=(200, 403, 200)),
    # Every member has an inbox and email preferences; a notice is its own reader's (the
    # student persona's); the center's defaults and the email log are the admins'.
    "notifications:inbox": Expect(get=(200, 200, 200), post=(200, 200, 200)),
    "notifications:open": Expect(get=(405, 405, 405), post=(404, 404, 302)),
    "notifications:read_all": Expect(get=(405, 405, 405), post=(302, 302, 302)),
    "notifications:preferences": Expect(get=(200, 200, 200), post=(302, 302, 302)),
    "notifications:center_defaults": ADMIN_FORM,
    "notifications:email_list": ADMIN_PAGE,
    "notifications:email_detail": ADMIN_PAGE,
}


def _request(client: Client, method: str, path: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    return client.get(path) if method == "GET" else client.post(path, data)


def _assert_answer(response, expected: int, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    slug = tenant.organization.slug
    assert response.status_code == expected, response.content.decode()[:1500]
    if expected == 200 and response.has_header("Content-Disposition"):
        # A file (a streamed CSV, an export's download): no template, named after the
        # organization.
        assert f'attachment; filename="{slug}-' in response["Content-Disposition"]
    elif expected == 200:
        assert response.context["organization"] == tenant.organization
    elif expected == 302:
        # An action redirects within its organization, never elsewhere.
        assert response["Location"].startswith(f"/o/{slug}/"), response["Location"]
    elif expected == 405:
        assert response["Allow"] == "POST"


def test_the_table_lists_exactly_the_tenant_urls() -> None:
    routed = {route.name for route in ROUTES}

    assert sorted(routed - set(EXPECTED)) == [], "tenant URLs missing from EXPECTED"
    assert sorted(set(EXPECTED) - routed) == [], "EXPECTED rows for URLs that no longer exist"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", [route.name for route in ROUTES])
def test_each_role_gets_the_expected_answer(
    name: str, role: str, method: str, tenant_a: Tenant
) -> None:
    problems = registry_problems(ROUTES)
    if problems:
        pytest.fail("\n".join(problems))
    if name not in EXPECTED:
        pytest.fail(
            f"{name} is missing from EXPECTED in tests/test_role_matrix.py: add what "
            "the admin, provider and student of the organization get."
        )
    route = next(r for r in ROUTES if r.name == name)
    path = route.path(tenant_a.organization.slug, KWARGS.fill(route, tenant_a))
    data = POSTS.spec_for(name).data(tenant_a) if method == "POST" else {}
    expected = getattr(EXPECTED[name], method.lower())[ROLES.index(role)]

    response = _request(persona_client(tenant_a, role), method, path, data)

    _assert_answer(response, expected, tenant_a)


@pytest.mark.parametrize(
    ("role", "expected"), [("admin", 200), ("provider", 403), ("student", 403)]
)
def test_another_students_record_is_for_admins_only(
    role: str, expected: int, tenant_a: Tenant
) -> None:
    org = tenant_a.organization
    other_user = UserFactory(email="other-student@alpha.example")
    MembershipFactory(user=other_user, organization=org, role="student")
    other = StudentFactory(organization=org, user=other_user, email=other_user.email)

    response = persona_client(tenant_a, role).get(f"/o/{org.slug}/students/{other.public_id}/")

    _assert_answer(response, expected, tenant_a)


@pytest.mark.parametrize(
    ("role", "expected"), [("admin", 200), ("provider", 403), ("student", 403)]
)
def test_another_providers_record_is_for_admins_only(
    role: str, expected: int, tenant_a: Tenant
) -> None:
    org = tenant_a.organization
    other_user = UserFactory(email="other-provider@alpha.example")
    MembershipFactory(user=other_user, organization=org, role="provider")
    other = ProviderFactory(organization=org, user=other_user, email=other_user.email)

    response = persona_client(tenant_a, role).get(f"/o/{org.slug}/providers/{other.public_id}/")

    _assert_answer(response, expected, tenant_a)
