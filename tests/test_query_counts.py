"""Pinned query counts of the list pages and the role home pages (DESIGN §7).

Each page is requested with 3 rows of what it lists, then with 30 (more than a page of
`MATCHPAL_PAGE_SIZE`), and must run exactly the pinned number of queries both times: a count
that grows with the rows is an N+1 to fix in the page's selector, not a number to raise here.
The pinned numbers include the request's own overhead (the user with its membership, one
statement: the session comes from the cache). Which pages must be here is checked at the
bottom: every URL named like a list and every tenant page that paginates.
"""

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.paginator import Page as DjangoPage
from django.template import Context
from django.utils import timezone

from grants.services import hold, package_save
from integrations.woocommerce.models import Delivery, Order, OrderError, Store
from matchpal.models import Invitation, Membership, Notification, Role, ServiceType
from notifications.models import Dispatch, EmailDelivery
from providers.models import AvailabilityException, AvailabilityWindow, ProviderService
from relationships.models import Relationship
from sessions_app.services import session_log
from students.models import Student
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    ProviderFactory,
    RelationshipFactory,
    SessionFactory,
    StudentFactory,
    UserFactory,
    make_grant,
)
from tests.isolation import (
    KWARGS,
    POSTS,
    all_routes,
    persona_client,
    registry_problems,
    tenant_routes,
)
from tests.query_pins import Page, assert_pinned_at_every_size, org_path
from tests.reports.export_jobs.support import finished_job
from tests.support import Tenant, member, whole_hours_ago

# --- Growing what each page lists to exactly n rows -------------------------------------------


def grow_students(tenant: Tenant, n: int) -> None:
    org = tenant.organization
    for i in range(Student.objects.filter(organization=org).count(), n):
        # Every other student can sign in, so the "Login" column has both kinds.
        user = UserFactory(email=f"s{i}@alpha.example") if i % 2 else None
        StudentFactory(organization=org, user=user)


# The warning signs' lists: n pairings showing the sign, each of a new student and provider.
SIGN_SESSIONS: dict[str, list[tuple[float, int, str]]] = {
    # (days ago, minutes, status) of each pairing's sessions
    "long_gap": [(40, 60, "completed")],
    "short": [
        (20, 60, "completed"),
        (13, 60, "completed"),
        (6, 60, "completed"),
        (2, 10, "completed"),
    ],
    "irregular": [(d, 60, "completed") for d in (60, 59, 58, 40, 39, 2)],
    "idle": [],
    "repeated_cancellations": [(d, 60, "cancelled") for d in (3, 2, 1)],
}


def grow_warning(sign: str):  # type: ignore[no-untyped-def]
    def grow(tenant: Tenant, n: int) -> None:
        org, now = tenant.organization, timezone.now()
        for i in range(Student.objects.filter(organization=org).count() - 1, n):
            pairing = RelationshipFactory(
                organization=org,
                student=StudentFactory(organization=org, name=f"Student {i:03}"),
                paired_at=now - timedelta(days=90),
            )
            for days, minutes, status in SIGN_SESSIONS[sign]:
                SessionFactory(
                    relationship=pairing,
                    starts_at=now - timedelta(days=days),
                    duration_minutes=minutes,
                    status=status,
                )

    return grow


def grow_students_with_balances(tenant: Tenant, n: int) -> None:
    """n students, each with 3 h on account and a pairing holding 1 h (under the threshold);
    every other one also with 4 sessions."""
    org = tenant.organization
    for i, student in enumerate(Student.objects.filter(organization=org, grants=None)):
        make_grant(student=student, minutes=180)
        if i % 2:
            make_grant(student=student, minutes=4, unit="sessions")
        pairing = RelationshipFactory(organization=org, student=student, provider=tenant.provider)
        hold(actor=None, relationship=pairing, quantity=60)
    for i in range(Student.objects.filter(organization=org).count(), n):
        student = StudentFactory(organization=org)
        make_grant(student=student, minutes=180 + i)
        if i % 2:
            make_grant(student=student, minutes=4, unit="sessions")
        pairing = RelationshipFactory(organization=org, student=student, provider=tenant.provider)
        hold(actor=None, relationship=pairing, quantity=60)


def grow_providers(tenant: Tenant, n: int) -> None:
    org = tenant.organization
    for i in range(org.providers.count(), n):
        user = UserFactory(email=f"p{i}@alpha.example") if i % 2 else None
        ProviderFactory(organization=org, user=user, services=["Tutoring", "Advising"])


def grow_members(tenant: Tenant, n: int) -> None:
    org = tenant.organization
    roles = [Role.PROVIDER, Role.STUDENT, Role.ADMIN]
    for i in range(Membership.objects.filter(organization=org).count(), n):
        MembershipFactory(
            organization=org, role=roles[i % 3], user=UserFactory(email=f"m{i}@alpha.example")
        )


def grow_invitations(tenant: Tenant, n: int) -> None:
    org = tenant.organization
    for i in range(Invitation.objects.filter(organization=org).count(), n):
        Invitation.objects.create(
            organization=org,
            email=f"invitee{i}@alpha.example",
            role=Role.STUDENT,
            invited_by=tenant.admin,
        )


def grow_members_page(tenant: Tenant, n: int) -> None:
    grow_members(tenant, n)
    grow_invitations(tenant, n)


def grow_admin_home(tenant: Tenant, n: int) -> None:
    """n students (each with 1 h on account, expiring in a week: all under the low-balance
    threshold; and a pairing whose last session, 25 days ago, was very short: a long gap and a
    short session each), providers, members and pending invitations."""
    grow_students(tenant, n)
    org, now = tenant.organization, timezone.now()
    for student in Student.objects.filter(organization=org, grants=None):
        make_grant(student=student, minutes=60, expires_at=now + timedelta(days=7))
    for student in Student.objects.filter(organization=org, relationships=None):
        pairing = RelationshipFactory(organization=org, student=student, provider=tenant.provider)
        SessionFactory(relationship=pairing, starts_at=now - timedelta(days=40))
        SessionFactory(relationship=pairing, starts_at=now - timedelta(days=25), duration_minutes=3)
    grow_providers(tenant, n)
    grow_members(tenant, n)
    grow_invitations(tenant, n)


def _student_with_hours(tenant: Tenant, minutes: int, service_type: str = "Tutoring") -> Student:
    student = StudentFactory(organization=tenant.organization)
    make_grant(
        student=student,
        minutes=minutes,
        service_types=(service_type,),
        valid_from=timezone.now() - timedelta(days=30),
    )
    return student


def grow_provider_home(tenant: Tenant, n: int) -> None:
    """The provider persona has n proposals awaiting an answer and n paired students, each
    with a session delivered an hour ago and one scheduled two hours ago, still to log."""
    org, provider = tenant.organization, tenant.provider
    tutoring = ServiceType.objects.get(organization=org, name="Tutoring")
    for _ in range(provider.relationships.filter(status="proposed").count(), n):
        proposal = RelationshipFactory(
            organization=org,
            provider=provider,
            status="proposed",
            student=_student_with_hours(tenant, 120),
        )
        hold(actor=None, relationship=proposal, quantity=30)
    for _ in range(provider.relationships.filter(status="paired").count(), n):
        paired = RelationshipFactory(
            organization=org,
            provider=provider,
            service_type=tutoring,
            student=_student_with_hours(tenant, 240),
        )
        hold(actor=None, relationship=paired, quantity=180)
        # One provider's live sessions never overlap: each pairing's at its own hour.
        k = provider.relationships.filter(status="paired").count()
        for starts_at, scheduled in ((whole_hours_ago(1), False), (whole_hours_ago(1 + k), True)):
            session_log(
                membership=member(tenant.admin, tenant.organization),
                relationship=paired,
                starts_at=starts_at,
                duration=60,
                scheduled=scheduled,
            )
        # A booking request and a confirmed booking ahead (the home lists both, requests first).
        for ahead, status in ((100, "pending"), (200, "scheduled")):
            SessionFactory(
                relationship=paired, starts_at=whole_hours_ago(-ahead - k), status=status
            )


def grow_student_home(tenant: Tenant, n: int) -> None:
    """The student persona has n grants of 2 h and n relationships each holding 1 h, of which
    a 30-minute session an hour ago used half."""
    org, student = tenant.organization, tenant.student
    for i in range(student.grants.count(), n):
        name = ["Tutoring", "Advising"][i % 2]
        make_grant(
            student=student,
            minutes=120,
            service_types=(name,),
            valid_from=timezone.now() - timedelta(days=30),
        )
        relationship = RelationshipFactory(
            organization=org,
            student=student,
            provider=ProviderFactory(organization=org, services=[name]),
            service_type=ServiceType.objects.get(organization=org, name=name),
        )
        hold(actor=None, relationship=relationship, quantity=60)
        session_log(
            membership=member(tenant.admin, tenant.organization),
            relationship=relationship,
            starts_at=whole_hours_ago(1),
            duration=30,
        )


def _sessions_relationship(tenant: Tenant) -> Relationship:
    """The personas' tutoring relationship, holding 30 h: room for every session below."""
    org = tenant.organization
    relationship = Relationship.objects.filter(
        organization=org, student=tenant.student, provider=tenant.provider
    ).first()
    if relationship is None:
        make_grant(
            student=tenant.student, minutes=1800, valid_from=timezone.now() - timedelta(days=30)
        )
        relationship = RelationshipFactory(
            organization=org, student=tenant.student, provider=tenant.provider
        )
        hold(actor=None, relationship=relationship, quantity=1800)
    return relationship


def grow_relationship_sessions(tenant: Tenant, n: int) -> None:
    """n half-hour sessions of the personas' relationship, one an hour over the past hours."""
    relationship = _sessions_relationship(tenant)
    for i in range(relationship.sessions.count(), n):
        session_log(
            membership=member(tenant.admin, tenant.organization),
            relationship=relationship,
            starts_at=whole_hours_ago(i + 1),
            duration=30,
        )


def grow_relationships(tenant: Tenant, n: int) -> None:
    """n relationships, each of its own student and provider, each holding 1 h."""
    org = tenant.organization
    for _ in range(org.relationships.count(), n):
        relationship = RelationshipFactory(
            organization=org,
            student=_student_with_hours(tenant, 120),
            provider=ProviderFactory(organization=org),
        )
        hold(actor=None, relationship=relationship, quantity=60)


def grow_sessions(tenant: Tenant, n: int) -> None:
    """n relationships with a 1-hour session each, delivered an hour ago."""
    grow_relationships(tenant, n)
    for relationship in tenant.organization.relationships.filter(sessions=None):
        session_log(
            membership=member(tenant.admin, tenant.organization),
            relationship=relationship,
            starts_at=whole_hours_ago(1),
            duration=60,
        )


def grow_packages(tenant: Tenant, n: int) -> None:
    """n packages covering both service types, each sold by a product id and a SKU."""
    org = tenant.organization
    both = list(org.service_types.all())
    for i in range(org.packages.count(), n):
        package_save(
            actor=tenant.admin,
            organization=org,
            name=f"Package {i:02}",
            quantity=600,
            unit="minutes",
            service_types=both,
            validity_days=365,
            price=Decimal("300.00"),
            shop_keys=[("product", str(100 + i)), ("sku", f"SKU-{i}")],
        )


def _shop(tenant: Tenant, i: int) -> Store:
    org = tenant.organization
    return Store.objects.get_or_create(
        organization=org,
        name=f"Shop {i:02}",
        defaults={
            "store_url": f"https://shop{i}.alpha.example/",
            "consumer_key": "ck" if i % 2 else "",
            "consumer_secret": "cs" if i % 2 else "",
        },
    )[0]


def grow_stores(tenant: Tenant, n: int) -> None:
    """n shops (every other one with API keys), each with an open order error."""
    for i in range(n):
        store = _shop(tenant, i)
        OrderError.objects.get_or_create(
            organization=tenant.organization,
            store=store,
            kind="unknown_product",
            subject="line:1",
            defaults={"message": "Product 1 is not mapped."},
        )


def grow_order_errors(tenant: Tenant, n: int) -> None:
    """n open errors over three shops; every other one is about a known order."""
    org = tenant.organization
    for i in range(OrderError.objects.filter(organization=org).count(), n):
        store = _shop(tenant, i % 3)
        order = (
            Order.objects.create(
                organization=org, store=store, order_id=1000 + i, number=str(1000 + i)
            )
            if i % 2
            else None
        )
        OrderError.objects.create(
            organization=org,
            store=store,
            order=order,
            kind="customer_not_found",
            subject=f"order:{1000 + i}",
            message=f"No student for order {1000 + i}.",
        )


def grow_deliveries(tenant: Tenant, n: int) -> None:
    """n deliveries over three shops."""
    org = tenant.organization
    for i in range(Delivery.objects.filter(organization=org).count(), n):
        Delivery.objects.create(
            organization=org,
            store=_shop(tenant, i % 3),
            topic="order.updated",
            delivery_id=str(i),
            body=b"{}",
            signature_valid=True,
            status="processed",
            outcome="Granted",
        )


def grow_service_types(tenant: Tenant, n: int) -> None:
    """n service types (Tutoring and Advising included), each added one offered by a provider."""
    org = tenant.organization
    for i in range(org.service_types.count(), n):
        ServiceType.objects.create(organization=org, name=f"Service {i:02}")
        ProviderFactory(organization=org, services=[f"Service {i:02}"])


def grow_organizations(tenant: Tenant, n: int) -> None:
    """The admin persona is a member of n organizations."""
    admin = tenant.admin
    for i in range(admin.memberships.count(), n):
        MembershipFactory(
            user=admin,
            organization=OrganizationFactory(),
            role=[Role.ADMIN, Role.PROVIDER, Role.STUDENT][i % 3],
        )


# --- What each page must show at n rows ---------------------------------------------------------


def shows_a_page_of(n: int, response) -> None:  # type: ignore[no-untyped-def]
    page = response.context["page"]
    assert page.paginator.count == n
    assert len(page.object_list) == min(n, settings.MATCHPAL_PAGE_SIZE)


def shows_students_by_balance(n: int, response) -> None:  # type: ignore[no-untyped-def]
    shows_a_page_of(n, response)
    students = response.context["page"].object_list
    free = [s.free_minutes for s in students]
    assert free == sorted(free, reverse=True)
    assert all(s.low_balance and s.lowest_reserve == 60 for s in students)
    assert response.content.decode().count('data-testid="low-balance"') == len(students)


def shows_providers(n: int, response) -> None:  # type: ignore[no-untyped-def]
    shows_a_page_of(n, response)
    # Every service type of every provider on the page is shown.
    shown = [p.pk for p in response.context["page"].object_list]
    assert response.content.decode().count('<span class="badge text-bg-info me-1">') == (
        ProviderService.objects.filter(provider__in=shown).count()
    )


def shows_members(n: int, response) -> None:  # type: ignore[no-untyped-def]
    # Two lists, each a page of its own.
    for name in ("members", "invitations"):
        page = response.context[name]
        assert page.paginator.count == n, name
        assert len(page.object_list) == min(n, settings.MATCHPAL_PAGE_SIZE), name


def shows_admin_figures(n: int, response) -> None:  # type: ignore[no-untyped-def]
    context = response.context
    assert len(context["low_balance"]) == min(n, 10)
    # The personas can sign in, then every odd-numbered addition: (n - 1) // 2 cannot.
    assert context["students"] == {"active": n, "inactive": 0, "without_login": (n - 1) // 2}
    assert context["providers"] == {"active": n, "without_login": (n - 1) // 2}
    assert sum(context["members"].values()) == n
    assert context["pending_invitations"] == n
    assert len(context["recent_students"]) == min(n, 5)
    # Each student's grant expires in a week: a credit each, the newest first.
    assert (context["expiring_count"], len(context["expiring"])) == (n, min(n, 5))
    assert len(context["recent_entries"]) == min(n, 8)
    assert {e.kind for e in context["recent_entries"]} <= {"credit"}
    assert (context["warnings"]["long_gap"], context["warnings"]["short"]) == (n, n)
    assert [(h.service_type, h.purchased) for h in context["center_hours"]] == [
        ("Tutoring", 60 * n)
    ]
    assert sum(p.sessions for p in context["monthly"].periods) == 2 * n


def shows_provider_home(n: int, response) -> None:  # type: ignore[no-untyped-def]
    context = response.context
    assert context["provider"].user_id == response.wsgi_request.user.pk
    assert len(context["proposals"]) == n
    assert len(context["paired"]) == n
    assert len(context["to_log"]) == min(n, 20)
    assert len(context["requests"]) == min(n, 20)
    assert len(context["upcoming"]) == min(n, 10)
    assert (context["week_minutes"], context["month_minutes"]) == (60 * n, 60 * n)


def shows_student(n: int, response) -> None:  # type: ignore[no-untyped-def]
    context = response.context
    # n grants of 2 h, alternately tutoring and advising; per grant 1 h reserved, 30 min used.
    tutoring, advising = (n + 1) // 2, n // 2
    balances = [
        (b.service_type.name, b.remaining, b.available, b.held, b.used) for b in context["balances"]
    ]
    assert balances == [
        ("Advising", 90 * advising, 60 * advising, 30 * advising, 30 * advising),
        ("Tutoring", 90 * tutoring, 60 * tutoring, 30 * tutoring, 30 * tutoring),
    ]
    assert len(context["holds"]) == n
    assert len(context["sessions"]) == min(n, 20)
    assert len(context["history"]) == min(3 * n, 10)  # credit, hold and consume per grant


def shows_stores(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert len(response.context["stores"]) == n
    assert response.context["open_errors"] == n


def shows_service_types(n: int, response) -> None:  # type: ignore[no-untyped-def]
    shows_a_page_of(n, response)
    # Tutoring is offered by the provider persona, each added type by a provider of its own.
    counts = {st.name: st.provider_count for st in response.context["page"].object_list}
    assert counts == {name: 0 if name == "Advising" else 1 for name in counts}


def shows_hours(n: int, response) -> None:  # type: ignore[no-untyped-def]
    """The student persona's hours page (theirs or the admin's view of it): n grants, n holds
    and the ledger history, a page of the 3 entries per grant (credit, hold, consume)."""
    context = response.context
    assert context["student"].user_id is not None
    assert len(context["grants"]) == n
    assert len(context["holds"]) == n
    history = context["history"]
    assert history.paginator.count == 3 * n
    assert len(history.object_list) == min(3 * n, settings.MATCHPAL_PAGE_SIZE)


def shows_relationship_sessions(n: int, response) -> None:  # type: ignore[no-untyped-def]
    sessions = response.context["sessions"]
    assert sessions.paginator.count == n
    assert len(sessions.object_list) == min(n, settings.MATCHPAL_PAGE_SIZE)


def grow_notices(tenant: Tenant, n: int) -> None:
    """The admin has n notices, every other one unread."""
    org = tenant.organization
    for i in range(Notification.objects.filter(organization=org, user=tenant.admin).count(), n):
        Notification.objects.create(
            organization=org,
            user=tenant.admin,
            kind="hours_low",
            text=f"Notice {i}",
            link=f"/o/{org.slug}/",
            read_at=None if i % 2 else timezone.now(),
        )


def grow_emails(tenant: Tenant, n: int) -> None:
    """n logged emails, of one event each."""
    org = tenant.organization
    for i in range(EmailDelivery.objects.filter(organization=org).count(), n):
        dispatch = Dispatch.objects.create(organization=org, kind="hours_low", object_key=str(i))
        EmailDelivery.objects.create(
            organization=org,
            dispatch=dispatch,
            kind="hours_low",
            to=f"person{i}@alpha.example",
            subject=f"Email {i}",
            text="x",
            html="x",
        )


def grow_exports(tenant: Tenant, n: int) -> None:
    """The admin has n ready exports."""
    for i in range(n):
        finished_job(tenant, tenant.admin, title=f"Export {i:02}")


def grow_bookable(tenant: Tenant, n: int) -> None:
    """n tutors paired with the student persona, each open Fridays 09:00–17:00 with a
    session booked at 10:00 (at a minute of its own: no two providers' hours alike)."""
    org = tenant.organization
    tutoring = ServiceType.objects.get(organization=org, name="Tutoring")
    if not tenant.student.grants.exists():
        make_grant(
            student=tenant.student, minutes=60 * 200, valid_from=timezone.now() - timedelta(days=30)
        )
    have = Relationship.objects.filter(student=tenant.student, status="paired").count()
    friday = timezone.localdate(timezone=org.tz) + timedelta(days=2)
    for k in range(have, n):
        provider = ProviderFactory(organization=org)
        paired = RelationshipFactory(
            organization=org, provider=provider, student=tenant.student, service_type=tutoring
        )
        hold(actor=None, relationship=paired, quantity=120)
        AvailabilityWindow.objects.create(
            organization=org, provider=provider, weekday=4, start=time(9), end=time(17)
        )
        SessionFactory(
            relationship=paired,
            starts_at=datetime.combine(friday, time(10, k), tzinfo=org.tz),
            status="scheduled",
        )


def shows_bookable(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert len(response.context["relationships"]) == n
    friday = response.context["days"][4][1]
    assert friday
    assert all(len(slot.offers) <= n for slot in friday)


def bookable_time(tenant: Tenant) -> str:
    """`book/confirm/?at=` the Friday's 09:00, when every tutor of `grow_bookable` is free."""
    org = tenant.organization
    friday = timezone.localdate(timezone=org.tz) + timedelta(days=2)
    at = datetime.combine(friday, time(9), tzinfo=org.tz).isoformat()
    return f"book/confirm/?{urlencode({'at': at})}"


def shows_offers(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert len(response.context["offers"]) == n


def shows_center_week(n: int, response) -> None:  # type: ignore[no-untyped-def]
    friday = response.context["week"][4]
    assert max(hour.open for hour in friday.hours) == n


def grow_own_hours(tenant: Tenant, n: int) -> None:
    """n weekly windows of the provider persona (an hour each) and n days off ahead."""
    org = tenant.organization
    for k in range(tenant.provider.availability_windows.count(), n):
        AvailabilityWindow.objects.create(
            organization=org,
            provider=tenant.provider,
            weekday=k % 7,
            start=time(k // 7),
            end=time(k // 7, 30),
        )
        AvailabilityException.objects.create(
            organization=org,
            provider=tenant.provider,
            kind="off",
            date=timezone.localdate() + timedelta(days=k + 1),
        )


def shows_own_hours(n: int, response) -> None:  # type: ignore[no-untyped-def]
    assert len(response.context["windows"]) == n
    assert len(response.context["exceptions"]) == n


PAGES = {
    "notifications:inbox": Page(Role.ADMIN, org_path("inbox/"), grow_notices, shows_a_page_of),
    "notifications:email_list": Page(
        Role.ADMIN, org_path("notifications/emails/"), grow_emails, shows_a_page_of
    ),
    "exports:list": Page(Role.ADMIN, org_path("exports/"), grow_exports, shows_a_page_of),
    "students:list": Page(Role.ADMIN, org_path("students/"), grow_students, shows_a_page_of),
    "students:list[by balance]": Page(
        Role.ADMIN,
        org_path("students/?ordering=-free_minutes"),
        grow_students_with_balances,
        shows_students_by_balance,
    ),
    "providers:list": Page(Role.ADMIN, org_path("providers/"), grow_providers, shows_providers),
    "members": Page(Role.ADMIN, org_path("members/"), grow_members_page, shows_members),
    "org_home[admin]": Page(Role.ADMIN, org_path(""), grow_admin_home, shows_admin_figures),
    **{
        f"warning_{sign}": Page(
            Role.ADMIN,
            org_path(f"warnings/{sign.replace('_', '-')}/"),
            grow_warning(sign),
            shows_a_page_of,
        )
        for sign in SIGN_SESSIONS
    },
    "org_home[provider]": Page(
        Role.PROVIDER, org_path(""), grow_provider_home, shows_provider_home
    ),
    "org_home[student]": Page(Role.STUDENT, org_path(""), grow_student_home, shows_student),
    "service_type_list": Page(
        Role.ADMIN, org_path("service-types/"), grow_service_types, shows_service_types
    ),
    "organization_list": Page(Role.ADMIN, lambda t: "/orgs/", grow_organizations, shows_a_page_of),
    "grants:student_hours": Page(
        Role.ADMIN,
        lambda t: f"/o/{t.organization.slug}/students/{t.student.public_id}/hours/",
        grow_student_home,
        shows_hours,
    ),
    "grants:my_hours": Page(Role.STUDENT, org_path("my/hours/"), grow_student_home, shows_hours),
    "relationships:detail": Page(
        Role.ADMIN,
        lambda t: f"/o/{t.organization.slug}/relationships/{_sessions_relationship(t).public_id}/",
        grow_relationship_sessions,
        shows_relationship_sessions,
    ),
    "relationships:list": Page(
        Role.ADMIN, org_path("relationships/"), grow_relationships, shows_a_page_of
    ),
    "sessions_app:list": Page(Role.ADMIN, org_path("sessions/"), grow_sessions, shows_a_page_of),
    "grants:package_list": Page(Role.ADMIN, org_path("packages/"), grow_packages, shows_a_page_of),
    "woocommerce:store_list": Page(Role.ADMIN, org_path("shop/"), grow_stores, shows_stores),
    "woocommerce:error_list": Page(
        Role.ADMIN, org_path("shop/errors/"), grow_order_errors, shows_a_page_of
    ),
    "woocommerce:delivery_list": Page(
        Role.ADMIN, org_path("shop/deliveries/"), grow_deliveries, shows_a_page_of
    ),
    # Scheduling (docs/scheduling.md): the week's free slots of every provider the student is
    # paired with, the center's week, a provider's own hours.
    "sessions_app:book": Page(Role.STUDENT, org_path("book/"), grow_bookable, shows_bookable),
    # The second step: who of them is free at the time picked, with their profiles.
    "sessions_app:book_confirm": Page(
        Role.STUDENT, org_path(bookable_time), grow_bookable, shows_offers
    ),
    "sessions_app:center_week": Page(
        Role.ADMIN, org_path("availability/"), grow_bookable, shows_center_week
    ),
    "providers:availability": Page(
        Role.PROVIDER,
        org_path(lambda t: f"providers/{t.provider.public_id}/availability/"),
        grow_own_hours,
        shows_own_hours,
    ),
}

# Each count includes the request's own query (the user with its membership of the tenant, one
# statement: matchpal.tenancy.tenant_view; the session is read from the cache;
# organization_list has no tenant, so the user alone, then its own queries). A paginated list
# adds 2 (its count and its rows); the members page has two. The same number at 3 rows and at
# 30.
PINNED = {
    # The bell's unread count rides on the membership's query: no query of its own.
    "notifications:inbox": 3,
    "notifications:email_list": 3,
    "exports:list": 3,
    "students:list": 3,
    "students:list[by balance]": 3,
    "providers:list": 5,
    "members": 5,
    "service_type_list": 3,
    # The head counts in one statement, the attention counts in another, both trends in one
    # (21 before), and first the version of the center's data (reports/home_cache.py): in a
    # test's transaction the figures are always computed, so 15 (16 before the user and the
    # membership were one statement); a view served from the cache runs 2
    # (tests/reports/test_admin_home_cache.py). Then "Needs attention"'s three statements in
    # one round trip (compiled), and its count of sessions to log apart, a part of its own
    # (reports/home_cache.py): 14.
    "org_home[admin]": 14,
    # The count and the page asked for in one round trip (`CompiledByIds`), after the user
    # and membership: 2 (3 before, and 2 for an empty list).
    **{f"warning_{sign}": 2 for sign in SIGN_SESSIONS},
    # The provider's record is read without its service types (9, was 10: the home shows none),
    # and the user with its membership in one statement (8); the six lists (proposals,
    # students, to log, requests, coming up, earnings) are sent in one round trip
    # (`matchpal.compiled.together`): the user and membership, the provider, the lists.
    "org_home[provider]": 3,
    # The student's record, then the grants and their service types, a page of the history,
    # the holds, the shown sessions and what those before them used in one round trip
    # (reports.selectors.student_home), after the user and membership: 3 (8 before).
    "org_home[student]": 3,
    "organization_list": 3,
    # The grants and their service types, the holds, the history's capped count and the page
    # asked for in one round trip (grants.selectors.hours_reads), after the user and
    # membership and the student's record: 3 (6 before, 7 before that).
    "grants:student_hours": 3,
    "grants:my_hours": 3,
    "relationships:detail": 5,
    # No query for the student and provider filters: they are search fields, not selects.
    "relationships:list": 4,
    "sessions_app:list": 3,
    "grants:package_list": 5,
    "woocommerce:store_list": 3,
    "woocommerce:error_list": 3,
    "woocommerce:delivery_list": 3,
    # The student's record, their pairings, the windows, the exceptions, the providers' busy
    # times, the student's own.
    "sessions_app:book": 7,
    # The same reads for the one day of the time picked.
    "sessions_app:book_confirm": 7,
    # The versions of the center's data and hours (in a test's transaction, which has written
    # rows, they do not decide), a fingerprint of the week's rows, then, on a cache miss (as
    # here: the rows grow between sizes), one statement: the active providers' hours and
    # exceptions of the week and its live sessions, in local minutes
    # (sessions_app.slots.center_week): 4 (3 before the versions). Warm, 2: the versions.
    "sessions_app:center_week": 4,
    # The provider, their windows, the week's exceptions, those ahead.
    "providers:availability": 6,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_runs_the_pinned_queries_at_3_and_at_30_rows(
    name: str,
    tenant_a: Tenant,
    django_assert_num_queries,
    time_machine,
) -> None:
    # A Wednesday noon in the organization's time zone: "this week" and "this month" hold
    # every session of the past hours.
    time_machine.move_to(datetime(2026, 11, 18, 17, 0, tzinfo=UTC))
    assert_pinned_at_every_size(
        name, PAGES[name], PINNED[name], tenant_a, django_assert_num_queries
    )


# --- No list page goes unpinned -----------------------------------------------------------------
#
# Two rules, either of which puts a page in PAGES (and its count in PINNED):
# - by name: every routed URL whose name ends in `list` ("students:list", "grants:package_list",
#   "organization_list");
# - by behaviour: every tenant page that paginates, i.e. whose context holds a Paginator page
#   when the role that uses it GETs it (so a list page named otherwise, like "members", is
#   caught too).
# without exception: a detail page with a paged list of its own (a relationship's sessions) is
# pinned like any list.

LIST_NAME = re.compile(r"(?:^|[:_])list$")


def _pinned() -> set[str]:
    return {name.split("[", 1)[0] for name in PAGES}


def test_every_url_named_like_a_list_is_pinned() -> None:
    named_lists = {
        route.name
        for route in all_routes()
        # Django's own admin is not ours to pin.
        if route.name and LIST_NAME.search(route.name) and not route.name.startswith("admin:")
    }
    assert {"students:list", "organization_list"} <= named_lists

    assert sorted(named_lists - _pinned()) == [], (
        "list pages without a pinned query count: add them to PAGES and PINNED"
    )
    assert set(PINNED) == set(PAGES)


def test_every_tenant_page_that_paginates_is_pinned(tenant_a: Tenant) -> None:
    problems = registry_problems(tenant_routes())
    if problems:
        pytest.fail("\n".join(problems))
    paginating = set()
    for route in tenant_routes():
        spec = POSTS.spec_for(route.name)
        if spec.post_only:
            continue
        path = route.path(tenant_a.organization.slug, KWARGS.fill(route, tenant_a))
        response = persona_client(tenant_a, spec.by).get(path)
        assert response.status_code == 200, (route.name, response.status_code)
        # One template rendered gives one Context (an htmx fragment), several a ContextList.
        contexts = response.context or []
        if isinstance(contexts, Context):
            contexts = [contexts]
        values = [v for context in contexts for v in context.flatten().values()]
        if any(isinstance(value, DjangoPage) for value in values):
            paginating.add(route.name)
    assert {"students:list", "members"} <= paginating

    unpinned = paginating - _pinned()
    assert sorted(unpinned) == [], "paginated pages without a pinned query count"
