"""The members page's order comes from the membership's own columns, `(role, user_email, id)`
(matchpal 0014): the same order as the user's email read through the join, whatever path wrote
the email, and on SQLite too (`make run`), where the same rules are SQLite triggers."""

import uuid

import pytest
from allauth.account.models import EmailAddress
from django.db import connection
from django.test import Client
from django.utils import timezone

from matchpal.models import Membership, Organization, Role, User
from tests.factories import MembershipFactory, UserFactory
from tests.support import Tenant

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

# Emails whose order is neither their creation order nor their case-folded order.
PEOPLE = [
    ("zoe@alpha.example", Role.STUDENT),
    ("Amy@alpha.example", Role.STUDENT),
    ("ann@alpha.example", Role.PROVIDER),
    ("bob@alpha.example", Role.STUDENT),
    ("Bea@alpha.example", Role.ADMIN),
    ("carl@alpha.example", Role.PROVIDER),
    ("aaron@alpha.example", Role.ADMIN),
]


def joined_order(organization: Organization) -> list[int]:
    """The order the page had before: the user's email read through the join."""
    return list(
        Membership.objects.filter(organization=organization)
        .order_by("role", "user__email", "pk")
        .values_list("pk", flat=True)
    )


def paged_order(client: Client, slug: str) -> list[int]:
    """Every member of the members page, page after page, as the admin sees them."""
    ids: list[int] = []
    number = 1
    while True:
        response = client.get(f"/o/{slug}/members/?page={number}")
        page = response.context["members"]
        ids += [membership.pk for membership in page]
        if not page.has_next():
            return ids
        number += 1


def copies(organization: Organization) -> list[tuple[str, str]]:
    """Each membership's copy beside its user's email."""
    return list(
        Membership.objects.filter(organization=organization)
        .order_by("pk")
        .values_list("user_email", "user__email")
    )


def is_kept(organization: Organization) -> bool:
    return all(copy == email for copy, email in copies(organization))


@pytest.fixture
def center(tenant_a: Tenant, tenant_b: Tenant, settings) -> Tenant:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_PAGE_SIZE = 3
    for email, role in PEOPLE:
        MembershipFactory(
            organization=tenant_a.organization, role=role, user=UserFactory(email=email)
        )
    return tenant_a


def test_the_page_lists_the_members_in_the_joined_order(
    center: Tenant, admin_client_a: Client
) -> None:
    assert is_kept(center.organization)
    order = joined_order(center.organization)
    assert len(order) == 10  # the tenant's three and PEOPLE
    assert paged_order(admin_client_a, "alpha") == order


def test_an_email_changed_through_the_orm_moves_the_member(
    center: Tenant, admin_client_a: Client
) -> None:
    user = User.objects.get(email="zoe@alpha.example")
    before = paged_order(admin_client_a, "alpha")

    user.email = "abby@alpha.example"
    user.save()

    assert is_kept(center.organization)
    assert paged_order(admin_client_a, "alpha") == joined_order(center.organization) != before
    User.objects.filter(pk=user.pk).update(email="yuri@alpha.example")
    assert is_kept(center.organization)
    assert paged_order(admin_client_a, "alpha") == joined_order(center.organization)


def test_an_email_changed_in_raw_sql_moves_the_member(
    center: Tenant, admin_client_a: Client
) -> None:
    user = User.objects.get(email="carl@alpha.example")

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE matchpal_user SET email = %s WHERE id = %s", ["a.carl@alpha.example", user.pk]
        )

    assert Membership.objects.get(user=user).user_email == "a.carl@alpha.example"
    assert is_kept(center.organization)
    assert paged_order(admin_client_a, "alpha") == joined_order(center.organization)


def test_an_email_changed_through_allauth_moves_the_member(
    center: Tenant, admin_client_a: Client
) -> None:
    """The account page's email change: the new address, once made primary, is the user's."""
    user = User.objects.get(email="ann@alpha.example")
    address = EmailAddress.objects.create(user=user, email="x.ann@alpha.example", verified=True)

    address.set_as_primary()

    user.refresh_from_db()
    assert user.email == "x.ann@alpha.example"
    assert Membership.objects.get(user=user).user_email == "x.ann@alpha.example"
    assert paged_order(admin_client_a, "alpha") == joined_order(center.organization)


def test_a_member_of_two_centers_is_kept_in_both(
    center: Tenant, tenant_b: Tenant, admin_client_a: Client
) -> None:
    user = User.objects.get(email="bob@alpha.example")
    MembershipFactory(organization=tenant_b.organization, role=Role.PROVIDER, user=user)

    user.email = "aa.bob@alpha.example"
    user.save(update_fields=["email"])

    assert [m.user_email for m in Membership.objects.filter(user=user)] == [
        "aa.bob@alpha.example",
        "aa.bob@alpha.example",
    ]
    assert is_kept(center.organization)
    assert is_kept(tenant_b.organization)
    assert paged_order(admin_client_a, "alpha") == joined_order(center.organization)
    admin_b = Client()
    admin_b.force_login(tenant_b.admin)
    assert paged_order(admin_b, "beta") == joined_order(tenant_b.organization)
    assert len(joined_order(tenant_b.organization)) == 4


def test_what_a_writer_puts_in_the_copy_is_replaced_by_the_users_email(center: Tenant) -> None:
    """An insert naming the column, a stale instance saved whole, a membership moved to another
    user: the copy is the user's email each time."""
    org, user = center.organization, UserFactory(email="dee@alpha.example")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO matchpal_membership "
            "(public_id, user_id, organization_id, role, created_at, user_email) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [uuid.uuid4().hex, user.pk, org.pk, Role.STUDENT, timezone.now(), "wrong@example"],
        )
    membership = Membership.objects.get(user=user, organization=org)
    assert membership.user_email == "dee@alpha.example"

    User.objects.filter(pk=user.pk).update(email="dora@alpha.example")
    membership.role = Role.PROVIDER
    membership.save()  # every column, the stale copy with them

    assert Membership.objects.get(pk=membership.pk).user_email == "dora@alpha.example"
    other = UserFactory(email="eve@alpha.example")
    Membership.objects.filter(pk=membership.pk).update(user=other)
    assert Membership.objects.get(pk=membership.pk).user_email == "eve@alpha.example"
    assert is_kept(org)


def test_a_membership_made_through_the_orm_carries_its_users_email(center: Tenant) -> None:
    user = UserFactory(email="fay@alpha.example")

    membership = Membership.objects.create(
        user=user, organization=center.organization, role=Role.STUDENT
    )

    assert Membership.objects.get(pk=membership.pk).user_email == "fay@alpha.example"
    if connection.vendor == "postgresql":
        # Read back with the insert (`RETURNING`); SQLite returns the row as inserted, before
        # its trigger wrote the copy, so the instance there still holds the default.
        assert membership.user_email == "fay@alpha.example"
