"""`manage.py generate_scale_data`, run tiny: the rows it copies keep every rule the services and
the database keep, the ledger reconciles, and the large center's people can sign in and work."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from demo.scale import (
    SCALE_PASSWORD,
    SCALE_SLUG,
    Options,
    Plan,
    admin_email,
    centers,
    load,
    provider_email,
    student_email,
)
from grants.models import Grant, GrantStatus
from matchpal.models import Organization
from relationships.models import HOLDING_STATUSES, Relationship, RelationshipStatus
from reports import rollups
from sessions_app.models import Session, SessionStatus
from students.models import Student, StudentStatus

pytestmark = pytest.mark.django_db

TINY = {"students": 30, "providers": 5, "sessions": 500, "tenants": 2, "seed": 1}


@pytest.fixture
def generated(monkeypatch: pytest.MonkeyPatch) -> str:
    # Slices of 200 rows, so the tiny run copies its sessions and ledger in several statements
    # as the full one does.
    monkeypatch.setattr(load, "COPY_SLICE", 200)
    out = StringIO()
    call_command("generate_scale_data", **TINY, stdout=out)
    return out.getvalue()


def rows(query: str) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def test_it_prints_each_step_and_the_logins(generated: str) -> None:
    assert "copy sessions_app_session (" in generated
    assert "      200 rows" in generated
    assert "      400 rows" in generated
    assert "reconcile the ledger" in generated
    assert admin_email(SCALE_SLUG) in generated
    assert f"Password for every login: {SCALE_PASSWORD}" in generated
    assert Organization.objects.count() == 1 + TINY["tenants"]


def test_the_ledger_reconciles(generated: str) -> None:
    out = StringIO()

    call_command("reconcile_grants", stdout=out)

    assert out.getvalue() == "Balances match the ledger.\n"


def test_the_large_center_has_the_sessions_asked_for(generated: str) -> None:
    org = Organization.objects.get(slug=SCALE_SLUG)

    assert Session.objects.filter(organization=org).count() == TINY["sessions"]
    assert org.students.count() == TINY["students"]
    assert org.providers.count() == TINY["providers"]


def test_every_state_is_represented(generated: str) -> None:
    org = Organization.objects.get(slug=SCALE_SLUG)
    sessions = Session.objects.filter(organization=org)
    now = datetime.now(UTC)

    assert set(sessions.values_list("status", flat=True)) == set(SessionStatus.values)
    assert sessions.filter(status=SessionStatus.SCHEDULED, starts_at__gt=now).exists()
    assert sessions.filter(status=SessionStatus.COMPLETED).count() > TINY["sessions"] * 0.7
    statuses = set(Relationship.objects.filter(organization=org).values_list("status", flat=True))
    assert statuses == set(RelationshipStatus.values)
    grants = Grant.objects.filter(organization=org)
    assert grants.filter(status=GrantStatus.EXPIRED).exists()
    assert grants.filter(status=GrantStatus.ACTIVE, held__gt=0).exists()
    exhausted = [g for g in grants if g.total == g.used]
    assert exhausted
    inactive = Student.objects.filter(organization=org, status=StudentStatus.INACTIVE)
    assert inactive.exists()
    assert not Relationship.objects.filter(
        student__in=inactive, status__in=HOLDING_STATUSES
    ).exists()
    first = sessions.order_by("starts_at").values_list("starts_at", flat=True).first()
    assert first is not None
    assert (now - first).days > 2 * 365


def test_each_session_consumed_what_it_charged_from_its_own_holds(generated: str) -> None:
    """Consume entries name the session's relationship and an allocation of it, on grants that
    cover its service and were valid that day; a session charged nothing has no entries."""
    wrong = rows("""
        SELECT s.id FROM sessions_app_session s
          LEFT JOIN (SELECT session_id, SUM(used_delta) AS used FROM grants_grantentry
                      WHERE kind = 'consume' GROUP BY session_id) e ON e.session_id = s.id
         WHERE s.charged_minutes <> COALESCE(e.used, 0)
            OR (s.status = 'completed') <> (s.charged_minutes > 0)
    """)
    assert wrong == []
    foreign = rows("""
        SELECT e.id FROM grants_grantentry e
          JOIN sessions_app_session s ON s.id = e.session_id
          JOIN relationships_relationship r ON r.id = s.relationship_id
          JOIN grants_allocation a ON a.id = e.allocation_id
          JOIN grants_grant g ON g.id = e.grant_id
         WHERE a.relationship_id <> s.relationship_id
            OR e.relationship_id <> s.relationship_id
            OR g.unit <> r.unit
            OR g.valid_from > s.starts_at + interval '1 day'
            OR (g.expires_at IS NOT NULL AND g.expires_at <= s.starts_at)
            OR NOT EXISTS (SELECT 1 FROM grants_grantservicetype t
                            WHERE t.grant_id = g.id AND t.service_type_id = r.service_type_id)
    """)
    assert foreign == []


def test_holds_follow_the_relationships(generated: str) -> None:
    """Live relationships hold hours (a paired one may have used them all); ended ones hold
    none; allocations hold within their grants, and a grant holds what its allocations do."""
    assert (
        rows("""
        SELECT r.id, r.status FROM relationships_relationship r
          JOIN grants_allocation a ON a.relationship_id = r.id
         GROUP BY r.id, r.status
        HAVING (r.status IN ('declined', 'cancelled', 'completed') AND SUM(a.held) <> 0)
            OR (r.status = 'proposed' AND SUM(a.held) = 0)
    """)
        == []
    )
    assert (
        rows("""
        SELECT g.id FROM grants_grant g
          LEFT JOIN grants_allocation a ON a.grant_id = g.id
         GROUP BY g.id
        HAVING g.held <> COALESCE(SUM(a.held), 0)
            OR g.used <> COALESCE(SUM(a.consumed), 0)
            OR g.used + g.held > g.total
            OR (g.status <> 'active' AND g.held <> 0)
    """)
        == []
    )
    assert (
        rows("""
        SELECT a.id FROM grants_allocation a
          JOIN grants_grant g ON g.id = a.grant_id
          JOIN relationships_relationship r ON r.id = a.relationship_id
         WHERE g.student_id <> r.student_id
    """)
        == []
    )


def test_the_allocation_trigger_is_on_again(generated: str) -> None:
    assert rows("""
        SELECT tgenabled FROM pg_trigger
         WHERE tgname = 'allocation_same_student' AND tgrelid = 'grants_allocation'::regclass
    """) == [("O",)]


def test_the_report_rollups_are_built_and_their_triggers_on_again(generated: str) -> None:
    assert "roll up the sessions and the ledger for the reports" in generated
    assert rollups.find_differences() == []
    assert rows("SELECT sum(sessions) FROM reports_sessionhour") == [(Session.objects.count(),)]
    # Both of a session's report roll-ups, by one trigger function since reports 0009.
    assert rows("""
        SELECT tgname, tgenabled FROM pg_trigger
         WHERE tgname LIKE 'reports_session_%%' ORDER BY tgname
    """) == [
        ("reports_session_written_insert_delete", "O"),
        ("reports_session_written_update", "O"),
    ]
    assert rows("SELECT count(*) > 0 FROM reports_payrollperiod") == [(True,)]
    # The ledger's: its trigger off for the COPY, the rows built after, the trigger on again.
    assert rows("SELECT count(*) > 0 FROM reports_ledgerday") == [(True,)]
    assert rows("SELECT count(*) > 0 FROM reports_grantending") == [(True,)]
    assert rows("""
        SELECT tgenabled FROM pg_trigger WHERE tgname = 'reports_ledger_rollup'
    """) == [("O",)]


def test_the_copied_memberships_carry_their_users_emails(generated: str) -> None:
    """The loader copies memberships without the email; their trigger (matchpal 0014), on
    for the COPY, writes it."""
    assert rows("""
        SELECT count(*) > 0, count(*) FILTER (WHERE m.user_email <> u.email)
          FROM matchpal_membership m JOIN matchpal_user u ON u.id = m.user_id
    """) == [(True, 0)]


def test_the_copied_sessions_open_to_check_in_are_those_of_paired_relationships(
    generated: str,
) -> None:
    """The loader copies sessions without `check_in_open`; their trigger (sessions_app 0020),
    on for the COPY, sets it from the relationships copied before them."""
    assert rows("""
        SELECT count(*) FILTER (WHERE s.check_in_open) > 0,
               count(*) FILTER (WHERE s.check_in_open IS DISTINCT FROM
                                (s.status IN ('scheduled', 'missed') AND r.status = 'paired'))
          FROM sessions_app_session s JOIN relationships_relationship r ON r.id = s.relationship_id
    """) == [(True, 0)]


def test_a_database_with_organizations_is_refused() -> None:
    Organization.objects.create(name="Existing", slug="existing")

    with pytest.raises(CommandError, match="has organizations already"):
        call_command("generate_scale_data", stdout=StringIO())

    assert Organization.objects.count() == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"students": 0}, "at least one student and one provider"),
        ({"providers": 0}, "at least one student and one provider"),
        ({"sessions": -1}, "zero or more"),
    ],
)
def test_counts_that_make_no_center_are_refused(flags: dict[str, int], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("generate_scale_data", **flags, stdout=StringIO())

    assert not Organization.objects.exists()


def test_the_same_seed_plans_the_same_rows() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)

    def plan(seed: int) -> dict[str, list[tuple[object, ...]]]:
        p = Plan(seed=seed, now=now, password_hash="x")
        for center in centers(Options(**{**TINY, "seed": seed})):
            p.add_center(center)
        p.finish()
        return {name: table.rows for name, table in p.tables.items()}

    assert plan(1) == plan(1)
    assert plan(1)["sessions_app_session"] != plan(2)["sessions_app_session"]


@pytest.mark.parametrize(
    ("email", "pages"),
    [
        (
            admin_email(SCALE_SLUG),
            [
                "home",
                "students:list",
                "providers:list",
                "relationships:list",
                "sessions_app:list",
                "grants:package_list",
                "members",
                "service_type_list",
                "student",
                "hours",
                "provider",
                "relationship",
                "session",
            ],
        ),
        (
            provider_email(SCALE_SLUG, 1),
            [
                "home",
                "relationships:list",
                "sessions_app:list",
                "providers:me",
                "provider",
                "relationship",
                "session",
            ],
        ),
        (
            student_email(SCALE_SLUG, 1),
            ["home", "students:me", "grants:my_hours", "relationship", "session"],
        ),
    ],
)
def test_each_role_signs_in_and_its_pages_answer(
    generated: str, email: str, pages: list[str]
) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"login": email, "password": SCALE_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]

    for page in pages:
        path = _path(page, email)
        answer = client.get(path)
        assert answer.status_code == 200, (page, path, answer.status_code)


def _path(page: str, email: str) -> str:
    """A page of the large center, on the signed-in person's own objects where it has them."""
    slug = SCALE_SLUG
    if ":" in page or page in ("home", "members", "service_type_list"):
        return reverse(page if page != "home" else "org_home", args=[slug])
    relationships = Relationship.objects.filter(organization__slug=slug)
    if email.startswith("provider"):
        relationships = relationships.filter(provider__user__email=email)
    if email.startswith("student"):
        relationships = relationships.filter(student__user__email=email)
    relationship = relationships.filter(sessions__isnull=False).order_by("pk").first()
    assert relationship is not None
    if page == "student":
        return reverse("students:detail", args=[slug, relationship.student.public_id])
    if page == "hours":
        return reverse("grants:student_hours", args=[slug, relationship.student.public_id])
    if page == "provider":
        return reverse("providers:detail", args=[slug, relationship.provider.public_id])
    if page == "relationship":
        return reverse("relationships:detail", args=[slug, relationship.public_id])
    session = relationship.sessions.order_by("-starts_at").first()
    assert session is not None
    return reverse("sessions_app:detail", args=[slug, session.public_id])
