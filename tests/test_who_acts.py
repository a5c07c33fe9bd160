"""Who may act: every session and relationship transition takes the membership the view resolved
(`request.membership`) as the one who acts and checks it by one rule: `relationships.selectors
.acts_for` (an admin of the relationship's organization, or its own provider), or, for confirming
and disputing, the session's own student. Nothing queries the actor's membership again.

So a membership of another organization is refused by every transition, even one held by the
very person who may act in the right organization; and a transition posted through its page
reads the actor's membership once, when the tenant is resolved (`matchpal.tenancy`), and the
actor's user once, when the request is signed in.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matchpal import prebuilt
from matchpal.errors import DomainError
from matchpal.models import Membership, Role, User
from providers.models import Provider
from relationships import services as relationships
from relationships.models import Relationship
from sessions_app import services as sessions
from sessions_app.models import Session
from sessions_app.selectors import CHANGE_ONLY_OWN
from tests.factories import MembershipFactory
from tests.isolation import KWARGS, POSTS, persona_client, persona_user, snapshot, snapshot_diff
from tests.isolation import tenant_routes as all_tenant_routes
from tests.support import (
    Tenant,
    at,
    log,
    member,
    other_provider,
    paired,
    past_grant,
    propose,
    service_type,
)

ADMINS_ONLY = relationships.ADMINS_ONLY
PROVIDER_ONLY = "Only the provider of this proposal can {doing} it."


@dataclass
class World:
    """Organization A with something for each transition to act on."""

    tenant: Tenant
    free: Provider  # a tutor without a pairing: a proposal with them goes through
    proposed: Relationship  # with a second provider, not answered yet
    paired: Relationship
    completed: Session  # June 10, with notes: its report can be sent
    due: Session  # scheduled this morning, not logged yet
    ahead: Session  # scheduled tomorrow
    disputed: Session  # June 9, disputed by the student


@pytest.fixture
def world(clock: object, tenant_a: Tenant) -> World:
    past_grant(tenant_a.student, 1200)
    _, second = other_provider(tenant_a)
    proposed = propose(tenant_a, quantity=60, provider=second)
    _, free = other_provider(tenant_a, "free.provider@alpha.example")
    rel = paired(tenant_a, quantity=600)
    completed = log(tenant_a, rel, at(10, 15), notes="Fractions")
    due = log(tenant_a, rel, at(11, 9), scheduled=True)
    ahead = log(tenant_a, rel, at(12, 15), scheduled=True)
    disputed = sessions.session_dispute(
        membership=member(tenant_a.student_user),
        session=log(tenant_a, rel, at(9, 15), notes="Decimals"),
        reason="It was shorter",
    )
    return World(tenant_a, free, proposed, rel, completed, due, ahead, disputed)


Act = Callable[[World, Membership], object]


@dataclass(frozen=True)
class Transition:
    act: Act
    refusal: str
    by: str = Role.ADMIN  # who may make it in organization A


TRANSITIONS: dict[str, Transition] = {
    "relationship_propose": Transition(
        lambda w, m: relationships.relationship_propose(
            membership=m,
            organization=w.tenant.organization,
            student=w.tenant.student,
            provider=w.free,
            service_type=service_type(w.tenant.organization),
            quantity=60,
        ),
        ADMINS_ONLY.format(doing="propose"),
    ),
    "relationship_accept": Transition(
        lambda w, m: relationships.relationship_accept(membership=m, relationship=w.proposed),
        PROVIDER_ONLY.format(doing="accept"),
    ),
    "relationship_decline": Transition(
        lambda w, m: relationships.relationship_decline(
            membership=m, relationship=w.proposed, reason="Full"
        ),
        PROVIDER_ONLY.format(doing="decline"),
    ),
    "relationship_cancel": Transition(
        lambda w, m: relationships.relationship_cancel(
            membership=m, relationship=w.paired, reason="Moved away"
        ),
        ADMINS_ONLY.format(doing="cancel"),
    ),
    "relationship_complete": Transition(
        lambda w, m: relationships.relationship_complete(membership=m, relationship=w.paired),
        ADMINS_ONLY.format(doing="complete"),
    ),
    "relationship_change_allocation": Transition(
        lambda w, m: relationships.relationship_change_allocation(
            membership=m, relationship=w.paired, quantity=700
        ),
        ADMINS_ONLY.format(doing="change the hours of"),
    ),
    "relationship_change_rates": Transition(
        lambda w, m: relationships.relationship_change_rates(
            membership=m,
            relationship=w.paired,
            provider_pay_rate=Decimal("31.00"),
            client_rate=Decimal("61.00"),
            reason="New term",
        ),
        ADMINS_ONLY.format(doing="change the rates of"),
    ),
    "session_log": Transition(
        lambda w, m: sessions.session_log(
            membership=m, relationship=w.paired, starts_at=at(6, 15), duration=60
        ),
        sessions.LOG_ONLY_OWN,
    ),
    "session_complete": Transition(
        lambda w, m: sessions.session_complete(membership=m, session=w.due, notes="Graphs"),
        sessions.LOG_ONLY_OWN,
    ),
    "session_send_report": Transition(
        lambda w, m: sessions.session_send_report(membership=m, session=w.completed),
        sessions.LOG_ONLY_OWN,
    ),
    "session_edit": Transition(
        lambda w, m: sessions.session_edit(membership=m, session=w.completed, notes="Percent"),
        CHANGE_ONLY_OWN,
    ),
    "session_reschedule": Transition(
        lambda w, m: sessions.session_reschedule(
            membership=m, session=w.ahead, starts_at=at(12, 17)
        ),
        CHANGE_ONLY_OWN,
    ),
    "session_cancel": Transition(
        lambda w, m: sessions.session_cancel(membership=m, session=w.ahead, reason="Ill"),
        CHANGE_ONLY_OWN,
    ),
    "session_no_show": Transition(
        lambda w, m: sessions.session_no_show(membership=m, session=w.completed, party="student"),
        CHANGE_ONLY_OWN,
    ),
    "session_resolve_dispute": Transition(
        lambda w, m: sessions.session_resolve_dispute(
            membership=m, session=w.disputed, resolution="kept", note="As logged"
        ),
        sessions.RESOLVE_ADMINS_ONLY,
    ),
    "session_confirm": Transition(
        lambda w, m: sessions.session_confirm(membership=m, session=w.completed),
        "Only the student can confirm their session.",
        by=Role.STUDENT,
    ),
    "session_dispute": Transition(
        lambda w, m: sessions.session_dispute(membership=m, session=w.completed, reason="No"),
        "Only the student can dispute their session.",
        by=Role.STUDENT,
    ),
}


def test_every_transition_is_listed() -> None:
    """A new service taking a membership is added to `TRANSITIONS`."""
    services = {
        name
        for module in (relationships, sessions)
        for name in dir(module)
        if name.startswith(("relationship_", "session_")) and callable(getattr(module, name))
    }
    assert sorted(services) == sorted(TRANSITIONS)


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_a_membership_of_another_organization_is_refused(
    name: str, world: World, tenant_b: Tenant
) -> None:
    """The person who may make the transition in A, acting with their membership of B (of the
    same role), is refused and nothing changes; with their membership of A it goes through."""
    transition, org = TRANSITIONS[name], world.tenant.organization
    person = persona_user(world.tenant, transition.by)
    assert person is not None
    elsewhere = MembershipFactory(
        user=person, organization=tenant_b.organization, role=transition.by
    )
    before = snapshot(org)

    with pytest.raises(DomainError) as refused:
        transition.act(world, elsewhere)

    assert refused.value.message == transition.refusal
    assert snapshot_diff(before, snapshot(org)) == []
    transition.act(world, member(person, org))
    assert snapshot_diff(before, snapshot(org)) != []


# --- Through the pages: one read of the actor's membership ------------------------------------

ACTIONS = sorted(
    route.name
    for route in all_tenant_routes()
    if route.name.split(":")[0] in ("relationships", "sessions_app")
    and POSTS.spec_for(route.name).changes
)


def _reads(captured: CaptureQueriesContext, table: str, column: str, pk: int) -> list[str]:
    """The queries selecting from `table` by `column` = pk: those of one person's row(s)."""
    pattern = re.compile(rf'FROM "{table}" .*"{table}"\."{column}" = {pk}\b')
    sent = [prebuilt.as_run(q["sql"]) for q in captured.captured_queries]  # prepared ones too
    return [sql for sql in sent if pattern.search(sql)]


@pytest.mark.parametrize("name", ACTIONS)
def test_an_action_page_reads_the_actors_membership_once(name: str, tenant_a: Tenant) -> None:
    """The tenant's membership, with its user, is what the service acts with: neither is read
    again (a service re-querying the membership, or a membership without its user, adds one)."""
    route = next(r for r in all_tenant_routes() if r.name == name)
    spec = POSTS.spec_for(name)
    path = route.path(tenant_a.organization.slug, KWARGS.fill(route, tenant_a))
    data = spec.data(tenant_a)
    actor = persona_user(tenant_a, spec.by)
    assert isinstance(actor, User)
    client = persona_client(tenant_a, spec.by)

    with CaptureQueriesContext(connection) as captured:
        response = client.post(path, data)

    assert response.status_code == 302, response.content.decode()[:1500]
    assert len(_reads(captured, "matchpal_membership", "user_id", actor.pk)) == 1
    assert len(_reads(captured, "matchpal_user", "id", actor.pk)) == 1
