"""A state machine over the ledger services, against a small in-memory model (DESIGN §3).

Hypothesis runs random sequences of create, adjust, transfer, refund, extend, expire, hold,
release, consume and restore on one student with two relationships (tutoring and advising). The
model predicts every balance, every split across grants and every refusal with its message;
after each step the database must equal the model, keep 0 ≤ used, 0 ≤ held, used + held ≤ total,
and reconcile with its ledger.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from grants import services
from grants.models import Allocation, Grant
from grants.reconcile import find_differences
from grants.services import (
    ADJUST_REVOKED,
    REFUND_REVOKED,
    Consumption,
    InsufficientHours,
    LedgerError,
)
from matchpal.models import ServiceType
from matchpal.quantities import format_quantity
from sessions_app.models import Session
from tests.factories import (
    OrganizationFactory,
    RelationshipFactory,
    SessionFactory,
    StudentFactory,
)

DAY = timedelta(days=1)
NEVER = datetime.max.replace(tzinfo=UTC)
TYPES = ("Tutoring", "Advising")


class Refusal(Exception):  # the model's prediction that the service refuses
    def __init__(self, kind: type[LedgerError], message: str, shortfall: int | None = None):
        super().__init__(message)
        self.kind, self.message, self.shortfall = kind, message, shortfall


@dataclass
class MGrant:
    pk: int
    total: int
    used: int
    held: int
    status: str
    expires_at: datetime | None
    valid_from: datetime
    types: frozenset[str]

    @property
    def available(self) -> int:
        return self.total - self.used - self.held

    def usable(self, at: datetime, valid_by: datetime | None = None) -> bool:
        return (
            self.status == "active"
            and self.valid_from <= (valid_by or at)
            and (self.expires_at is None or self.expires_at > at)
        )

    def expiry_key(self) -> tuple[datetime, int]:
        return (self.expires_at or NEVER, self.pk)


@dataclass
class MSession:
    pk: int
    rel: str
    # Per grant, what is left of each consumption as [quantity, came from the hold], the last
    # consumed on top; and the seq of the grant's last consumption.
    stacks: dict[int, list[list]] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)

    def net(self) -> dict[int, int]:
        net = {g: sum(quantity for quantity, _ in pieces) for g, pieces in self.stacks.items()}
        return {g: n for g, n in net.items() if n}

    def give_back(self, grant: int, quantity: int) -> int:
        """Off the top of the grant's stack; returns the part that came from the hold."""
        from_hold = 0
        while quantity:
            top = self.stacks[grant][-1]
            take = min(quantity, top[0])
            top[0] -= take
            quantity -= take
            from_hold += take if top[1] else 0
            if top[0] == 0:
                self.stacks[grant].pop()
        return from_hold


@dataclass
class Model:
    grants: dict[int, MGrant] = field(default_factory=dict)
    allocations: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # [held, consumed]
    sessions: dict[int, MSession] = field(default_factory=dict)
    seq: int = 0

    def alloc(self, rel: str, grant: int) -> list[int]:
        return self.allocations.setdefault((rel, grant), [0, 0])

    # --- grants ---------------------------------------------------------------------------

    def adjust(self, pk: int, delta: int) -> None:
        g = self.grants[pk]
        if g.status == "revoked":
            raise Refusal(LedgerError, ADJUST_REVOKED)
        if g.total + delta < g.used + g.held:
            raise Refusal(
                LedgerError,
                f"This grant has {format_quantity(g.used, 'minutes')} used and "
                f"{format_quantity(g.held, 'minutes')} reserved, so its total cannot go below "
                f"{format_quantity(g.used + g.held, 'minutes')}. Release reserved hours first.",
            )
        g.total += delta

    def _take_out(self, g: MGrant, quantity: int, what: str) -> None:
        if quantity > g.available:
            free = max(g.available, 0)
            raise Refusal(
                InsufficientHours,
                f"Only {format_quantity(free, 'minutes')} of this grant are free to book; "
                f"release reserved hours first to {what} more.",
                quantity - free,
            )

    @staticmethod
    def _movable(source: MGrant, now: datetime) -> None:
        past_date = source.expires_at is not None and source.expires_at <= now
        if source.status == "expired" or past_date:
            raise Refusal(LedgerError, "This grant has expired; extend it before moving its hours.")
        if source.status != "active":
            raise Refusal(LedgerError, "This grant is revoked; its hours cannot move.")

    def transfer(self, src: int, dst: int, quantity: int, now: datetime) -> None:
        if src == dst:
            raise Refusal(LedgerError, "Choose a different grant to transfer to.")
        source, target = self.grants[src], self.grants[dst]
        self._movable(source, now)
        self._take_out(source, quantity, "transfer")
        if target.status != "active" or (
            target.expires_at is not None and target.expires_at <= now
        ):
            raise Refusal(LedgerError, "The grant receiving the hours is not active.")
        source.total -= quantity
        target.total += quantity

    def transfer_new(self, src: int, quantity: int, now: datetime) -> None:
        source = self.grants[src]
        self._movable(source, now)
        self._take_out(source, quantity, "transfer")
        source.total -= quantity

    def refund(self, pk: int, quantity: int) -> None:
        g = self.grants[pk]
        if g.status == "revoked":
            raise Refusal(LedgerError, REFUND_REVOKED)
        self._take_out(g, quantity, "refund")
        g.total -= quantity
        if g.total == 0 and g.used == 0:
            g.status = "revoked"

    def extend(self, pk: int, expires_at: datetime | None, now: datetime) -> None:
        g = self.grants[pk]
        if expires_at is not None and expires_at <= now:
            raise Refusal(LedgerError, "The new expiry must be in the future.")
        if g.status == "revoked":
            raise Refusal(LedgerError, "A revoked grant cannot be extended.")
        if expires_at is not None and g.expires_at is None:
            raise Refusal(
                LedgerError, "This grant never expires; an extension cannot give it an expiry."
            )
        if expires_at is not None and g.expires_at is not None and expires_at <= g.expires_at:
            raise Refusal(
                LedgerError,
                f"The new expiry must be after the current one "
                f"({timezone.localtime(g.expires_at):%Y-%m-%d %H:%M}).",
            )
        g.expires_at = expires_at
        g.status = "active"

    def expire(self, pk: int) -> None:
        g = self.grants[pk]
        if g.status != "active":
            return
        for (_, grant), alloc in self.allocations.items():
            if grant == pk and alloc[0] > 0:
                g.held -= alloc[0]
                alloc[0] = 0
        g.status = "expired"

    # --- holds ----------------------------------------------------------------------------

    def hold(self, rel: str, quantity: int, now: datetime) -> None:
        usable = sorted(
            (g for g in self.grants.values() if rel in g.types and g.usable(now)),
            key=MGrant.expiry_key,
        )
        available = sum(max(g.available, 0) for g in usable)
        if available < quantity:
            raise Refusal(
                InsufficientHours,
                f"Only {format_quantity(available, 'minutes')} are free to book for this service; "
                f"reserving {format_quantity(quantity, 'minutes')} needs "
                f"{format_quantity(quantity - available, 'minutes')} more.",
                quantity - available,
            )
        remaining = quantity
        for g in usable:
            take = min(remaining, g.available)
            if take <= 0:
                continue
            g.held += take
            self.alloc(rel, g.pk)[0] += take
            remaining -= take
            if remaining == 0:
                break

    def release(self, rel: str, quantity: int | None) -> int:
        holding = sorted(
            (self.grants[g] for (r, g), a in self.allocations.items() if r == rel and a[0] > 0),
            key=MGrant.expiry_key,
            reverse=True,
        )
        total_held = sum(self.allocations[(rel, g.pk)][0] for g in holding)
        wanted = total_held if quantity is None else quantity
        if wanted > total_held:
            raise Refusal(
                LedgerError,
                f"This relationship holds only {format_quantity(total_held, 'minutes')}; "
                f"it cannot release {format_quantity(wanted, 'minutes')}.",
            )
        remaining = wanted
        for g in holding:
            alloc = self.allocations[(rel, g.pk)]
            take = min(remaining, alloc[0])
            if take <= 0:
                break
            alloc[0] -= take
            g.held -= take
            remaining -= take
        return wanted

    # --- sessions -------------------------------------------------------------------------

    def consume(
        self, session: MSession, quantity: int, at: datetime, day_end: datetime, draw: bool
    ) -> list[Consumption]:
        rel = session.rel
        held_ids = {g for (r, g) in self.allocations if r == rel}
        candidates = {
            g.pk for g in self.grants.values() if draw and rel in g.types and g.usable(at, day_end)
        }
        valid = sorted(
            (
                self.grants[pk]
                for pk in held_ids | candidates
                if self.grants[pk].usable(at, day_end)
            ),
            key=MGrant.expiry_key,
        )
        on_hold = sum(self.allocations[(rel, g.pk)][0] for g in valid if g.pk in held_ids)
        drawable = sum(max(g.available, 0) for g in valid) if draw else 0
        if on_hold + drawable < quantity:
            if draw:
                message = (
                    f"The relationship's reserved hours and the student's hours free to book cover "
                    f"{format_quantity(on_hold + drawable, 'minutes')}; the session needs "
                    f"{format_quantity(quantity, 'minutes')}."
                )
            else:
                message = (
                    f"Only {format_quantity(on_hold, 'minutes')} are reserved for this "
                    f"relationship; the session needs {format_quantity(quantity, 'minutes')}."
                )
            raise Refusal(InsufficientHours, message, quantity - on_hold - drawable)
        result = []
        remaining = quantity
        for g in valid:
            alloc = self.allocations.get((rel, g.pk))
            take = min(remaining, alloc[0]) if alloc else 0
            if take > 0:
                alloc[0] -= take
                alloc[1] += take
                g.held -= take
                g.used += take
                self._consumed(session, g.pk, take, from_hold=True)
                result.append(Consumption(g.pk, take, True))
                remaining -= take
            if remaining == 0:
                break
        for g in valid if remaining else []:
            take = min(remaining, max(g.available, 0))
            if take <= 0:
                continue
            self.alloc(rel, g.pk)[1] += take
            g.used += take
            self._consumed(session, g.pk, take, from_hold=False)
            result.append(Consumption(g.pk, take, False))
            remaining -= take
            if remaining == 0:
                break
        return result

    def _consumed(self, session: MSession, grant: int, quantity: int, *, from_hold: bool) -> None:
        self.seq += 1
        session.stacks.setdefault(grant, []).append([quantity, from_hold])
        session.last[grant] = self.seq

    def restore(self, session: MSession, quantity: int | None, to_hold: bool, now: datetime) -> int:
        net = session.net()
        total = sum(net.values())
        wanted = total if quantity is None else quantity
        if wanted > total:
            raise Refusal(
                LedgerError,
                f"This session consumed {format_quantity(total, 'minutes')}; "
                f"{format_quantity(wanted, 'minutes')} cannot be restored.",
            )
        remaining = wanted
        for pk in sorted(net, key=lambda pk: session.last[pk], reverse=True):
            take = min(remaining, net[pk])
            if take <= 0:
                continue
            g = self.grants[pk]
            # Only what came out of the hold goes back to it; drawn minutes go back to available.
            from_hold = session.give_back(pk, take)
            back = from_hold if to_hold and g.usable(now) else 0
            g.used -= take
            g.held += back
            alloc = self.allocations[(session.rel, pk)]
            alloc[1] -= take
            alloc[0] += back
            remaining -= take
            if remaining == 0:
                break
        return wanted


class LedgerMachine(RuleBasedStateMachine):
    grants = Bundle("grants")
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        # A fresh organization per example: its rows are the only ones the checks look at.
        self.org = OrganizationFactory()
        self.student = StudentFactory(organization=self.org)
        self.types = {st.name: st for st in ServiceType.objects.filter(organization=self.org)}
        self.rels = {
            name: RelationshipFactory(
                organization=self.org, student=self.student, service_type=self.types[name]
            )
            for name in TYPES
        }
        self.model = Model()
        self.clock = timezone.now()  # session times, all distinct

    # Run a service against a copy of the model: both refuse alike, or both succeed.
    def apply(self, predict, act):  # type: ignore[no-untyped-def]
        expected = copy.deepcopy(self.model)
        refusal = None
        try:
            predicted = predict(expected)
        except Refusal as exc:
            refusal = exc
        if refusal is not None:
            with pytest.raises(refusal.kind) as info:
                act()
            assert type(info.value) is refusal.kind
            assert str(info.value) == refusal.message
            if refusal.shortfall is not None:
                assert info.value.shortfall == refusal.shortfall  # type: ignore[attr-defined]
            return Refusal
        result = act()
        self.model = expected
        return predicted, result

    # --- grants ---------------------------------------------------------------------------

    @initialize(
        target=grants,
        minutes=st.lists(st.integers(30, 300), min_size=2, max_size=3),
        expiry=st.sampled_from([None, 3, 10, 30]),
    )
    def first_grants(self, minutes: list[int], expiry: int | None):  # type: ignore[no-untyped-def]
        """Start with a grant covering both services (so the relationships compete for it) and
        one or two tutoring grants."""
        both = self.create(minutes[0], expiry, TYPES)
        return multiple(both, *(self.create(m, None, ("Tutoring",)) for m in minutes[1:]))

    @rule(
        target=grants,
        minutes=st.integers(1, 300),
        expiry=st.sampled_from([None, 3, 10, 30]),
        types=st.sampled_from([("Tutoring",), ("Advising",), TYPES]),
    )
    def create(self, minutes: int, expiry: int | None, types: tuple[str, ...]) -> int:
        expires_at = None if expiry is None else timezone.now() + expiry * DAY
        grant = services.grant_create(
            actor=None,
            student=self.student,
            quantity=minutes,
            unit="minutes",
            expires_at=expires_at,
            service_types=[self.types[t] for t in types],
        )
        self.model.grants[grant.pk] = MGrant(
            grant.pk, minutes, 0, 0, "active", expires_at, grant.valid_from, frozenset(types)
        )
        return grant.pk

    @rule(grant=grants, delta=st.integers(-250, 250).filter(bool))
    def adjust(self, grant: int, delta: int) -> None:
        self.apply(
            lambda m: m.adjust(grant, delta),
            lambda: services.grant_adjust(
                actor=None, grant=Grant(pk=grant), delta=delta, reason="Stateful"
            ),
        )

    @rule(src=grants, dst=grants, quantity=st.integers(1, 200))
    def transfer(self, src: int, dst: int, quantity: int) -> None:
        self.apply(
            lambda m: m.transfer(src, dst, quantity, timezone.now()),
            lambda: services.grant_transfer(
                actor=None,
                from_grant=self.db_grant(src),
                to_grant=self.db_grant(dst),
                quantity=quantity,
                reason="Stateful",
            ),
        )

    @rule(
        target=grants,
        src=grants,
        quantity=st.integers(1, 200),
        types=st.sampled_from([("Tutoring",), ("Advising",), TYPES]),
    )
    def transfer_to_new_grant(self, src: int, quantity: int, types: tuple[str, ...]):  # type: ignore[no-untyped-def]
        outcome = self.apply(
            lambda m: m.transfer_new(src, quantity, timezone.now()),
            lambda: services.grant_transfer(
                actor=None,
                from_grant=self.db_grant(src),
                quantity=quantity,
                reason="Stateful",
                to_service_types=[self.types[t] for t in types],
            ),
        )
        if outcome is Refusal:
            return multiple()
        new = outcome[1]
        source = self.model.grants[src]
        self.model.grants[new.pk] = MGrant(
            new.pk, quantity, 0, 0, "active", source.expires_at, source.valid_from, frozenset(types)
        )
        return new.pk

    @rule(grant=grants, quantity=st.integers(1, 200))
    def refund(self, grant: int, quantity: int) -> None:
        self.apply(
            lambda m: m.refund(grant, quantity),
            lambda: services.grant_refund(
                actor=None, grant=Grant(pk=grant), quantity=quantity, reason="Stateful"
            ),
        )

    @rule(grant=grants, change=st.sampled_from(["never", "-5", "+5", "+20", "in 40 days"]))
    def extend(self, grant: int, change: str) -> None:
        now = timezone.now()
        current = self.model.grants[grant].expires_at
        if change == "never":
            new = None
        elif change == "in 40 days":
            new = now + 40 * DAY
        else:
            new = (current or now) + int(change) * DAY
        self.apply(
            lambda m: m.extend(grant, new, now),
            lambda: services.grant_extend(
                actor=None, grant=Grant(pk=grant), expires_at=new, reason="Stateful"
            ),
        )

    @rule(grant=grants)
    def expire(self, grant: int) -> None:
        self.apply(
            lambda m: m.expire(grant),
            lambda: services.grant_expire(actor=None, grant=Grant(pk=grant)),
        )

    # --- holds ----------------------------------------------------------------------------

    @rule(rel=st.sampled_from(TYPES), quantity=st.integers(1, 150))
    def hold(self, rel: str, quantity: int) -> None:
        now = timezone.now()
        outcome = self.apply(
            lambda m: m.hold(rel, quantity, now),
            lambda: services.hold(actor=None, relationship=self.rels[rel], quantity=quantity),
        )
        if outcome is not Refusal:
            assert outcome[1] == quantity

    @rule(rel=st.sampled_from(TYPES), quantity=st.none() | st.integers(1, 150))
    def release(self, rel: str, quantity: int | None) -> None:
        outcome = self.apply(
            lambda m: m.release(rel, quantity),
            lambda: services.release(actor=None, relationship=self.rels[rel], quantity=quantity),
        )
        if outcome is not Refusal:
            assert outcome[1] == outcome[0]

    # --- sessions -------------------------------------------------------------------------

    @rule(
        target=sessions,
        rel=st.sampled_from(TYPES),
        quantity=st.integers(1, 120),
        draw=st.booleans(),
        days_ahead=st.sampled_from([0, 5, 20]),
    )
    def consume(self, rel: str, quantity: int, draw: bool, days_ahead: int):  # type: ignore[no-untyped-def]
        self.clock += timedelta(minutes=1)
        at = self.clock + days_ahead * DAY
        session = SessionFactory(
            relationship=self.rels[rel], starts_at=at, duration_minutes=quantity
        )
        day_end = (timezone.localtime(at, self.org.tz) + DAY).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        msession = MSession(session.pk, rel)

        def predict(m: Model) -> list[Consumption]:
            m.sessions[session.pk] = msession_copy = copy.deepcopy(msession)
            return m.consume(msession_copy, quantity, at, day_end, draw)

        outcome = self.apply(
            predict,
            lambda: services.consume(
                actor=None,
                relationship=self.rels[rel],
                session=session,
                quantity=quantity,
                at=at,
                draw_shortfall=draw,
            ),
        )
        if outcome is Refusal:
            return multiple()
        assert outcome[1] == outcome[0]
        return session.pk

    @rule(
        session=sessions,
        portion=st.sampled_from(["all", "one", "half", "over"]),
        to_hold=st.booleans(),
    )
    def restore(self, session: int, portion: str, to_hold: bool) -> None:
        """A cancellation ("all"), a session shortened by one minute or by half, or more than
        is left to restore."""
        now = timezone.now()
        msession = self.model.sessions[session]
        left = sum(msession.net().values())
        quantity = {"all": None, "one": 1, "half": max(left // 2, 1), "over": left + 1}[portion]
        outcome = self.apply(
            lambda m: m.restore(m.sessions[session], quantity, to_hold, now),
            lambda: services.restore(
                actor=None,
                relationship=self.rels[msession.rel],
                session=Session.objects.get(pk=session),
                quantity=quantity,
                to_hold=to_hold,
            ),
        )
        if outcome is not Refusal:
            assert outcome[1] == outcome[0]

    def db_grant(self, pk: int) -> Grant:
        return Grant.objects.get(pk=pk)

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def database_equals_model(self) -> None:
        rows = {
            pk: rest
            for pk, *rest in Grant.objects.filter(organization=self.org).values_list(
                "pk", "total", "used", "held", "status", "expires_at"
            )
        }
        assert rows == {
            g.pk: [g.total, g.used, g.held, g.status, g.expires_at]
            for g in self.model.grants.values()
        }
        rel_names = {r.pk: name for name, r in self.rels.items()}
        allocations = {
            (rel_names[r], g): [held, consumed]
            for r, g, held, consumed in Allocation.objects.filter(
                organization=self.org
            ).values_list("relationship", "grant", "held", "consumed")
        }
        assert allocations == self.model.allocations

    @invariant()
    def balances_within_bounds_and_reconciled(self) -> None:
        for total, used, held in Grant.objects.filter(organization=self.org).values_list(
            "total", "used", "held"
        ):
            assert used >= 0
            assert held >= 0
            assert used + held <= total
        assert find_differences(organization_id=self.org.pk) == []


@pytest.mark.django_db
def test_ledger_state_machine() -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
