"""Relationship lifecycle. Holds move through `grants.services` in the same transaction."""

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from grants import services as ledger
from matchpal.constraints import violated_constraint
from matchpal.errors import ConflictError, DomainError
from matchpal.models import Membership, Organization, ServiceType, User
from matchpal.quantities import format_quantity
from providers.models import Provider, ProviderStatus
from relationships import notices
from relationships.models import (
    HOLDING_STATUSES,
    Relationship,
    RelationshipRateChange,
    RelationshipStatus,
    RelationshipStatusChange,
)
from relationships.selectors import acts_for, allocated
from students.models import Student, StudentStatus

# Allowed transitions (DESIGN §4).
TRANSITIONS: dict[str, set[str]] = {
    RelationshipStatus.PROPOSED: {
        RelationshipStatus.PAIRED,
        RelationshipStatus.DECLINED,
        RelationshipStatus.CANCELLED,
    },
    RelationshipStatus.PAIRED: {RelationshipStatus.COMPLETED, RelationshipStatus.CANCELLED},
}


class RelationshipError(DomainError):
    pass


# What must also happen, in the same transaction, when a relationship ends. Sessions belong
# to sessions_app, which imports this module and never the reverse (DESIGN §1), so it registers
# its rule here (see `sessions_app.apps`) rather than this module reaching into its table.
type EndHook = Callable[..., object]
_END_HOOKS: list[EndHook] = []


def on_relationship_end[H: EndHook](hook: H) -> H:
    """Register `hook(relationship=…, actor=…, reason=…)`, run when a relationship ends."""
    if hook not in _END_HOOKS:
        _END_HOOKS.append(hook)
    return hook


def _lock(relationship: Relationship) -> Relationship:
    # `of=("self",)`: only the relationship row. Without it PostgreSQL also locks the joined
    # organization, student and provider rows FOR UPDATE, and every insert that references
    # them (a session, a notification, a history row) waits on the foreign-key check: a
    # session logged on another relationship of the student could then deadlock with this.
    # `no_key`: FOR NO KEY UPDATE still serializes the writers of this relationship, but lets
    # the KEY SHARE of foreign-key checks through; with FOR UPDATE, a grant expiry (grant
    # locked, then a release entry naming this relationship, checked at commit) deadlocks
    # with a cancel holding this row and waiting for the grant.
    return (
        Relationship.objects.select_for_update(of=("self",), no_key=True)
        .select_related("student", "provider", "service_type", "organization")
        .get(pk=relationship.pk)
    )


def _move(relationship: Relationship, to: str, *, actor: User | None, reason: str = "") -> None:
    if to not in TRANSITIONS.get(relationship.status, set()):
        raise ConflictError(
            f"This relationship is {relationship.get_status_display().lower()}; "
            f"it cannot become {RelationshipStatus(to).label.lower()}."
        )
    RelationshipStatusChange.objects.create(
        organization_id=relationship.organization_id,
        relationship=relationship,
        from_status=relationship.status,
        to_status=to,
        actor=actor,
        reason=reason.strip(),
    )
    relationship.status = to
    now = timezone.now()
    if to == RelationshipStatus.PAIRED:
        relationship.paired_at = now
    if to not in HOLDING_STATUSES:
        relationship.ended_at = now
    relationship.save(update_fields=["status", "paired_at", "ended_at"])


def relationship_propose(
    *,
    membership: Membership,
    organization: Organization,
    student: Student,
    provider: Provider,
    service_type: ServiceType,
    quantity: int,
    provider_pay_rate: Decimal | None = None,
    client_rate: Decimal = Decimal("0"),
    unit: str = "minutes",
    idempotency_key: str | None = None,
) -> Relationship:
    """Pair a student with a provider; `quantity` is held at once or the proposal is refused.
    Only an admin of the organization proposes (`membership`, as the view resolved it)."""
    if membership.organization_id != organization.pk or not membership.is_admin:
        raise RelationshipError(ADMINS_ONLY.format(doing="propose"))
    actor = membership.user
    for record in (student, provider, service_type):
        if record.organization_id != organization.pk:
            raise RelationshipError("A record of another organization was chosen.")
    if student.status != StudentStatus.ACTIVE:
        raise RelationshipError(f"{student.name} is inactive.")
    if provider.status != ProviderStatus.ACTIVE:
        raise RelationshipError(f"{provider.name} is inactive.")
    if not provider.service_types.filter(pk=service_type.pk).exists():
        raise RelationshipError(f"{provider.name} does not offer {service_type.name}.")
    if provider_pay_rate is None:
        provider_pay_rate = provider.default_pay_rate
    try:
        with transaction.atomic():
            relationship = Relationship.objects.create(
                organization=organization,
                student=student,
                provider=provider,
                service_type=service_type,
                unit=unit,
                proposed_by=actor,
                provider_pay_rate=provider_pay_rate,
                client_rate=client_rate,
                respond_by=timezone.now() + timedelta(days=organization.proposal_response_days),
            )
            RelationshipStatusChange.objects.create(
                organization=organization,
                relationship=relationship,
                from_status="",
                to_status=RelationshipStatus.PROPOSED,
                actor=actor,
                reason="Proposed",
            )
            ledger.hold(
                actor=actor,
                relationship=relationship,
                quantity=quantity,
                reason="Proposal",
                idempotency_key=idempotency_key,
            )
            notices.proposed(relationship, quantity=quantity)
    except IntegrityError as exc:
        if violated_constraint(exc) == "relationship_one_live_pairing":
            # The same form submitted twice meets the first one's live pairing before the
            # ledger sees the repeated key: tell it as "already applied", not as a conflict.
            ledger.ensure_new_key(idempotency_key)
            raise ConflictError(
                f"{student.name} and {provider.name} already have a live "
                f"{service_type.name.lower()} relationship.",
                field="provider",
            ) from exc
        raise
    return relationship


def relationship_accept(*, membership: Membership, relationship: Relationship) -> Relationship:
    with transaction.atomic():
        relationship = _lock(relationship)
        actor = _check_actor(
            membership, relationship, "Only the provider of this proposal can accept it."
        )
        _move(relationship, RelationshipStatus.PAIRED, actor=actor, reason="Accepted")
        notices.accepted(relationship)
    return relationship


def _end(relationship: Relationship, to: str, *, actor: User | None, reason: str) -> None:
    _move(relationship, to, actor=actor, reason=reason)
    for hook in _END_HOOKS:
        hook(relationship=relationship, actor=actor, reason=reason)
    ledger.release(
        actor=actor,
        relationship=relationship,
        reason=f"{RelationshipStatus(to).label}: {reason}".strip(": "),
    )


UNANSWERED = "No answer within the response window"


def relationship_decline(
    *, membership: Membership | None, relationship: Relationship, reason: str = ""
) -> Relationship:
    """The provider declines (optionally saying why); every held hour goes back. Without a
    membership it is the response-window job (`decline_stale_proposals`) declining an
    unanswered proposal: nobody acts, so nobody is checked."""
    with transaction.atomic():
        relationship = _lock(relationship)
        if membership is None:
            _end(relationship, RelationshipStatus.DECLINED, actor=None, reason=reason or UNANSWERED)
            notices.timed_out(relationship)
            return relationship
        actor = _check_actor(
            membership, relationship, "Only the provider of this proposal can decline it."
        )
        _end(relationship, RelationshipStatus.DECLINED, actor=actor, reason=reason or "Declined")
        notices.declined(relationship, reason=reason)
    return relationship


def relationship_cancel(
    *, membership: Membership, relationship: Relationship, reason: str
) -> Relationship:
    if not reason.strip():
        raise RelationshipError("Give a reason for the cancellation.")
    with transaction.atomic():
        relationship = _lock(relationship)
        actor = _check_actor(
            membership, relationship, ADMINS_ONLY.format(doing="cancel"), provider=False
        )
        _end(relationship, RelationshipStatus.CANCELLED, actor=actor, reason=reason)
        notices.cancelled(relationship, reason=reason, actor_id=actor.pk)
    return relationship


def relationship_complete(
    *, membership: Membership, relationship: Relationship, reason: str = ""
) -> Relationship:
    with transaction.atomic():
        relationship = _lock(relationship)
        actor = _check_actor(
            membership, relationship, ADMINS_ONLY.format(doing="complete"), provider=False
        )
        _end(relationship, RelationshipStatus.COMPLETED, actor=actor, reason=reason or "Completed")
    return relationship


def relationship_change_allocation(
    *, membership: Membership, relationship: Relationship, quantity: int, reason: str = ""
) -> Relationship:
    """Raise or lower what the relationship has (held + consumed); never below consumed."""
    with transaction.atomic():
        relationship = _lock(relationship)
        actor = _check_actor(
            membership,
            relationship,
            ADMINS_ONLY.format(doing="change the hours of"),
            provider=False,
        )
        if relationship.status not in HOLDING_STATUSES:
            raise ConflictError("Only a proposed or paired relationship holds hours.")
        current = allocated(relationship)
        unit = relationship.unit
        if quantity < current["consumed"]:
            raise RelationshipError(
                f"{format_quantity(current['consumed'], unit)} are already consumed; "
                f"the allocation cannot go below that."
            )
        difference = quantity - current["allocated"]
        if difference == 0:
            return relationship
        reason = reason.strip() or ("Allocation raised" if difference > 0 else "Allocation lowered")
        if difference > 0:
            ledger.hold(actor=actor, relationship=relationship, quantity=difference, reason=reason)
        else:
            ledger.release(
                actor=actor, relationship=relationship, quantity=-difference, reason=reason
            )
        RelationshipStatusChange.objects.create(
            organization_id=relationship.organization_id,
            relationship=relationship,
            from_status=relationship.status,
            to_status=relationship.status,
            actor=actor,
            reason=reason,
            allocation_before=current["allocated"],
            allocation_after=quantity,
        )
    return relationship


def relationship_change_rates(
    *,
    membership: Membership,
    relationship: Relationship,
    provider_pay_rate: Decimal,
    client_rate: Decimal,
    reason: str,
) -> Relationship:
    """An admin changes the relationship's rates, with a reason; the change (who, when,
    before → after) is kept in the same transaction. Sessions already logged keep their own
    rates; only sessions logged afterwards use the new ones (docs/rules.md, "Money")."""
    reason = reason.strip()
    if not reason:
        raise RelationshipError("Say why the rates change.")
    if provider_pay_rate < 0 or client_rate < 0:
        raise RelationshipError("Rates cannot be negative.")
    with transaction.atomic():
        relationship = _lock(relationship)
        actor = _check_actor(
            membership,
            relationship,
            ADMINS_ONLY.format(doing="change the rates of"),
            provider=False,
        )
        before = (relationship.provider_pay_rate, relationship.client_rate)
        if before == (provider_pay_rate, client_rate):
            raise RelationshipError("These are already the relationship's rates.")
        relationship.provider_pay_rate, relationship.client_rate = provider_pay_rate, client_rate
        relationship.save(update_fields=["provider_pay_rate", "client_rate"])
        RelationshipRateChange.objects.create(
            organization_id=relationship.organization_id,
            relationship=relationship,
            actor=actor,
            provider_pay_rate_before=before[0],
            provider_pay_rate_after=provider_pay_rate,
            client_rate_before=before[1],
            client_rate_after=client_rate,
            reason=reason,
        )
    return relationship


def decline_stale_proposals(*, now: datetime | None = None) -> int:
    """The periodic job: proposals unanswered past their response window are declined."""
    now = now or timezone.now()
    stale = list(
        Relationship.objects.filter(
            status=RelationshipStatus.PROPOSED, respond_by__lte=now
        ).order_by("pk")
    )
    done = 0
    for relationship in stale:
        try:
            relationship_decline(membership=None, relationship=relationship, reason=UNANSWERED)
        except ConflictError:
            continue  # answered meanwhile
        done += 1
    return done


ADMINS_ONLY = "Only an admin can {doing} a relationship."


def _check_actor(
    membership: Membership, relationship: Relationship, refusal: str, *, provider: bool = True
) -> User:
    """Who may make this transition (`relationships.selectors.acts_for`), or `refusal`. The
    membership is the one the view already resolved: nothing is queried again. Returns the
    acting user, whom the history and the ledger name."""
    if not acts_for(membership, relationship, provider=provider):
        raise RelationshipError(refusal)
    return membership.user
