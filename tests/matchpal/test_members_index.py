"""The members page reads its page's ids from `membership_org_role_email` (organization, role,
user_email, id) and joins only those rows to their users (docs/indexes.md). On a few thousand
memberships generated for organization A beside five times as many of B's, then ANALYZEd, the
plans of the statements the page sends (`paginate`: the capped count, then the page by its ids)
neither scan the memberships or users nor sort more than a page.

A deep page: whether PostgreSQL walks the index up to the page or sorts the center's
memberships (no join either way) depends on how much of the table VACUUM has marked all-visible,
which rows made by a test have not been; on the generated large center, vacuumed, it walks the
index (docs/performance.md, "The members page through one index"). So the test asks that the
users are joined only to the page's rows, and that with sorting disabled the order comes from
the index: with the email on the users' table alone no index could give it, and the plan would
sort all the same."""

import re
from collections.abc import Iterator

import pytest
from django.db import connection

from matchpal.models import Organization
from matchpal.pagination import CappedPaginator
from matchpal.selectors import member_list
from tests.support import Tenant

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans"),
]

PAGE = 25
INDEX = "membership_org_role_email"

# Users whose emails are in no relation to their ids, each a member in one of three roles.
MEMBERS = """
WITH made AS (
    INSERT INTO matchpal_user (password, is_superuser, email, name, is_staff, is_active,
                               date_joined)
    SELECT '!', false, md5(n::text) || '@' || %(slug)s || '.example', '', false, true, now()
      FROM generate_series(1, %(members)s) n
    RETURNING id
)
INSERT INTO matchpal_membership (public_id, user_id, organization_id, role, created_at)
SELECT gen_random_uuid(), id, %(org)s,
       CASE WHEN id %% 20 = 0 THEN 'admin' WHEN id %% 3 = 0 THEN 'provider' ELSE 'student' END,
       now()
  FROM made
"""


@pytest.fixture
def center(tenant_a: Tenant, tenant_b: Tenant) -> Organization:
    with connection.cursor() as cursor:
        for organization, members in (
            (tenant_a.organization, 3000),
            (tenant_b.organization, 15000),
        ):
            cursor.execute(
                MEMBERS, {"slug": organization.slug, "org": organization.pk, "members": members}
            )
        cursor.execute("ANALYZE matchpal_user, matchpal_membership")
    return tenant_a.organization


@pytest.fixture
def no_sorts() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_sort = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET enable_sort")


def page_sql(organization: Organization, which: str) -> tuple[str, tuple[object, ...]]:
    """The statement of the members page's first or last page, as `paginate` sends it."""
    paginator = CappedPaginator(member_list(organization=organization), PAGE)
    page = paginator.page(1 if which == "first" else paginator.num_pages)
    # 3,003 members: the tenant's three and the generated ones; the last page holds 3.
    assert len(page.object_list) == (PAGE if which == "first" else 3)
    return page.object_list.query.sql_with_params()


def plan_of(sql: str, params: tuple[object, ...]) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def scans_and_sorts(plan: str) -> list[str]:
    """Sequential scans of memberships or users, hash joins (of all of one to the other), and
    sorts of more than a page of rows."""
    found = []
    for line in plan.splitlines():
        sort = re.search(r"\bSort +\(cost=\S+ rows=(\d+)", line)
        if (
            "Seq Scan on matchpal_" in line
            or "Hash Join" in line
            or (sort and int(sort.group(1)) > PAGE + 1)
        ):
            found.append(line.strip())
    return found


def test_the_first_page_is_read_from_the_index(center: Organization) -> None:
    plan = plan_of(*page_sql(center, "first"))

    assert INDEX in plan, plan
    assert scans_and_sorts(plan) == [], plan


def test_the_last_page_joins_only_its_rows_to_their_users(center: Organization) -> None:
    plan = plan_of(*page_sql(center, "last"))

    users = [line.strip() for line in plan.splitlines() if re.search(r" on matchpal_user\b", line)]
    assert len(users) == 1, plan
    assert users[0].startswith("->  Index Scan using matchpal_user_pkey"), plan
    assert not any("Hash Join" in line for line in plan.splitlines()), plan


def test_the_last_page_has_its_order_from_the_index(center: Organization, no_sorts: None) -> None:
    plan = plan_of(*page_sql(center, "last"))

    assert INDEX in plan, plan
    assert scans_and_sorts(plan) == [], plan


def test_the_members_are_counted_without_a_scan(center: Organization) -> None:
    counted = member_list(organization=center).order_by().values("pk")[:10_001]
    sql, params = counted.query.sql_with_params()

    plan = plan_of(f"SELECT COUNT(*) FROM ({sql}) counted", params)

    assert scans_and_sorts(plan) == [], plan
