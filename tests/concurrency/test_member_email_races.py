"""The membership's copy of the user's email (matchpal 0014) against concurrent writers: a new
membership and an email change in either order end with the new email on the membership, and a
membership locked, then written whole, while its user's email changes does not deadlock.
Real threads, real PostgreSQL transactions."""

import uuid
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from matchpal.models import Membership, Role, User
from tests.concurrency.test_ledger_races import in_a_thread, other_connection, wait_until_blocked
from tests.factories import MembershipFactory, UserFactory
from tests.support import Tenant

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks"),
]


def change_email(user: User, email: str) -> None:
    user.email = email
    user.save(update_fields=["email"])


def join(user: User, tenant: Tenant) -> Membership:
    return Membership.objects.create(user=user, organization=tenant.organization, role=Role.STUDENT)


def test_a_membership_made_during_an_email_change_takes_the_new_email(tenant_a: Tenant) -> None:
    """Read without a lock, the insert would keep the old address: the change, not seeing the
    uncommitted membership, updates only the others."""
    user = UserFactory(email="old@alpha.example")
    changer = other_connection()
    changer.autocommit = False
    changer.execute("UPDATE matchpal_user SET email = 'new@alpha.example' WHERE id = %s", [user.pk])

    with in_a_thread(partial(join, user, tenant_a)) as (pid, done):
        wait_until_blocked(pid)
        changer.commit()
        changer.close()
        status, membership = done.get(timeout=10)

    assert status == "ok"
    assert Membership.objects.get(pk=membership.pk).user_email == "new@alpha.example"


def test_an_email_change_during_a_new_membership_reaches_it(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    user = UserFactory(email="old@alpha.example")
    MembershipFactory(user=user, organization=tenant_a.organization, role=Role.PROVIDER)
    joiner = other_connection()
    joiner.autocommit = False
    joiner.execute(
        "INSERT INTO matchpal_membership (public_id, user_id, organization_id, role, created_at) "
        "VALUES (%s, %s, %s, 'student', %s)",
        [uuid.uuid4(), user.pk, tenant_b.organization.pk, timezone.now()],
    )

    with in_a_thread(partial(change_email, user, "new@alpha.example")) as (pid, done):
        wait_until_blocked(pid)
        joiner.commit()
        joiner.close()
        status, _ = done.get(timeout=10)

    assert status == "ok"
    assert sorted(Membership.objects.filter(user=user).values_list("user_email", flat=True)) == [
        "new@alpha.example",
        "new@alpha.example",
    ]


def test_a_role_change_saving_the_whole_row_during_an_email_change_does_not_deadlock(
    tenant_a: Tenant,
) -> None:
    """As `membership_change_role` does, the writer locks the membership first, then writes it
    (here every column, a stale copy of the email with them); meanwhile the email change holds
    the user and waits for the membership. The writer's trigger reads the user without a lock:
    were it a lock, each would wait for the other."""
    user = UserFactory(email="old@alpha.example")
    membership = MembershipFactory(user=user, organization=tenant_a.organization, role=Role.STUDENT)
    writer = other_connection()
    writer.autocommit = False
    writer.execute("SELECT 1 FROM matchpal_membership WHERE id = %s FOR UPDATE", [membership.pk])

    with in_a_thread(partial(change_email, user, "new@alpha.example")) as (pid, done):
        wait_until_blocked(pid)
        writer.execute(
            "UPDATE matchpal_membership SET role = 'provider', user_email = 'old@alpha.example' "
            "WHERE id = %s",
            [membership.pk],
        )
        writer.commit()
        writer.close()
        status, _ = done.get(timeout=10)

    assert status == "ok"
    membership.refresh_from_db()
    assert (membership.role, membership.user_email) == (Role.PROVIDER, "new@alpha.example")
