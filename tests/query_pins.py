"""What the query-count pins share (tests/test_query_counts.py for lists and homes,
tests/test_detail_query_counts.py for detail and profile pages): a page, the persona that opens
it, how its data grows, and the check that its query count is the same at every size."""

from collections.abc import Callable
from dataclasses import dataclass

from tests.isolation import persona_user
from tests.support import Tenant, client_for

SIZES = (3, 30)


@dataclass(frozen=True)
class Page:
    persona: str
    path: Callable[[Tenant], str]
    grow: Callable[[Tenant, int], None]
    shows: Callable[..., None]


def org_path(suffix: str | Callable[[Tenant], str]) -> Callable[[Tenant], str]:
    """A path under the tenant's /o/<slug>/; `suffix` may depend on the tenant's rows."""

    def path(t: Tenant) -> str:
        return f"/o/{t.organization.slug}/{suffix(t) if callable(suffix) else suffix}"

    return path


def assert_pinned_at_every_size(
    name: str, page: Page, pinned: int, tenant: Tenant, assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """Grow the page's data to each size in turn; each GET runs exactly `pinned` queries."""
    client = client_for(persona_user(tenant, page.persona))
    for size in SIZES:
        page.grow(tenant, size)
        path = page.path(tenant)  # outside the count: a detail path may look a row up
        with assert_num_queries(pinned, info=f"{name} with {size} rows"):
            response = client.get(path)
        assert response.status_code == 200
        page.shows(size, response)
