"""Logging a session runs a fixed, small number of queries (docs/sessions.md, "Logging: the
query budget"), whatever the policy counts and however many grants pay for it, and the rules
still refuse in their order.

Counted inside the test's transaction, the service's `atomic` is a SAVEPOINT and its RELEASE:
two of the queries below. In production they are BEGIN and COMMIT, which Django does not count.
"""

import pytest
from django.urls import reverse

from grants.models import EntryKind
from grants.reconcile import find_differences
from relationships.models import Relationship
from sessions_app.models import Session
from sessions_app.rules import DUPLICATE_START
from tests.support import (
    Tenant,
    at,
    balance,
    client_for,
    entries,
    holds,
    log,
    member,
    other_provider,
    paired,
    past_grant,
    refused,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

# Savepoint pair (the test's transaction), relationship lock, then the session insert, the grant
# locks and the allocation locks (three statements sent together: one round trip, counted
# once), and the posting: the ledger entries inserted, the grants and allocations updated, in
# one statement.
SERVICE_QUERIES = 5
# The three counting rules read one aggregate; the student and the provider are locked for
# them (docs/sessions.md, lock order).
WITH_EVERY_LIMIT = SERVICE_QUERIES + 3
# The user with its membership and organization, one statement (`tenant_view`; the web session
# is read from the cache), then the service's: the service finds the relationship by its public
# id with the statement that locks it, so the view does not read it first.
VIEW_QUERIES = 1 + SERVICE_QUERIES


def test_a_log_runs_a_fixed_number_of_queries(
    tenant_a: Tenant, rel: Relationship, grant, django_assert_num_queries
) -> None:
    log(tenant_a, rel, at(9, 10))  # warm: nothing below is a first-use cost
    provider = member(tenant_a.provider_user, tenant_a.organization)
    with django_assert_num_queries(SERVICE_QUERIES):
        session = log(tenant_a, rel, at(10, 10), 45, membership=provider)
    assert balance(grant) == (900, 105, 495)
    assert entries(session=session) == [(EntryKind.CONSUME, 0, 45, -45)]
    assert Session.objects.get(pk=session.pk).charged_minutes == 45


def test_every_limit_of_the_policy_adds_one_aggregate_and_the_people_locks(
    tenant_a: Tenant, rel: Relationship, grant, django_assert_num_queries
) -> None:
    set_policy(
        tenant_a.organization,
        max_sessions_per_pair_per_day=3,
        weekly_max_minutes_per_student_service=600,
        weekly_max_minutes_per_provider=600,
    )
    log(tenant_a, rel, at(9, 10))
    provider = member(tenant_a.provider_user, tenant_a.organization)
    with django_assert_num_queries(WITH_EVERY_LIMIT):
        log(tenant_a, rel, at(10, 10), membership=provider)
    assert balance(grant) == (900, 120, 480)


def test_hours_from_two_grants_cost_the_same_queries(
    tenant_a: Tenant, django_assert_num_queries
) -> None:
    sooner = past_grant(tenant_a.student, 30, expires_at=at(30, 0))
    later = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    log(tenant_a, rel, at(9, 10), 15)  # 15 of the 30 that expire first
    provider = member(tenant_a.provider_user, tenant_a.organization)
    with django_assert_num_queries(SERVICE_QUERIES):
        log(tenant_a, rel, at(10, 10), 60, membership=provider)  # 15 of them, then 45 more
    assert (balance(sooner), balance(later)) == ((30, 30, 0), (600, 45, 225))
    assert holds(rel) == [(sooner.pk, 0, 30), (later.pk, 225, 45)]
    assert find_differences() == []


def test_the_log_form_posts_in_a_fixed_number_of_queries(
    tenant_a: Tenant, rel: Relationship, grant, django_assert_num_queries
) -> None:
    client = client_for(tenant_a.provider_user)
    url = reverse("sessions_app:log", args=[tenant_a.organization.slug, rel.public_id])
    form = {"duration": "60", "kind": "tutoring", "mode": "", "notes": "Fractions"}
    client.post(url, {"date": "2025-06-09", "time": "10:15", **form})
    with django_assert_num_queries(VIEW_QUERIES):
        response = client.post(url, {"date": "2025-06-10", "time": "10:15", **form})
    session = Session.objects.get(starts_at=at(10, 10, 15))
    assert response.status_code == 302
    assert response["Location"] == session.get_absolute_url()
    assert balance(grant) == (900, 120, 480)


def test_a_duplicate_is_refused_first_whatever_the_limits(
    tenant_a: Tenant, rel: Relationship, grant
) -> None:
    """The duplicate is left to the unique constraint when nothing else is counted; with a
    limit it comes along in the aggregate, so it still refuses before the limit does."""
    log(tenant_a, rel, at(10, 15))
    refused(lambda: log(tenant_a, rel, at(10, 15)), DUPLICATE_START)
    set_policy(tenant_a.organization, max_sessions_per_pair_per_day=1)
    refused(lambda: log(tenant_a, rel, at(10, 15)), DUPLICATE_START)
    refused(
        lambda: log(tenant_a, rel, at(10, 16)),
        "At most 1 session(s) per student and provider per day.",
    )
    org = tenant_a.organization
    set_policy(org, max_sessions_per_pair_per_day=None, weekly_max_minutes_per_provider=60)
    refused(lambda: log(tenant_a, rel, at(10, 15)), DUPLICATE_START)
    assert balance(grant) == (900, 60, 540)
    assert Session.objects.count() == 1


def test_the_log_form_of_another_providers_relationship_is_not_found(
    tenant_a: Tenant, rel: Relationship, grant
) -> None:
    """Found by the lock among the member's own, as `relationship_to_act_on` finds it: another
    provider's pairing answers 404 and logs nothing, with a valid form or not."""
    other_user, _ = other_provider(tenant_a)
    client = client_for(other_user)
    url = reverse("sessions_app:log", args=[tenant_a.organization.slug, rel.public_id])
    form = {"duration": "60", "kind": "tutoring", "mode": "", "notes": "Fractions"}
    assert client.post(url, {"date": "2025-06-10", "time": "10:15", **form}).status_code == 404
    assert client.post(url, {"date": "", "time": "10:15", **form}).status_code == 404
    assert not Session.objects.filter(relationship=rel).exists()
    assert balance(grant) == (900, 0, 600)
