"""Pinned query counts of the detail pages, the own-profile pages and the settings page
(DESIGN §7), the companion of tests/test_query_counts.py (which pins the list pages and
relationships:detail).

Each page is requested with 3 of the rows around it (the student's grants, relationships and
sessions; the provider's relationships and services; the store's deliveries; the packages or
students an order error's form offers...), then with 30, and must run exactly the pinned number
of queries both times: a count that grows with the rows is an N+1 to fix in the page's
selector, not a number to raise here. The counts include the request's own query (the
user with its membership of the tenant, one statement; the session is read from the cache).
Which pages must be here is checked at the bottom: every tenant URL named like a detail or an
own profile, and the settings page.
"""

import re
from datetime import UTC, datetime

import pytest

from grants.services import hold
from integrations.woocommerce.models import Delivery, OrderError
from matchpal.models import Invitation, Role, ServiceType
from notifications.models import DeliveryStatus, Dispatch, EmailDelivery
from providers.models import ProviderService
from reports.export_jobs.models import ExportJob
from sessions_app.models import Session
from sessions_app.services import session_edit, session_log
from tests.factories import RelationshipFactory
from tests.isolation import tenant_routes
from tests.query_pins import Page, assert_pinned_at_every_size, org_path
from tests.reports.export_jobs.support import finished_job
from tests.support import Tenant, member, whole_hours_ago
from tests.test_query_counts import (
    PINNED as LIST_PINNED,
)
from tests.test_query_counts import (
    _sessions_relationship,
    _shop,
    _student_with_hours,
    grow_emails,
    grow_exports,
    grow_members,
    grow_packages,
    grow_relationship_sessions,
    grow_service_types,
    grow_student_home,
    grow_students,
)

# --- Growing what is around each page to exactly n rows ---------------------------------------


def _invite(tenant: Tenant, i: int, **record: object) -> None:
    """A revoked invitation of the record (so that none is pending and the persona's login
    stays as it is)."""
    role = Role.STUDENT if "student" in record else Role.PROVIDER
    Invitation.objects.create(
        organization=tenant.organization,
        email=f"again{i}@alpha.example",
        role=role,
        invited_by=tenant.admin,
        revoked_at=whole_hours_ago(i + 1),
        **record,
    )


def grow_student_detail(tenant: Tenant, n: int) -> None:
    """The student persona has n grants, n relationships with a session each (see
    `grow_student_home`) and n invitations."""
    grow_student_home(tenant, n)
    student = tenant.student
    for i in range(student.invitations.count(), n):
        _invite(tenant, i, student=student)


def grow_provider_detail(tenant: Tenant, n: int) -> None:
    """The provider persona has n paired relationships (each of its own student, holding 2 h,
    with an hour-long session delivered), offers n service types (Tutoring and n - 1 added)
    and has n invitations."""
    org, provider = tenant.organization, tenant.provider
    tutoring = ServiceType.objects.get(organization=org, name="Tutoring")
    for _ in range(provider.relationships.count(), n):
        relationship = RelationshipFactory(
            organization=org,
            provider=provider,
            service_type=tutoring,
            student=_student_with_hours(tenant, 240),
        )
        hold(actor=None, relationship=relationship, quantity=120)
        session_log(
            membership=member(tenant.admin, tenant.organization),
            relationship=relationship,
            starts_at=whole_hours_ago(1),
            duration=60,
        )
    for i in range(provider.service_types.count(), n):
        offered = ServiceType.objects.create(organization=org, name=f"Offered {i:02}")
        ProviderService.objects.create(organization=org, provider=provider, service_type=offered)
    for i in range(provider.invitations.count(), n):
        _invite(tenant, i, provider=provider)


def grow_session_detail(tenant: Tenant, n: int) -> None:
    """The personas' relationship has n sessions; the one shown (the latest) has n changes in
    its history, each by an admin."""
    grow_relationship_sessions(tenant, n)
    latest = _latest_session(tenant)
    for i in range(latest.changes.count(), n):
        session_edit(
            membership=member(tenant.admin, tenant.organization),
            session=latest,
            mode=f"Room {i}",
            reason=f"Moved {i}",
        )


def grow_store_deliveries(tenant: Tenant, n: int) -> None:
    """Shop 00 has received n deliveries."""
    org, store = tenant.organization, _shop(tenant, 0)
    for i in range(Delivery.objects.filter(store=store).count(), n):
        Delivery.objects.create(
            organization=org,
            store=store,
            topic="order.updated",
            delivery_id=str(i),
            body=b"{}",
            headers={"X-WC-Webhook-Delivery-ID": str(i)},
            signature_valid=True,
            status="processed",
            outcome=f"Granted order {1000 + i}",
        )


def _error(tenant: Tenant, kind: str) -> OrderError:
    return OrderError.objects.get_or_create(
        organization=tenant.organization,
        store=_shop(tenant, 0),
        kind=kind,
        subject="line:1" if kind == "unknown_product" else "order:727",
        defaults={"message": f"The {kind} error.", "payload": {"id": 727, "line_items": []}},
    )[0]


def grow_map_choices(tenant: Tenant, n: int) -> None:
    """An unknown-product error, and n packages its form offers to map the product to."""
    _error(tenant, "unknown_product")
    grow_packages(tenant, n)


def grow_link_choices(tenant: Tenant, n: int) -> None:
    """A customer-not-found error, and n students its form offers to link the order to."""
    _error(tenant, "customer_not_found")
    grow_students(tenant, n)


def _delivery(tenant: Tenant) -> Delivery:
    return Delivery.objects.filter(store=_shop(tenant, 0), delivery_id="shown").first()


def grow_delivery_detail(tenant: Tenant, n: int) -> None:
    """The delivery shown carries n headers; its shop has n - 1 other deliveries."""
    Delivery.objects.update_or_create(
        organization=tenant.organization,
        store=_shop(tenant, 0),
        delivery_id="shown",
        defaults={
            "topic": "order.created",
            "body": b'{"id": 727}',
            "headers": {f"X-Header-{i:02}": f"value {i}" for i in range(n)},
            "signature_valid": True,
            "status": "processed",
            "outcome": "Granted",
        },
    )
    grow_store_deliveries(tenant, n)


def _shown_dispatch(tenant: Tenant) -> Dispatch:
    dispatch, _ = Dispatch.objects.get_or_create(
        organization=tenant.organization, kind="session_reminder", object_key="session:shown"
    )
    return dispatch


def _email(tenant: Tenant) -> EmailDelivery:
    return EmailDelivery.objects.get(dispatch=_shown_dispatch(tenant), to="shown@alpha.example")


def grow_email_detail(tenant: Tenant, n: int) -> None:
    """The email shown went, after n attempts, to one of the n addresses its event was sent to;
    the log holds n other emails too."""
    dispatch = _shown_dispatch(tenant)
    for i in range(dispatch.emails.count(), n):
        EmailDelivery.objects.create(
            organization=tenant.organization,
            dispatch=dispatch,
            kind=dispatch.kind,
            to="shown@alpha.example" if i == 0 else f"guest{i}@alpha.example",
            subject="Reminder: session shown",
            text="\n".join(f"Line {j}" for j in range(n)),
            html="x",
        )
    EmailDelivery.objects.filter(pk=_email(tenant).pk).update(
        attempts=n, status=DeliveryStatus.RETRYING, error=f"SMTP error after {n} attempts"
    )
    grow_emails(tenant, 2 * n)


def grow_settings(tenant: Tenant, n: int) -> None:
    """n service types (each offered by a provider of its own) and n members."""
    grow_service_types(tenant, n)
    grow_members(tenant, n)


# --- What each page must show at n rows ---------------------------------------------------------


def _html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def shows_student_detail(n: int, response) -> None:  # type: ignore[no-untyped-def]
    student = response.context["student"]
    assert student.user_id is not None
    # The grants, relationships and sessions are on other pages (hours, relationships): here
    # they only have to exist, n of each.
    assert (student.grants.count(), student.relationships.count()) == (n, n)
    assert Session.objects.filter(relationship__student=student).count() == n
    if response.context["membership"].is_admin:
        # The five latest invitations, each a line of the list.
        assert len(response.context["invitations"]) == min(n, 5)
        assert _html(response).count(" — revoked (") == min(n, 5)
    else:
        assert list(response.context["invitations"]) == []


def shows_own_student_profile(n: int, response) -> None:  # type: ignore[no-untyped-def]
    student = response.context["student"]
    assert student.user_id == response.wsgi_request.user.pk
    assert student.grants.count() == n
    assert student.name in _html(response)


def _shows_services(n: int, response) -> None:  # type: ignore[no-untyped-def]
    provider = response.context["provider"]
    assert provider.user_id is not None
    assert provider.relationships.count() == n
    names = [st.name for st in provider.service_types.all()]
    assert len(names) == n
    assert ", ".join(names) in _html(response)


def shows_provider_detail(n: int, response) -> None:  # type: ignore[no-untyped-def]
    _shows_services(n, response)
    if response.context["membership"].is_admin:
        assert len(response.context["invitations"]) == min(n, 5)
    else:
        assert list(response.context["invitations"]) == []


def shows_own_provider_profile(n: int, response) -> None:  # type: ignore[no-untyped-def]
    _shows_services(n, response)
    assert response.context["form"] is not None


def shows_session(n: int, response) -> None:  # type: ignore[no-untyped-def]
    session = response.context["session"]
    assert session.relationship.sessions.count() == n
    assert len(response.context["history"]) == n
    assert f"Moved {n - 1}" in _html(response)
    html = _html(response)
    assert session.relationship.student.name in _html(response)
    assert session.relationship.provider.name in html


def shows_store(n: int, response) -> None:  # type: ignore[no-untyped-def]
    recent = list(response.context["recent"])
    assert len(recent) == min(n, 10)
    html = _html(response)
    for delivery in recent:
        assert delivery.outcome in html


def _options(response, field: str) -> int:  # type: ignore[no-untyped-def]
    select = re.search(rf'<select name="{field}".*?</select>', _html(response), re.S)
    assert select is not None, field
    return select.group(0).count("<option") - 1  # less the empty choice


def shows_map_choices(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["can_map"]
    assert _options(response, "package") == n


def shows_link_choices(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["can_link"]
    # n students to link to, searched as one types: none is written into the page.
    html = _html(response)
    assert 'name="student_search"' in html
    assert '<select name="student"' not in html


def shows_delivery(n: int, response) -> None:  # type: ignore[no-untyped-def]
    delivery = response.context["delivery"]
    assert len(delivery.headers) == n
    assert Delivery.objects.filter(store=delivery.store).count() == n
    html = _html(response)
    assert f"X-Header-{n - 1:02}: value {n - 1}" in html
    assert delivery.store.name in html


def shows_settings(n: int, response) -> None:  # type: ignore[no-untyped-def]
    organization = response.context["organization"]
    assert organization.service_types.count() == n
    assert organization.memberships.count() == n
    assert response.context["form"].instance == organization
    assert organization.name in _html(response)


def shows_email(n: int, response) -> None:  # type: ignore[no-untyped-def]
    delivery = response.context["delivery"]
    assert (delivery.to, delivery.attempts) == ("shown@alpha.example", n)
    assert delivery.dispatch.emails.count() == n
    html = _html(response)
    assert "session:shown" in html
    assert f"SMTP error after {n} attempts" in html


def _latest_session(t: Tenant) -> Session:
    return _sessions_relationship(t).sessions.order_by("-starts_at").first()


def _export(tenant: Tenant) -> ExportJob:
    return finished_job(tenant, tenant.admin, title="Export 00")


def shows_export(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert response.context["job"].title == "Export 00"


PAGES = {
    "exports:detail": Page(
        Role.ADMIN,
        org_path(lambda t: f"exports/{_export(t).public_id}/"),
        grow_exports,
        shows_export,
    ),
    "students:detail[admin]": Page(
        Role.ADMIN,
        org_path(lambda t: f"students/{t.student.public_id}/"),
        grow_student_detail,
        shows_student_detail,
    ),
    "students:detail[student]": Page(
        Role.STUDENT,
        org_path(lambda t: f"students/{t.student.public_id}/"),
        grow_student_detail,
        shows_student_detail,
    ),
    "students:me": Page(
        Role.STUDENT, org_path("students/me/"), grow_student_detail, shows_own_student_profile
    ),
    "providers:detail[admin]": Page(
        Role.ADMIN,
        org_path(lambda t: f"providers/{t.provider.public_id}/"),
        grow_provider_detail,
        shows_provider_detail,
    ),
    "providers:detail[provider]": Page(
        Role.PROVIDER,
        org_path(lambda t: f"providers/{t.provider.public_id}/"),
        grow_provider_detail,
        shows_provider_detail,
    ),
    "providers:me": Page(
        Role.PROVIDER, org_path("providers/me/"), grow_provider_detail, shows_own_provider_profile
    ),
    "sessions_app:detail[admin]": Page(
        Role.ADMIN,
        org_path(lambda t: f"sessions/{_latest_session(t).public_id}/"),
        grow_session_detail,
        shows_session,
    ),
    "sessions_app:detail[provider]": Page(
        Role.PROVIDER,
        org_path(lambda t: f"sessions/{_latest_session(t).public_id}/"),
        grow_session_detail,
        shows_session,
    ),
    "sessions_app:detail[student]": Page(
        Role.STUDENT,
        org_path(lambda t: f"sessions/{_latest_session(t).public_id}/"),
        grow_session_detail,
        shows_session,
    ),
    "woocommerce:store_detail": Page(
        Role.ADMIN,
        org_path(lambda t: f"shop/{_shop(t, 0).public_id}/"),
        grow_store_deliveries,
        shows_store,
    ),
    "woocommerce:error_detail[map]": Page(
        Role.ADMIN,
        org_path(lambda t: f"shop/errors/{_error(t, 'unknown_product').public_id}/"),
        grow_map_choices,
        shows_map_choices,
    ),
    "woocommerce:error_detail[link]": Page(
        Role.ADMIN,
        org_path(lambda t: f"shop/errors/{_error(t, 'customer_not_found').public_id}/"),
        grow_link_choices,
        shows_link_choices,
    ),
    "woocommerce:delivery_detail": Page(
        Role.ADMIN,
        org_path(lambda t: f"shop/deliveries/{_delivery(t).public_id}/"),
        grow_delivery_detail,
        shows_delivery,
    ),
    "notifications:email_detail": Page(
        Role.ADMIN,
        org_path(lambda t: f"notifications/emails/{_email(t).public_id}/"),
        grow_email_detail,
        shows_email,
    ),
    "org_settings": Page(Role.ADMIN, org_path("settings/"), grow_settings, shows_settings),
}

# Each count includes the request's own query (the user with its membership of the tenant, one
# statement: matchpal.tenancy.tenant_view; the session is read from the cache);
# a page then adds its record (1), the record's prefetched service types (1, providers) and the
# five latest invitations (1, admins only) or the store's ten latest deliveries, or the one
# choice list of an order error's form (1). The settings page adds nothing. The same number at
# 3 rows and at 30.
PINNED = {
    # The job (1).
    "exports:detail": 2,
    # The three latest booking suspensions, with who lifted them (1).
    "students:detail[admin]": 4,
    "students:detail[student]": 3,
    "students:me": 2,
    "providers:detail[admin]": 4,
    "providers:detail[provider]": 3,
    "providers:me": 3,
    # The session with its relationship's people (1), who logged it, wrote its note, sent its
    # report or resolved its dispute (1: the users, apart, so PostgreSQL plans no ten-table
    # join) and its history with who made each change (1), its messages with their authors (1)
    # and its check-in answers with their questions (1).
    "sessions_app:detail[admin]": 6,
    "sessions_app:detail[provider]": 6,
    "sessions_app:detail[student]": 6,
    "woocommerce:store_detail": 3,
    "woocommerce:error_detail[map]": 3,
    # The students to link to are searched, not listed (matchpal/search.py).
    "woocommerce:error_detail[link]": 2,
    "woocommerce:delivery_detail": 2,
    # The email with the event it tells (1).
    "notifications:email_detail": 2,
    "org_settings": 1,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_runs_the_pinned_queries_at_3_and_at_30_rows(
    name: str,
    tenant_a: Tenant,
    django_assert_num_queries,
    time_machine,
) -> None:
    time_machine.move_to(datetime(2026, 11, 18, 17, 0, tzinfo=UTC))
    assert_pinned_at_every_size(
        name, PAGES[name], PINNED[name], tenant_a, django_assert_num_queries
    )


# --- No detail page goes unpinned ---------------------------------------------------------------
#
# Every tenant URL named like a detail page ("students:detail", "woocommerce:store_detail") or
# an own profile ("providers:me"), and the settings page, is pinned here or in
# tests/test_query_counts.py (relationships:detail, a detail page with a paged list).

DETAIL_NAME = re.compile(r"(?:^|[:_])(?:detail|me)$")


def test_every_detail_page_is_pinned() -> None:
    names = {
        route.name for route in tenant_routes() if route.name and DETAIL_NAME.search(route.name)
    }
    assert {"students:detail", "providers:me", "woocommerce:delivery_detail"} <= names
    pinned = {name.split("[", 1)[0] for name in [*PAGES, *LIST_PINNED]}
    assert sorted((names | {"org_settings"}) - pinned) == [], (
        "detail pages without a pinned query count: add them to PAGES and PINNED"
    )
    assert set(PINNED) == set(PAGES)
