"""The students list's Free to book column, its sort, and the one low-balance definition."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from grants import services
from grants.selectors import low_balance_list, low_balance_students, with_balances
from students.models import Student
from tests.factories import (
    ProviderFactory,
    RelationshipFactory,
    SessionFactory,
    StudentFactory,
    make_grant,
)
from tests.support import Tenant


@pytest.fixture
def students(tenant_a: Tenant) -> dict[str, object]:
    """One student per case, under the default 2 h threshold."""
    org = tenant_a.organization
    Student.objects.filter(pk=tenant_a.student.pk).update(name="Alpha Student")

    def student(name: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return StudentFactory(organization=org, name=name, **kwargs)

    rich = student("Ada Rich")
    make_grant(student=rich, minutes=600)
    low = student("Ben Low")
    make_grant(student=low, minutes=60)
    by_session = student("Cy Sessions")
    make_grant(student=by_session, minutes=5, unit="sessions")
    both = student("Di Both")
    make_grant(student=both, minutes=300)
    make_grant(student=both, minutes=3, unit="sessions")
    # Plenty free to book, but the pairing has only 1 h 30 min reserved.
    thin = student("Ed Thin")
    make_grant(student=thin, minutes=600)
    pairing = RelationshipFactory(organization=org, student=thin, provider=tenant_a.provider)
    services.hold(actor=None, relationship=pairing, quantity=90)
    # Only a paired relationship counts: a proposal holding little is not flagged.
    proposal = student("Fay Proposed")
    make_grant(student=proposal, minutes=600)
    services.hold(
        actor=None,
        relationship=RelationshipFactory(
            organization=org,
            student=proposal,
            provider=ProviderFactory(organization=org),
            status="proposed",
        ),
        quantity=30,
    )
    expired = student("Gus Expired")
    services.grant_expire(actor=None, grant=make_grant(student=expired, minutes=600))
    student("Hal Nothing")
    inactive = student("Ivy Inactive", status="inactive")
    make_grant(student=inactive, minutes=30)
    return {"pairing": pairing}


def rows(response) -> list[tuple[str, int | None, int | None, bool]]:  # type: ignore[no-untyped-def]
    return [
        (s.name, s.free_minutes, s.free_sessions, bool(s.low_balance))
        for s in response.context["page"].object_list
        if s.name != "Alpha Student"  # the persona, with no hours
    ]


def test_the_list_shows_free_to_book_per_unit_and_the_low_balance_flag(
    admin_client_a: Client, students: dict[str, object]
) -> None:
    response = admin_client_a.get("/o/alpha/students/")

    assert rows(response) == [
        ("Ada Rich", 600, None, False),
        ("Ben Low", 60, None, True),
        ("Cy Sessions", None, 5, False),
        ("Di Both", 300, 3, False),
        ("Ed Thin", 510, None, True),
        ("Fay Proposed", 570, None, False),
        ("Gus Expired", 0, None, True),
        ("Hal Nothing", None, None, False),
        ("Ivy Inactive", 30, None, False),
    ]
    html = response.content.decode()
    cells = re.findall(r'data-testid="free-to-book">(.*?)</td>', html)
    assert "5 h · 3 sessions" in cells
    assert "—" in cells
    assert (
        '1 h <span class="badge text-bg-warning" data-testid="low-balance" '
        'title="Under 2 h free to book">Low</span>'
    ) in cells
    assert (
        '8 h 30 min <span class="badge text-bg-warning" data-testid="low-balance" '
        'title="A pairing has under 2 h reserved">Low</span>'
    ) in cells


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        (
            "free_minutes",
            [
                "Gus Expired",
                "Ivy Inactive",
                "Ben Low",
                "Di Both",
                "Ed Thin",
                "Fay Proposed",
                "Ada Rich",
                "Alpha Student",
                "Cy Sessions",
                "Hal Nothing",
            ],
        ),
        (
            "-free_minutes",
            [
                "Ada Rich",
                "Fay Proposed",
                "Ed Thin",
                "Di Both",
                "Ben Low",
                "Ivy Inactive",
                "Gus Expired",
                "Alpha Student",
                "Cy Sessions",
                "Hal Nothing",
            ],
        ),
        (
            "-free_sessions",
            [
                "Cy Sessions",
                "Di Both",
                "Ada Rich",
                "Alpha Student",
                "Ben Low",
                "Ed Thin",
                "Fay Proposed",
                "Gus Expired",
                "Hal Nothing",
                "Ivy Inactive",
            ],
        ),
    ],
)
def test_sorted_by_free_to_book_with_students_without_that_unit_last(
    admin_client_a: Client, students: dict[str, object], ordering: str, expected: list[str]
) -> None:
    response = admin_client_a.get(f"/o/alpha/students/?ordering={ordering}")

    assert [s.name for s in response.context["page"].object_list] == expected


def test_the_admin_home_flags_the_same_students_with_the_reason(
    admin_client_a: Client, students: dict[str, object]
) -> None:
    listed = admin_client_a.get("/o/alpha/students/")
    home = admin_client_a.get("/o/alpha/")

    flagged = {s.name for s in listed.context["page"].object_list if s.low_balance}
    assert [s.name for s in home.context["low_balance"]] == ["Gus Expired", "Ben Low", "Ed Thin"]
    assert set(flagged) == {s.name for s in home.context["low_balance"]}
    html = home.content.decode()
    assert "Ed Thin</a>: 8 h 30 min free to book · a pairing has 1 h 30 min reserved</li>" in html
    assert "Ben Low</a>: 1 h free to book</li>" in html


def test_a_pairing_that_used_its_reservation_down_is_flagged(
    admin_client_a: Client, tenant_a: Tenant
) -> None:
    student = StudentFactory(organization=tenant_a.organization, name="Jo Busy")
    make_grant(student=student, minutes=1200)
    pairing = RelationshipFactory(
        organization=tenant_a.organization, student=student, provider=tenant_a.provider
    )
    services.hold(actor=None, relationship=pairing, quantity=180)

    assert [s.name for s in admin_client_a.get("/o/alpha/").context["low_balance"]] == []

    session = SessionFactory(relationship=pairing, duration_minutes=90)
    services.consume(
        actor=None, relationship=pairing, session=session, quantity=90, at=session.starts_at
    )

    assert [s.name for s in admin_client_a.get("/o/alpha/").context["low_balance"]] == ["Jo Busy"]


@pytest.mark.sqlite
def test_the_admin_home_lists_the_first_flagged_students_in_the_list_s_order(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The admin home picks its students with grouped aggregates, not `with_balances` over
    every student: the same students in the same order, whatever the limit."""
    org = tenant_a.organization

    def student(name: str, minutes: int, **kwargs: object) -> Student:
        person = StudentFactory(organization=org, name=name)
        make_grant(student=person, minutes=minutes, **kwargs)
        return person

    for name, minutes in [("Low b", 30), ("Low a", 30), ("Low c", 119), ("Ok", 120)]:
        student(name, minutes)
    student("Not yet", 600, valid_from=timezone.now() + timedelta(days=2))
    for name, minutes in [("Thin rich", 1000), ("Thin", 600)]:
        pairing = RelationshipFactory(
            organization=org,
            student=student(name, minutes),
            provider=ProviderFactory(organization=org),
        )
        services.hold(actor=None, relationship=pairing, quantity=60)
    make_grant(student=StudentFactory(organization=org, status="inactive"), minutes=10)
    make_grant(student=StudentFactory(organization=tenant_b.organization), minutes=10)

    everyone = with_balances(Student.objects.filter(organization=org), organization=org)
    expected = [
        s.name
        for s in sorted(
            (s for s in everyone if s.low_balance), key=lambda s: (s.free_minutes, s.name, s.pk)
        )
    ]
    assert expected == ["Not yet", "Low a", "Low b", "Low c", "Thin", "Thin rich"]
    for limit in (1, 3, 5, 6, 10):
        listed = low_balance_students(organization=org, limit=limit)
        assert [s.name for s in listed] == expected[:limit]


def holds_subplan(plan: str) -> str:
    """The first line of the subplan that sums the holds, which `_first_flagged` evaluates
    only for a student not below the threshold."""
    lines = [line.strip() for line in plan.splitlines()]
    condition = next(line for line in lines if "by_free.free <" in line)
    number = re.search(r"SubPlan (\d+)", condition)
    assert number, condition
    start = lines.index(f"SubPlan {number.group(1)}")
    return lines[start + 1]


def test_the_holds_are_summed_only_when_too_few_students_are_below_the_threshold(
    tenant_a: Tenant,
) -> None:
    """Enough students below the threshold decide the admin home's list alone: a student
    flagged only by a low reserve has more free and would sort after them."""
    org = tenant_a.organization
    for name, minutes in [("Low a", 30), ("Low b", 60)]:
        make_grant(student=StudentFactory(organization=org, name=name), minutes=minutes)
    thin = StudentFactory(organization=org, name="Thin")
    make_grant(student=thin, minutes=600)
    pairing = RelationshipFactory(organization=org, student=thin, provider=tenant_a.provider)
    services.hold(actor=None, relationship=pairing, quantity=60)

    two = low_balance_list(organization=org, limit=2)
    assert [s.name for s in two] == ["Low a", "Low b"]
    assert "never executed" in holds_subplan(two.explain(analyze=True))

    three = low_balance_list(organization=org, limit=3)
    assert [s.name for s in three] == ["Low a", "Low b", "Thin"]
    assert "never executed" not in holds_subplan(three.explain(analyze=True))
