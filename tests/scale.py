"""Many rows fast, in plain SQL: an organization's students, providers, pairings, sessions and
ledger made with `generate_series`, then ANALYZEd, so the planner sees the sizes it would in
production. For the tests that read query plans (tests/test_index_use.py) and for
scripts/explain_lists.py; the services are not involved, so the rows skip their rules but keep
every constraint (one pairing per student, one session per relationship and start).

Sessions are spread one per `SESSION_SPACING` back from `SCHEDULED_AHEAD` after `now`: those
ahead are scheduled, and of the past ones, one in `FORGOTTEN_EVERY` is still scheduled (to
log), one in `CANCELLED_EVERY` cancelled, the rest completed; one in `DISPUTED_EVERY` of those
is disputed, half of these resolved. Each session carries its relationship's provider and
`exclusive = false`, as the `scale` center's do (docs/performance.md): a provider's pairs meet
17 minutes apart for an hour, history from before the booking rule, outside the exclusion
constraint `session_provider_no_overlap`."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from grants import balances

SESSION_SPACING = "17 minutes"
SCHEDULED_AHEAD = timedelta(days=14)
FORGOTTEN_EVERY = 1000
CANCELLED_EVERY = 20
DISPUTED_EVERY = 500
ENTRIES_PER_GRANT = 6

PEOPLE = """
INSERT INTO providers_provider (public_id, name, email, phone, bio, default_pay_rate, status,
                                created_at, updated_at, organization_id)
SELECT gen_random_uuid(), 'Generated provider ' || n, 'p' || n || '@' || %(slug)s || '.example',
       '', '', 30, 'active', %(newest)s, %(newest)s, %(org)s
  FROM generate_series(1, %(providers)s) n;

INSERT INTO students_student (public_id, name, email, phone, guardian_name, guardian_email,
                              status, notes, created_at, updated_at, organization_id)
SELECT gen_random_uuid(), 'Generated student ' || n, 's' || n || '@' || %(slug)s || '.example',
       '', '', '', CASE WHEN n %% 10 = 0 THEN 'inactive' ELSE 'active' END, '',
       %(newest)s - n * interval '1 hour', %(newest)s, %(org)s
  FROM generate_series(1, %(students)s) n;

INSERT INTO matchpal_servicetype (public_id, name, is_active, organization_id, client_rate)
VALUES (gen_random_uuid(), 'Generated', true, %(org)s, 60);
"""

# Each new student paired once, ten in a row with each provider in turn; one in ten still
# proposed.
PAIRINGS = """
WITH providers AS (
    SELECT array_agg(id ORDER BY id) AS ids FROM providers_provider
     WHERE organization_id = %(org)s AND name LIKE 'Generated provider %%'
), students AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM students_student
     WHERE organization_id = %(org)s AND name LIKE 'Generated student %%'
)
INSERT INTO relationships_relationship (public_id, unit, status, created_at, organization_id,
                                        provider_id, service_type_id, student_id, client_rate,
                                        provider_pay_rate, paired_at, respond_by)
SELECT gen_random_uuid(), 'minutes', CASE WHEN s.n %% 10 = 0 THEN 'proposed' ELSE 'paired' END,
       %(newest)s - s.n * interval '1 hour', %(org)s,
       p.ids[1 + (s.n / 10) %% array_length(p.ids, 1)],
       (SELECT id FROM matchpal_servicetype
         WHERE organization_id = %(org)s AND name = 'Generated'),
       s.id, 60, 30,
       CASE WHEN s.n %% 10 = 0 THEN NULL ELSE %(newest)s END,
       CASE WHEN s.n %% 10 = 0 THEN %(newest)s + interval '3 days' END
  FROM students s, providers p;
"""

SESSIONS = """
WITH pairs AS (
    SELECT array_agg(id ORDER BY id) AS ids, array_agg(provider_id ORDER BY id) AS providers
      FROM relationships_relationship
     WHERE organization_id = %(org)s AND status = 'paired'
       AND service_type_id = (SELECT id FROM matchpal_servicetype
                               WHERE organization_id = %(org)s AND name = 'Generated')
)
INSERT INTO sessions_app_session (
    public_id, starts_at, duration_minutes, status, created_at, organization_id, relationship_id,
    cancellation_reason, charged_minutes, dispute_reason, disputed_at, dispute_resolved_at,
    internal_note, kind, mode, no_show_explanation, no_show_party, notes, charge_shortfall,
    report_sent_to, client_rate, dispute_resolution, dispute_resolution_note, provider_pay_rate,
    logged_at, provider_id, exclusive, topic, location, ics_sequence, student_recap)
SELECT gen_random_uuid(), at, 60, status, at, %(org)s, p.ids[1 + (n %% array_length(p.ids, 1))],
       '', CASE WHEN status = 'completed' THEN 60 ELSE 0 END, '',
       CASE WHEN status = 'completed' AND n %% %(disputed)s = 3 THEN at + interval '1 day' END,
       CASE WHEN status = 'completed' AND n %% (2 * %(disputed)s) = 3
            THEN at + interval '2 days' END,
       '', 'tutoring', '', '', '', '', 0, '', 60, '', '', 30,
       CASE WHEN status = 'completed' THEN at END,
       p.providers[1 + (n %% array_length(p.ids, 1))], false, '', '', 0, ''
  FROM pairs p, generate_series(1, %(sessions)s) n,
       LATERAL (SELECT %(newest)s - n * %(spacing)s::interval AS at) b,
       LATERAL (SELECT CASE WHEN at > %(now)s OR n %% %(forgotten)s = 7 THEN 'scheduled'
                            WHEN n %% %(cancelled)s = 1 THEN 'cancelled'
                            ELSE 'completed' END AS status) s;
"""

# One grant per student, held by their pairing; its credit and hold, then consumptions.
LEDGER = """
INSERT INTO grants_grant (public_id, unit, total, used, held, valid_from, status, source,
                          reference, created_at, organization_id, student_id)
SELECT gen_random_uuid(), 'minutes', 6000, 0, 600, r.created_at, 'active', 'manual',
       'generated', r.created_at, %(org)s, r.student_id
  FROM relationships_relationship r JOIN matchpal_servicetype t ON t.id = r.service_type_id
 WHERE r.organization_id = %(org)s AND r.status = 'paired' AND t.name = 'Generated';

INSERT INTO grants_allocation (held, consumed, created_at, organization_id, relationship_id,
                               grant_id)
SELECT 600, 0, g.created_at, %(org)s, r.id, g.id
  FROM grants_grant g JOIN relationships_relationship r ON r.student_id = g.student_id
 WHERE g.organization_id = %(org)s AND g.reference = 'generated' AND r.status = 'paired';

INSERT INTO grants_grantentry (kind, total_delta, used_delta, held_delta, usable_delta, reason,
                               created_at, grant_id, organization_id, allocation_id,
                               relationship_id)
SELECT CASE k WHEN 1 THEN 'credit' WHEN 2 THEN 'hold' ELSE 'consume' END,
       CASE k WHEN 1 THEN 6000 ELSE 0 END,
       CASE WHEN k > 2 THEN 60 ELSE 0 END,
       CASE k WHEN 1 THEN 0 WHEN 2 THEN 600 ELSE -60 END,
       CASE k WHEN 1 THEN 6000 WHEN 2 THEN -600 ELSE 0 END,
       '', a.created_at + k * interval '1 day', a.grant_id, %(org)s,
       CASE WHEN k > 1 THEN a.id END, CASE WHEN k > 1 THEN a.relationship_id END
  FROM grants_allocation a JOIN grants_grant g ON g.id = a.grant_id,
       generate_series(1, %(entries)s) k
 WHERE a.organization_id = %(org)s AND g.reference = 'generated';
"""

TABLES = [
    "students_student",
    "providers_provider",
    "relationships_relationship",
    "sessions_app_session",
    "grants_grant",
    "grants_allocation",
    "grants_grantentry",
    "grants_studentbalance",
]


LEDGER_TRIGGERS = [
    ("grants_grant", "grant_matches_ledger_insert"),
    ("grants_grant", "grant_matches_ledger_update"),
    ("grants_grantentry", "grant_matches_ledger"),
]


@dataclass(frozen=True)
class Sizes:
    students: int
    providers: int
    sessions: int


def fill(*, organization_id: int, slug: str, sizes: Sizes, now: datetime) -> None:
    """Add `sizes` of rows to the organization, as of `now`: once per organization
    (its rows are told apart by the service type "Generated"). ANALYZE afterwards."""
    params = {
        "org": organization_id,
        "slug": slug,
        "now": now,
        "newest": now + SCHEDULED_AHEAD,
        "students": sizes.students,
        "providers": sizes.providers,
        "sessions": sizes.sessions,
        "forgotten": FORGOTTEN_EVERY,
        "cancelled": CANCELLED_EVERY,
        "disputed": DISPUTED_EVERY,
        "entries": ENTRIES_PER_GRANT,
        "spacing": SESSION_SPACING,
    }
    with connection.cursor() as cursor:
        # Plans are what this data is for, not balances (its entries are a sample, not the
        # grants' history): the ledger's balance checks (grants 0010) are off for these rows,
        # inside the test's transaction, which puts them back when it rolls back. A second
        # organization's fill finds them off already, and leaves them: ALTER TABLE would be
        # refused while the first one's rows have their deferred checks (foreign keys) pending.
        for table, trigger in LEDGER_TRIGGERS:
            cursor.execute(
                "SELECT tgenabled <> 'D' FROM pg_trigger "
                "WHERE tgrelid = %s::regclass AND tgname = %s",
                [table, trigger],
            )
            ((enabled,),) = cursor.fetchall()
            if enabled:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        for statement in (PEOPLE, PAIRINGS, SESSIONS, LEDGER):
            cursor.execute(statement, params)
    # The grants were inserted without the ledger's services: their students' summaries.
    balances.rebuild(organization_id=organization_id)


def analyze() -> None:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")
