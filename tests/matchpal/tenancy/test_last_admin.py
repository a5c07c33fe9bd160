"""An organization always keeps an admin, even when two admins demote each other at once."""

import re
import threading

import pytest
from django.db import close_old_connections, connection, transaction

from matchpal import services
from matchpal.errors import DomainError
from matchpal.models import Membership, Organization, Role, User
from matchpal.services import LastAdminError
from tests.conftest import Tenant
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.matchpal.tenancy.support import LAST_ADMIN


@pytest.mark.django_db
class TestLastAdmin:
    def test_the_last_admin_cannot_be_demoted(self, tenant_a: Tenant) -> None:
        membership = Membership.objects.get(user=tenant_a.admin)

        with pytest.raises(LastAdminError) as excinfo:
            services.membership_change_role(
                actor=tenant_a.admin, membership=membership, role=Role.PROVIDER
            )

        assert str(excinfo.value) == LAST_ADMIN
        membership.refresh_from_db()
        assert membership.role == Role.ADMIN

    def test_the_last_admin_cannot_be_removed(self, tenant_a: Tenant) -> None:
        membership = Membership.objects.get(user=tenant_a.admin)

        with pytest.raises(LastAdminError, match=re.escape(LAST_ADMIN)):
            services.membership_remove(actor=tenant_a.admin, membership=membership)

        assert Membership.objects.filter(pk=membership.pk).exists()

    def test_an_admin_can_be_demoted_or_removed_while_another_remains(
        self, tenant_a: Tenant
    ) -> None:
        second = MembershipFactory(organization=tenant_a.organization, role=Role.ADMIN)
        third = MembershipFactory(organization=tenant_a.organization, role=Role.ADMIN)

        services.membership_change_role(actor=tenant_a.admin, membership=second, role=Role.STUDENT)
        services.membership_remove(actor=tenant_a.admin, membership=third)

        second.refresh_from_db()
        assert second.role == Role.STUDENT
        assert not Membership.objects.filter(pk=third.pk).exists()
        assert list(
            Membership.objects.filter(
                organization=tenant_a.organization, role=Role.ADMIN
            ).values_list("user", flat=True)
        ) == [tenant_a.admin.pk]

    def test_non_admins_can_change_freely(self, tenant_a: Tenant) -> None:
        membership = Membership.objects.get(user=tenant_a.provider_user)

        services.membership_change_role(
            actor=tenant_a.admin, membership=membership, role=Role.ADMIN
        )
        services.membership_change_role(
            actor=tenant_a.admin, membership=membership, role=Role.STUDENT
        )
        services.membership_remove(
            actor=tenant_a.admin, membership=Membership.objects.get(user=tenant_a.student_user)
        )

        membership.refresh_from_db()
        assert membership.role == Role.STUDENT
        assert Membership.objects.filter(organization=tenant_a.organization).count() == 2

    def test_admins_of_another_organization_do_not_count(
        self, tenant_a: Tenant, tenant_b: Tenant
    ) -> None:
        MembershipFactory(organization=tenant_b.organization, role=Role.ADMIN)

        with pytest.raises(LastAdminError, match=re.escape(LAST_ADMIN)):
            services.membership_change_role(
                actor=tenant_a.admin,
                membership=Membership.objects.get(user=tenant_a.admin),
                role=Role.PROVIDER,
            )

    def test_an_unknown_role_is_refused(self, tenant_a: Tenant) -> None:
        membership = Membership.objects.get(user=tenant_a.provider_user)

        with pytest.raises(DomainError) as excinfo:
            services.membership_change_role(
                actor=tenant_a.admin, membership=membership, role="owner"
            )

        assert str(excinfo.value) == "“owner” is not a role."


def _run_in_threads(*targets):  # type: ignore[no-untyped-def]
    """Run each target in its own thread and connection; return what each raised (or None)."""
    outcomes: list[BaseException | None] = [None] * len(targets)

    def runner(index: int, target) -> None:  # type: ignore[no-untyped-def]
        try:
            target()
        except BaseException as error:  # reported to the test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a thread did not finish: deadlock?"
    return outcomes


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
class TestTwoAdminsDemoteEachOther:
    def _two_admins(self) -> tuple[Organization, User, User]:
        org = OrganizationFactory(name="Race Center", slug="race")
        first, second = (
            UserFactory(email="first@race.example"),
            UserFactory(email="second@race.example"),
        )
        MembershipFactory(user=first, organization=org, role=Role.ADMIN)
        MembershipFactory(user=second, organization=org, role=Role.ADMIN)
        return org, first, second

    @staticmethod
    def _demote(actor: User, target: User, barrier: threading.Barrier):  # type: ignore[no-untyped-def]
        def run() -> None:
            close_old_connections()
            membership = Membership.objects.select_related("organization").get(user=target)
            barrier.wait(timeout=10)
            services.membership_change_role(actor=actor, membership=membership, role=Role.PROVIDER)

        return run

    def test_exactly_one_succeeds_at_the_same_moment(self) -> None:
        org, first, second = self._two_admins()
        barrier = threading.Barrier(2)

        outcomes = _run_in_threads(
            self._demote(first, second, barrier), self._demote(second, first, barrier)
        )

        assert sorted(type(o).__name__ for o in outcomes) == ["LastAdminError", "NoneType"]
        refused = next(o for o in outcomes if o is not None)
        assert str(refused) == LAST_ADMIN
        assert Membership.objects.filter(organization=org, role=Role.ADMIN).count() == 1

    def test_the_second_demotion_waits_for_the_first_lock(self) -> None:
        """Deterministic interleaving: the first demotion holds its locks until we let it go."""
        org, first, second = self._two_admins()
        first_locked, release_first = threading.Event(), threading.Event()
        second_done = threading.Event()

        def demote_second() -> None:
            close_old_connections()
            membership = Membership.objects.select_related("organization").get(user=second)
            with transaction.atomic():
                services.membership_change_role(
                    actor=first, membership=membership, role=Role.PROVIDER
                )
                first_locked.set()
                assert release_first.wait(timeout=10)

        def demote_first() -> None:
            close_old_connections()
            assert first_locked.wait(timeout=10)
            membership = Membership.objects.select_related("organization").get(user=first)
            try:
                services.membership_change_role(
                    actor=second, membership=membership, role=Role.PROVIDER
                )
            finally:
                second_done.set()

        def referee() -> None:
            assert first_locked.wait(timeout=10)
            # While the first transaction is open, the second is blocked on the admin rows.
            blocked = not second_done.wait(timeout=0.5)
            release_first.set()
            assert blocked, "the second demotion did not wait for the first one's lock"

        outcomes = _run_in_threads(demote_second, demote_first, referee)

        assert outcomes[0] is None
        assert outcomes[2] is None
        assert isinstance(outcomes[1], LastAdminError)
        assert str(outcomes[1]) == LAST_ADMIN
        assert list(
            Membership.objects.filter(organization=org, role=Role.ADMIN).values_list(
                "user__email", flat=True
            )
        ) == ["first@race.example"]

    def test_two_removals_at_once_leave_one_admin(self) -> None:
        org, first, second = self._two_admins()
        barrier = threading.Barrier(2)

        def remove(target: User):  # type: ignore[no-untyped-def]
            def run() -> None:
                close_old_connections()
                membership = Membership.objects.select_related("organization").get(user=target)
                barrier.wait(timeout=10)
                services.membership_remove(actor=target, membership=membership)

            return run

        outcomes = _run_in_threads(remove(first), remove(second))

        assert sorted(type(o).__name__ for o in outcomes) == ["LastAdminError", "NoneType"]
        assert Membership.objects.filter(organization=org, role=Role.ADMIN).count() == 1
