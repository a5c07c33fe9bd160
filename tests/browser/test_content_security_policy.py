"""The Content-Security-Policy in a real browser: every page each role opens (the role matrix's
GET 200s), the sign-in pages and the Django admin load under the enforced policy without one
violation in the console, and an htmx search swaps its matches in without one either.

Chromium reports each blocked inline script, inline style, `on…=` handler or `eval` as a console
error naming the Content Security Policy; any such line fails the test, with the page it was on.
"""

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.browser.conftest import signed_in_context
from tests.factories import UserFactory
from tests.isolation import KWARGS, ROLES, tenant_routes
from tests.support import Tenant, make_tenant
from tests.test_role_matrix import EXPECTED

pytestmark = [pytest.mark.browser]

# Answers that are not pages: files (CSV, an export's download) and the search fields' matches
# (a fragment htmx puts into a page; opened below through the page that asks for it).
NOT_PAGES = ("_csv", "exports:download", "relationships:search_")


def _pages_of(role: str, tenant: Tenant) -> list[str]:
    slug = tenant.organization.slug
    pages = []
    for route in tenant_routes():
        assert route.name is not None
        if route.name.endswith(NOT_PAGES) or route.name.startswith(NOT_PAGES):
            continue
        if EXPECTED[route.name].get[ROLES.index(role)] == 200:
            pages.append(route.path(slug, KWARGS.fill(route, tenant)))
    return pages


class Violations:
    """The console's CSP reports (and uncaught errors) of a page, with the URL they came from."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"{page.url}: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.found.append(f"{self.page.url}: {message.text}")

    def visit(self, base: str, paths: list[str]) -> None:
        for path in paths:
            response = self.page.goto(base + path, wait_until="load")
            assert response is not None, path
            assert response.status == 200, path
            policy = response.header_value("content-security-policy") or ""
            assert "script-src 'self'" in policy, path


def test_every_page_of_each_role_loads_without_a_csp_violation(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    tenant = make_tenant("Harbor Tutors", "harbor")
    found: list[str] = []
    users = {
        "admin": tenant.admin,
        "provider": tenant.provider_user,
        "student": tenant.student_user,
    }
    for role in ROLES:
        pages = _pages_of(role, tenant)
        assert len(pages) >= 4, (role, pages)
        page = signed_in_context(browser, base, users[role]).new_page()
        violations = Violations(page)
        violations.visit(base, ["/orgs/", "/orgs/new/", "/accounts/email/", *pages])
        found += violations.found
        page.context.close()

    assert found == []


def test_sign_in_and_the_django_admin_load_without_a_csp_violation(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    anonymous = browser.new_context().new_page()
    anonymous_violations = Violations(anonymous)
    anonymous_violations.visit(base, ["/accounts/login/", "/accounts/signup/", "/admin/login/"])

    superuser = UserFactory(email="root@harbor.example", is_staff=True, is_superuser=True)
    admin = signed_in_context(browser, base, superuser).new_page()
    admin_violations = Violations(admin)
    admin_violations.visit(base, ["/admin/", "/admin/matchpal/user/", "/admin/matchpal/user/add/"])

    assert anonymous_violations.found + admin_violations.found == []


def test_an_htmx_search_swaps_in_without_a_csp_violation(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    tenant = make_tenant("Harbor Tutors", "harbor")
    tenant.student.name = "Maya Patel"
    tenant.student.save(update_fields=["name"])
    page = signed_in_context(browser, base, tenant.admin).new_page()
    violations = Violations(page)

    violations.visit(base, ["/o/harbor/relationships/new/"])
    page.locator("#id_student").press_sequentially("maya")
    match = page.locator("[data-search-matches] [data-value]", has_text="Maya Patel")
    expect(match).to_be_visible()

    assert violations.found == []
