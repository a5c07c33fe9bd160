"""A state machine over the relationship and session services (DESIGN §3–§5).

Hypothesis runs random sequences of propose, accept, decline, cancel, complete, change the
allocation, log a past session, schedule, complete a scheduled session, edit its duration,
cancel it, mark a no-show and add a grant, on a fresh organization per example whose policy
(no-show and late-cancellation charges, insufficient hours, duration step, cancellation window)
is drawn at the start. Refusals are expected; a refused action must change nothing. After every
step the ledger reconciles, every grant keeps 0 ≤ used, 0 ≤ held, used + held ≤ total, every
session's `charged_minutes` equals what the ledger consumed for it, and a relationship that has
ended holds nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, models
from django.db.models import IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from grants.models import Allocation, Grant, GrantEntry
from grants.reconcile import find_differences
from matchpal.errors import DomainError
from matchpal.models import Charge, Role, ServiceType, ShortfallPolicy
from relationships import services as relationships
from relationships.models import (
    HOLDING_STATUSES,
    Relationship,
    RelationshipStatus,
    RelationshipStatusChange,
)
from relationships.selectors import allocated
from sessions_app import rules
from sessions_app import services as sessions
from sessions_app.models import NoShowParty, Session, SessionKind, SessionStatus
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    ProviderFactory,
    StudentFactory,
    UserFactory,
    make_grant,
)
from tests.support import member

TYPES = ("Tutoring", "Advising")
REFUSED = object()
PAIRED_DAYS_AGO = 10  # accepted relationships are backdated so past sessions can be logged
GRANT_TYPES = st.sampled_from([("Tutoring",), ("Advising",), ("Tutoring", "Advising")])
# An index into the candidates, and whether to pick among those whose status suits the action.
KINDS = st.sampled_from([SessionKind.TUTORING] * 3 + [SessionKind.REVISION])
EDITABLE = (SessionStatus.SCHEDULED, SessionStatus.COMPLETED)
CANCELLABLE = (*EDITABLE, SessionStatus.NO_SHOW)
PICK = st.tuples(st.integers(0, 1000), st.sampled_from([True] * 4 + [False]))
ACTORS = st.sampled_from(["provider", "provider", "admin", "admin", "other provider"])


def _rows(
    table: type[models.Model], *columns: str, where: str = "organization_id = %(org)s"
) -> str:
    db_table = table._meta.db_table
    return (
        f"(SELECT coalesce(string_agg(concat_ws(',', {', '.join(columns)}), ' | ' "
        f"ORDER BY id), '') FROM {db_table} WHERE {where})"
    )


# Every column an action may change, per table of the organization: equal before and after a
# refusal means the refusal changed nothing. One round trip, since it runs before every step.
SNAPSHOT_SQL = "SELECT " + ", ".join(
    [
        _rows(Grant, "id", "total", "used", "held", "status", "expires_at"),
        _rows(Allocation, "id", "relationship_id", "grant_id", "held", "consumed"),
        _rows(GrantEntry, "id"),
        _rows(Relationship, "id", "status", "paired_at", "ended_at"),
        _rows(RelationshipStatusChange, "id"),
        _rows(
            Session,
            "id",
            "status",
            "starts_at",
            "duration_minutes",
            "kind",
            "charged_minutes",
            "charge_shortfall",
            "notes",
            "cancellation_reason",
            "no_show_party",
            "logged_at",
        ),
    ]
)


class SessionMachine(RuleBasedStateMachine):
    # --- setup -----------------------------------------------------------------------------

    @initialize(
        no_show=st.sampled_from(Charge.values),
        late=st.sampled_from(Charge.values),
        window=st.sampled_from([0, 24, 72]),
        shortfall=st.sampled_from(ShortfallPolicy.values),
        step=st.sampled_from([5, 15, 30]),
        half_hours=st.integers(2, 40),
        types=st.sampled_from([("Tutoring",), ("Tutoring", "Advising")]),
        share=st.floats(0.1, 1.0),
        strict=st.sampled_from([False, False, True]),
    )
    def setup(
        self,
        no_show: str,
        late: str,
        window: int,
        shortfall: str,
        step: int,
        half_hours: int,
        types: tuple[str, ...],
        share: float,
        strict: bool,
    ) -> None:
        """A fresh organization with its policy, an admin, a student with a grant, two
        providers, each with a relationship with the student holding part of the grant."""
        self.org = OrganizationFactory(
            no_show_charge=no_show,
            late_cancellation_charge=late,
            late_cancellation_window_hours=window,
            insufficient_hours=shortfall,
            duration_step_minutes=step,
            min_session_minutes=step,
            # A strict center: one session per pair per day, ten hours a week per provider,
            # notes of at least 20 characters ("Went over the quiz." is refused).
            max_sessions_per_pair_per_day=1 if strict else None,
            weekly_max_minutes_per_provider=600 if strict else None,
            notes_min_length=20 if strict else 0,
        )
        self.admin = UserFactory()
        MembershipFactory(user=self.admin, organization=self.org, role=Role.ADMIN)
        self.student = StudentFactory(organization=self.org)
        self.providers = []
        for offered in (["Tutoring", "Advising"], ["Tutoring"]):
            user = UserFactory()
            MembershipFactory(user=user, organization=self.org, role=Role.PROVIDER)
            self.providers.append(
                ProviderFactory(
                    organization=self.org, user=user, email=user.email, services=offered
                )
            )
        self.types = {t.name: t for t in ServiceType.objects.filter(organization=self.org)}
        # Whole hours, so that start times collide now and then (a duplicate is refused).
        self.base = timezone.now().replace(minute=0, second=0, microsecond=0)
        make_grant(
            student=self.student,
            minutes=30 * half_hours,
            service_types=types,
            valid_from=timezone.now() - timedelta(days=30),
        )
        # Two providers' relationships of the student share that grant: one paired (and
        # backdated, so that past sessions may be logged), one still proposed.
        quantity = max(15, int(30 * half_hours * share) // 2 // 15 * 15)
        paired, _ = (
            relationships.relationship_propose(
                membership=member(self.admin),
                organization=self.org,
                student=self.student,
                provider=provider,
                service_type=self.types["Tutoring"],
                quantity=quantity,
            )
            for provider in self.providers
        )
        relationships.relationship_accept(
            membership=member(self.providers[0].user), relationship=paired
        )
        Relationship.objects.filter(pk=paired.pk).update(
            paired_at=self.base - timedelta(days=PAIRED_DAYS_AGO)
        )
        self.refresh_statuses()

    # --- helpers -----------------------------------------------------------------------------

    def snapshot(self) -> tuple[Any, ...]:
        """Everything an action may change in this organization, read in one query."""
        with connection.cursor() as cursor:
            cursor.execute(SNAPSHOT_SQL, {"org": self.org.pk})
            return cursor.fetchone()

    def attempt(self, name: str, action: Any) -> Any:
        """Run a service; a refusal (a DomainError) must leave everything as it was."""
        before = self.snapshot()
        try:
            return_value, refusal = action(), None
        except DomainError as error:
            return_value, refusal = REFUSED, error
        if refusal is None:
            self.refresh_statuses()
        else:
            assert self.snapshot() == before, f"{name} was refused ({refusal}) yet changed data"
            assert str(refusal), "a refusal without a message"
        return return_value

    def totals(self) -> tuple[int, int, int]:
        sums = Grant.objects.filter(organization=self.org).aggregate(
            total=Sum("total"), used=Sum("used"), held=Sum("held")
        )
        return sums["total"] or 0, sums["used"] or 0, sums["held"] or 0

    def actor(self, who: str, relationship: Relationship):  # type: ignore[no-untyped-def]
        if who == "admin":
            return self.admin
        own = relationship.provider.user
        if who == "provider":
            return own
        return next(p.user for p in self.providers if p.user_id != own.pk)

    def duration(self, steps: int) -> int:
        return self.org.duration_step_minutes * min(
            steps, self.org.max_session_minutes // self.org.duration_step_minutes
        )

    def refresh_statuses(self) -> None:
        """The status of every relationship and session, for the preconditions and picks."""
        self.statuses = {
            "relationship": dict(
                Relationship.objects.filter(organization=self.org).values_list("pk", "status")
            ),
            "session": dict(
                Session.objects.filter(organization=self.org).values_list("pk", "status")
            ),
        }

    def some(self, what: str, *statuses: str) -> bool:
        return any(s in statuses for s in self.statuses[what].values())

    def _pick(self, what: str, pick: tuple[int, bool], statuses: tuple[str, ...]) -> int:
        """Mostly one whose status suits the action; now and then any, to be refused."""
        index, suitable = pick
        pks = sorted(
            pk for pk, status in self.statuses[what].items() if status in statuses or not suitable
        ) or sorted(self.statuses[what])
        return pks[index % len(pks)]

    def relationship(self, pick: tuple[int, bool], *statuses: str) -> Relationship:
        return Relationship.objects.select_related("provider__user").get(
            pk=self._pick("relationship", pick, statuses)
        )

    def session(self, pick: tuple[int, bool], *statuses: str) -> Session:
        return Session.objects.select_related("relationship__provider__user").get(
            pk=self._pick("session", pick, statuses)
        )

    # --- relationships -----------------------------------------------------------------------

    @rule(
        provider=st.integers(0, 1), service=st.sampled_from(TYPES), quarter_hours=st.integers(1, 24)
    )
    def propose(self, provider: int, service: str, quarter_hours: int) -> None:
        quantity = 15 * quarter_hours
        before = self.totals()
        relationship = self.attempt(
            "propose",
            lambda: relationships.relationship_propose(
                membership=member(self.admin),
                organization=self.org,
                student=self.student,
                provider=self.providers[provider],
                service_type=self.types[service],
                quantity=quantity,
            ),
        )
        if relationship is REFUSED:
            return
        assert relationship.status == RelationshipStatus.PROPOSED
        assert allocated(relationship) == {
            "held": quantity,
            "consumed": 0,
            "allocated": quantity,
        }
        total, used, held = before
        assert self.totals() == (total, used, held + quantity)

    @precondition(lambda self: self.some("relationship", RelationshipStatus.PROPOSED))
    @rule(pick=PICK, admin=st.booleans(), backdate=st.sampled_from([True] * 4 + [False]))
    def accept(self, pick: tuple[int, bool], admin: bool, backdate: bool) -> None:
        relationship = self.relationship(pick, RelationshipStatus.PROPOSED)
        actor = self.admin if admin else relationship.provider.user
        before = allocated(relationship)
        if (
            self.attempt(
                "accept",
                lambda: relationships.relationship_accept(
                    membership=member(actor), relationship=relationship
                ),
            )
            is REFUSED
        ):
            return
        relationship.refresh_from_db()
        assert relationship.status == RelationshipStatus.PAIRED
        assert allocated(relationship) == before
        if backdate:
            Relationship.objects.filter(pk=relationship.pk).update(
                paired_at=self.base - timedelta(days=PAIRED_DAYS_AGO)
            )

    @precondition(lambda self: self.some("relationship", *HOLDING_STATUSES))
    @rule(
        pick=PICK,
        how=st.sampled_from(["decline", "cancel", "complete"]),
        reason=st.sampled_from(["Family moved"] * 3 + [""]),
    )
    def end(self, pick: tuple[int, bool], how: str, reason: str) -> None:
        """Decline (the provider), cancel or complete (the admin): every hold is released.
        One rule for the three, so that relationships live long enough to log sessions."""
        relationship = self.relationship(
            pick,
            *{
                "decline": [RelationshipStatus.PROPOSED],
                "cancel": HOLDING_STATUSES,
                "complete": [RelationshipStatus.PAIRED],
            }[how],
        )
        action, status = {
            "decline": (
                lambda: relationships.relationship_decline(
                    membership=member(relationship.provider.user),
                    relationship=relationship,
                    reason=reason,
                ),
                RelationshipStatus.DECLINED,
            ),
            "cancel": (
                lambda: relationships.relationship_cancel(
                    membership=member(self.admin), relationship=relationship, reason=reason
                ),
                RelationshipStatus.CANCELLED,
            ),
            "complete": (
                lambda: relationships.relationship_complete(
                    membership=member(self.admin), relationship=relationship, reason=reason
                ),
                RelationshipStatus.COMPLETED,
            ),
        }[how]
        before, held = self.totals(), allocated(relationship)
        if self.attempt(how, action) is REFUSED:
            return
        relationship.refresh_from_db()
        assert relationship.status == status
        assert allocated(relationship) == {
            "held": 0,
            "consumed": held["consumed"],
            "allocated": held["consumed"],
        }
        total, used, all_held = before
        assert self.totals() == (total, used, all_held - held["held"])
        # Its appointments still to come went with it.
        assert not relationship.sessions.filter(
            status=SessionStatus.SCHEDULED, starts_at__gt=timezone.now()
        ).exists()

    @precondition(lambda self: self.some("relationship", *HOLDING_STATUSES))
    @rule(
        pick=PICK,
        quarter_hours=st.integers(0, 24),
        reason=st.sampled_from(["More practice before finals", ""]),
    )
    def change_allocation(self, pick: tuple[int, bool], quarter_hours: int, reason: str) -> None:
        relationship = self.relationship(pick, *HOLDING_STATUSES)
        quantity = 15 * quarter_hours
        before = allocated(relationship)
        if (
            self.attempt(
                "change allocation",
                lambda: relationships.relationship_change_allocation(
                    membership=member(self.admin),
                    relationship=relationship,
                    quantity=quantity,
                    reason=reason,
                ),
            )
            is REFUSED
        ):
            return
        assert allocated(relationship) == {
            "held": quantity - before["consumed"],
            "consumed": before["consumed"],
            "allocated": quantity,
        }

    # --- sessions ----------------------------------------------------------------------------

    @precondition(lambda self: self.some("relationship", RelationshipStatus.PAIRED))
    @rule(
        pick=PICK, hours_ago=st.integers(1, 120), steps=st.integers(1, 12), kind=KINDS, who=ACTORS
    )
    def log_past_session(
        self, pick: tuple[int, bool], hours_ago: int, steps: int, kind: str, who: str
    ) -> None:
        relationship = self.relationship(pick, RelationshipStatus.PAIRED)
        duration = self.duration(steps)
        before = self.totals()
        session = self.attempt(
            "log",
            lambda: sessions.session_log(
                membership=member(self.actor(who, relationship)),
                relationship=relationship,
                starts_at=self.base - timedelta(hours=hours_ago),
                duration=duration,
                kind=kind,
                notes="Worked through the problem set.",
            ),
        )
        if session is REFUSED:
            return
        session.refresh_from_db()
        assert session.status == SessionStatus.COMPLETED
        expected = self.org.revision_minutes if kind == SessionKind.REVISION else duration
        assert session.charged_minutes == expected
        total, used, _ = before
        assert self.totals()[:2] == (total, used + expected)

    @precondition(lambda self: self.some("relationship", RelationshipStatus.PAIRED))
    @rule(pick=PICK, hours=st.integers(-100, 60), steps=st.integers(1, 12), kind=KINDS, who=ACTORS)
    def schedule(self, pick: tuple[int, bool], hours: int, steps: int, kind: str, who: str) -> None:
        relationship = self.relationship(pick, RelationshipStatus.PAIRED)
        before = self.snapshot()[:3]
        session = self.attempt(
            "schedule",
            lambda: sessions.session_log(
                membership=member(self.actor(who, relationship)),
                relationship=relationship,
                starts_at=self.base + timedelta(hours=hours),
                duration=self.duration(steps),
                kind=kind,
                scheduled=True,
            ),
        )
        if session is REFUSED:
            return
        assert (session.status, session.charged_minutes) == (SessionStatus.SCHEDULED, 0)
        assert self.snapshot()[:3] == before  # no hours move for a scheduled session

    @precondition(lambda self: self.some("session", SessionStatus.SCHEDULED))
    @rule(pick=PICK, steps=st.none() | st.integers(1, 12), who=ACTORS)
    def complete_scheduled(self, pick: tuple[int, bool], steps: int | None, who: str) -> None:
        session = self.session(pick, SessionStatus.SCHEDULED)
        duration = None if steps is None else self.duration(steps)
        if (
            self.attempt(
                "complete scheduled",
                lambda: sessions.session_complete(
                    membership=member(self.actor(who, session.relationship)),
                    session=session,
                    duration=duration,
                    notes="Went over the quiz.",
                ),
            )
            is REFUSED
        ):
            return
        session.refresh_from_db()
        assert session.status == SessionStatus.COMPLETED
        assert session.charged_minutes == rules.charge_for(
            organization=self.org, kind=session.kind, duration=session.duration_minutes
        )

    @precondition(lambda self: self.some("session", *EDITABLE))
    @rule(pick=PICK, steps=st.integers(1, 12), who=ACTORS)
    def edit_duration(self, pick: tuple[int, bool], steps: int, who: str) -> None:
        session = self.session(pick, *EDITABLE)
        duration = self.duration(steps)
        charged = session.charged_minutes
        if (
            self.attempt(
                "edit",
                lambda: sessions.session_edit(
                    membership=member(self.actor(who, session.relationship)),
                    session=session,
                    duration=duration,
                ),
            )
            is REFUSED
        ):
            return
        session.refresh_from_db()
        assert session.duration_minutes == duration
        if session.status == SessionStatus.COMPLETED and session.kind != SessionKind.REVISION:
            assert session.charged_minutes == duration
        else:
            assert session.charged_minutes == charged

    @precondition(lambda self: self.some("session", *CANCELLABLE))
    @rule(pick=PICK, who=ACTORS, reason=st.sampled_from(["Exam week", " "]))
    def cancel_session(self, pick: tuple[int, bool], who: str, reason: str) -> None:
        session = self.session(pick, *CANCELLABLE)
        was = session.status
        paired = session.relationship.status == RelationshipStatus.PAIRED
        if (
            self.attempt(
                "cancel session",
                lambda: sessions.session_cancel(
                    membership=member(self.actor(who, session.relationship)),
                    session=session,
                    reason=reason,
                ),
            )
            is REFUSED
        ):
            return
        now = timezone.now()
        session.refresh_from_db()
        assert session.status == SessionStatus.CANCELLED
        late = session.starts_at - now < timedelta(hours=self.org.late_cancellation_window_hours)
        if (
            late
            and self.org.late_cancellation_charge == Charge.FULL
            and was == SessionStatus.SCHEDULED
            and paired
        ):
            # Charged in full as far as the hours cover it; never refused.
            assert session.charged_minutes + session.charge_shortfall == rules.charge_for(
                organization=self.org, kind=session.kind, duration=session.duration_minutes
            )
        else:
            # Cancelling a completed or no-show session corrects a record: all of it back.
            assert (session.charged_minutes, session.charge_shortfall) == (0, 0)

    @precondition(lambda self: self.some("session", *EDITABLE))
    @rule(pick=PICK, party=st.sampled_from(NoShowParty.values), who=ACTORS)
    def no_show(self, pick: tuple[int, bool], party: str, who: str) -> None:
        session = self.session(pick, *EDITABLE)
        charged = session.charged_minutes
        paired = session.relationship.status == RelationshipStatus.PAIRED
        if (
            self.attempt(
                "no-show",
                lambda: sessions.session_no_show(
                    membership=member(self.actor(who, session.relationship)),
                    session=session,
                    party=party,
                    explanation="Did not connect",
                ),
            )
            is REFUSED
        ):
            return
        session.refresh_from_db()
        assert (session.status, session.no_show_party) == (SessionStatus.NO_SHOW, party)
        if (
            party == NoShowParty.STUDENT
            and self.org.no_show_charge == Charge.FULL
            and (charged or paired)
        ):
            # A completed session keeps its charge; a scheduled one of a live pairing is charged
            # as far as the hours cover it, never refused.
            assert session.charged_minutes + session.charge_shortfall == (
                charged
                or rules.charge_for(
                    organization=self.org, kind=session.kind, duration=session.duration_minutes
                )
            )
        else:
            assert (session.charged_minutes, session.charge_shortfall) == (0, 0)

    # --- grants ------------------------------------------------------------------------------

    @rule(
        half_hours=st.integers(1, 20),
        types=GRANT_TYPES,
        expires_in_days=st.none() | st.integers(1, 60),
        valid_now=st.sampled_from([False] * 3 + [True]),
    )
    def add_grant(
        self, half_hours: int, types: tuple[str, ...], expires_in_days: int | None, valid_now: bool
    ) -> None:
        """Hours bought today (valid from now: they do not cover earlier sessions) or earlier."""
        now = timezone.now()
        total, used, held = self.totals()
        make_grant(
            student=self.student,
            minutes=30 * half_hours,
            service_types=types,
            valid_from=now if valid_now else now - timedelta(days=30),
            expires_at=None if expires_in_days is None else now + timedelta(days=expires_in_days),
        )
        assert self.totals() == (total + 30 * half_hours, used, held)

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def ledger_reconciles(self) -> None:
        assert find_differences(organization_id=self.org.pk) == []

    @invariant()
    def grants_within_bounds(self) -> None:
        for pk, total, used, held in Grant.objects.filter(organization=self.org).values_list(
            "pk", "total", "used", "held"
        ):
            assert used >= 0, pk
            assert held >= 0, pk
            assert used + held <= total, pk

    @invariant()
    def sessions_charged_what_the_ledger_consumed(self) -> None:
        net = (
            GrantEntry.objects.filter(session=OuterRef("pk"))
            .order_by()
            .values("session")
            .annotate(s=Sum("used_delta"))
            .values("s")
        )
        org = self.org
        for row in (
            Session.objects.filter(organization=org)
            .annotate(net=Coalesce(Subquery(net, output_field=IntegerField()), 0))
            .values(
                "pk",
                "status",
                "kind",
                "duration_minutes",
                "charged_minutes",
                "charge_shortfall",
                "net",
                "no_show_party",
            )
        ):
            assert row["charged_minutes"] == row["net"], row
            status, charged = row["status"], row["charged_minutes"]
            if status in (SessionStatus.SCHEDULED, SessionStatus.COMPLETED):
                assert row["charge_shortfall"] == 0, row
            if status == SessionStatus.SCHEDULED:
                assert charged == 0, row
            elif status == SessionStatus.COMPLETED:
                assert charged == rules.charge_for(
                    organization=org, kind=row["kind"], duration=row["duration_minutes"]
                ), row
            elif status == SessionStatus.CANCELLED:
                # Kept only when a late cancellation is charged.
                assert charged == 0 or org.late_cancellation_charge == Charge.FULL, row
            elif status == SessionStatus.NO_SHOW:
                # Kept only when the student was absent and no-shows are charged.
                assert charged == 0 or (
                    row["no_show_party"] == NoShowParty.STUDENT
                    and org.no_show_charge == Charge.FULL
                ), row

    @invariant()
    def ended_relationships_hold_nothing(self) -> None:
        held = (
            Relationship.objects.filter(organization=self.org)
            .exclude(status__in=HOLDING_STATUSES)
            .annotate(held=Coalesce(Sum("allocations__held"), 0))
            .filter(held__gt=0)
            .values_list("pk", "status", "held")
        )
        assert list(held) == []


@pytest.mark.django_db
def test_relationship_and_session_state_machine() -> None:
    run_state_machine_as_test(
        SessionMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    # Nothing an example left behind disagrees with its ledger either.
    assert find_differences() == []
