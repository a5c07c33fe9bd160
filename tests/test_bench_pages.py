"""`scripts/bench_pages.py` finds every page of each role and gets a 200 from each.

It runs in this process against `live_server`, twice per page, on organization A with every
object the role matrix needs (so each state-dependent page exists: a proposal, a scheduled and a
disputed session, a shop with a delivery and an order error), beside organization B as the
small center. No figure is asserted: times are the script's output, not a test's.
"""

import pytest

from matchpal.models import Role
from scripts import bench_pages
from tests.factories import PASSWORD
from tests.isolation import KWARGS, tenant_routes
from tests.support import Tenant
from tests.test_role_matrix import EXPECTED

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = (Role.ADMIN.value, Role.PROVIDER.value, Role.STUDENT.value)
# Pages a role may open but no link of theirs leads to: the script finds pages by their links.
NOT_LINKED = {
    ("admin", "relationships:decline"): "declining is the provider's answer; an admin cancels",
    ("provider", "providers:detail"): "a provider's own record is linked as providers:me",
    ("student", "students:detail"): "a student's own record is linked as students:me",
    # The role matrix's export job is the student's; an admin's "My exports" lists their own.
    ("admin", "exports:detail"): "another member's export job is opened by its address",
    ("admin", "exports:download"): "another member's export file is opened by its address",
    # The second booking step is a free slot's link; an admin's slots are on a student's
    # booking page (`book/?student=`), whose query string the script drops.
    (
        "admin",
        "sessions_app:book_confirm",
    ): "an admin's slots need ?student=, dropped by the script",
    ("student", "sessions_app:book_confirm"): (
        "a free slot's link: the personas' provider is open on Mondays only, and this week's "
        "Monday may be past when the test runs"
    ),
}


def every_object_the_pages_need(tenant: Tenant) -> None:
    for route in tenant_routes():
        KWARGS.fill(route, tenant)


def pages_each_role_opens() -> set[tuple[str, str]]:
    """(role, URL name) of every page the role matrix says the role gets with a GET, less the
    ones no link leads to."""
    return {
        (role, name)
        for name, expect in EXPECTED.items()
        for role, status in zip(ROLES, expect.get, strict=True)
        if status == 200 and (role, name) not in NOT_LINKED
    }


def arguments(tenant: Tenant, *more: str) -> list[str]:
    return [
        *("--org", tenant.organization.slug),
        *("--login", f"admin={tenant.admin.email}"),
        *("--login", f"provider={tenant.provider_user.email}"),
        *("--login", f"student={tenant.student_user.email}"),
        *("--password", PASSWORD),
        *("--repeat", "2"),
        *more,
    ]


def test_every_page_of_each_role_answers_200(live_server: object, tenant_a: Tenant) -> None:
    every_object_the_pages_need(tenant_a)

    result = bench_pages.run(bench_pages.parse(arguments(tenant_a)), str(live_server))

    measured = {(p.role, p.label) for p in result.pages if bench_pages.LAST_PAGE not in p.label}
    missing = sorted(pages_each_role_opens() - measured)
    assert missing == [], missing
    assert result.problems == []
    assert all(p.statuses == [200, 200] for p in result.pages)
    rows = [line for line in result.table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(result.pages)
    for page in result.pages:
        assert f"| `{page.label}` | {page.role} | 2 |" in result.table
        assert page.queries is not None, page


def test_the_small_center_runs_the_same_pages_beside(
    live_server: object, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    args = arguments(tenant_a, "--only", "^org_home$", "--compare-org", tenant_b.organization.slug)
    # B's logins are chosen from its members; they share the factories' password.

    result = bench_pages.run(bench_pages.parse(args), str(live_server))

    assert [(p.org, p.role, p.label) for p in result.pages + result.compared] == [
        (org.slug, role, "org_home")
        for org in (tenant_a.organization, tenant_b.organization)
        for role in ROLES
    ]
    assert result.problems == []
    assert "| small p95 ms | ÷ small |" in result.table
    assert "of the 3 the small center has too within 1.5× of it there." in result.table


def test_a_paged_list_is_also_measured_on_its_last_page_with_its_other_parameters() -> None:
    path = "/o/alpha/sessions/"
    paged = (
        b'<span class="page-link">Page 1 of 40</span>'
        b'<a class="page-link" href="?status=done&amp;page=2&amp;q=x">Next</a>'
    )

    assert bench_pages.last_page(path, paged) == f"{path}?status=done&page=40&q=x"
    assert bench_pages.last_page(path, b"<table></table>") is None


class Answers:
    """A browser that answers each path with a fixed body (every other path with an empty
    page), as `discover` reads them."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    def fetch(self, method: str, path: str, body: bytes | None = None) -> bench_pages.Answer:
        return bench_pages.Answer(200, 0.0, self.bodies.get(path, b"<p></p>"), {})


def pairing_page(pages: int) -> bytes:
    if pages < 2:
        return b"<table></table>"
    return (
        f'<span class="page-link">Page 1 of {pages}</span>'
        '<a class="page-link" href="?page=2">Next</a>'
    ).encode()


def test_of_the_pages_of_one_object_the_most_paged_is_measured_with_its_last_page() -> None:
    home = "/o/alpha/"
    single, paged, most = (
        f"{home}relationships/{n:08d}-0000-4000-8000-000000000000/" for n in (1, 2, 3)
    )
    links = "".join(f'<a href="{url}">pairing</a>' for url in (single, paged, most))
    browser = Answers(
        {
            home: links.encode(),
            single: pairing_page(1),
            paged: pairing_page(2),
            most: pairing_page(4),
        }
    )

    pages, problems = bench_pages.discover(browser, "alpha", "student")  # type: ignore[arg-type]

    assert problems == []
    assert [(p.label, p.path) for p in pages] == [
        ("org_home", home),
        ("relationships:detail", most),
        (f"relationships:detail {bench_pages.LAST_PAGE}", f"{most}?page=4"),
    ]


def test_among_equally_paged_objects_the_first_met_is_measured() -> None:
    home = "/o/alpha/"
    first, second = (f"{home}relationships/{n:08d}-0000-4000-8000-000000000000/" for n in (1, 2))
    links = f'<a href="{first}">a</a><a href="{second}">b</a>'
    browser = Answers({home: links.encode(), first: pairing_page(1), second: pairing_page(1)})

    pages, _ = bench_pages.discover(browser, "alpha", "student")  # type: ignore[arg-type]

    assert [(p.label, p.path) for p in pages] == [
        ("org_home", home),
        ("relationships:detail", first),
    ]
