"""EXPLAIN ANALYZE the list pages' and the admin home's queries on a large generated center,
with the indexes of docs/indexes.md and without them, in one run.

Creates (dropping it first if it exists) a scratch PostgreSQL database next to the one in
DATABASE_URL, migrates it, and fills with tests/scale.py one large organization (--sessions,
--students, --providers) beside --tenants small ones (a tenth of each), then VACUUM ANALYZE.
Each query is the one the page runs (the selector's queryset, filtered as the filter form does,
its first page); "before" runs it in a transaction that drops the indexes added by
sessions_app 0007, relationships 0006 and integrations 0004 (putting back the ones they
replaced), rolled back afterwards. Where a query itself changed (the admin home's figures, the
relationships list's totals), "before" runs the previous query.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        scripts/explain_lists.py [--sessions 300000] [--plans]

With `--existing SLUG` it creates nothing and explains on the database of DATABASE_URL as
`manage.py generate_scale_data` left it, for the center SLUG (`scale`).

Not a test: it prints a markdown table (and, with --plans, every plan). Only a database whose
name contains "bench" is dropped.
"""

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_reconcile import setup_django  # noqa: E402
from scripts.benchkit import database_url, recreate  # noqa: E402

# The indexes to drop for "before", and what to put back in their place.
BEFORE = """
DROP INDEX session_org_starts;
DROP INDEX session_org_status_starts;
DROP INDEX session_dispute_open;
DROP INDEX session_org_kind_starts;
CREATE INDEX sessions_ap_organiz_696f08_idx
    ON sessions_app_session (organization_id, status, starts_at DESC);
DROP INDEX relationship_org_created;
DROP INDEX relationship_org_status_new;
CREATE INDEX relationshi_organiz_1d55ef_idx
    ON relationships_relationship (organization_id, status, created_at DESC);
DROP INDEX woo_delivery_org_received;
DROP INDEX woo_error_org_created;
DROP INDEX woo_error_open;
"""


def load(args: argparse.Namespace) -> dict[str, Any]:
    """The large organization with an admin and a provider's login, and the small ones."""
    from django.db import connection
    from django.utils import timezone

    from matchpal.models import Membership, Organization, Role, ServiceType, User
    from providers.models import Provider
    from relationships.models import Relationship
    from students.models import Student
    from tests.scale import Sizes, fill

    now = timezone.now()
    large = Organization.objects.create(name="Large center", slug="large")
    fill(
        organization_id=large.pk,
        slug=large.slug,
        sizes=Sizes(students=args.students, providers=args.providers, sessions=args.sessions),
        now=now,
    )
    for n in range(args.tenants):
        small = Organization.objects.create(name=f"Small {n}", slug=f"small-{n}")
        fill(
            organization_id=small.pk,
            slug=small.slug,
            sizes=Sizes(
                students=max(args.students // 10, 10),
                providers=max(args.providers // 10, 2),
                sessions=args.sessions // 10,
            ),
            now=now,
        )
    admin = User.objects.create_user("admin@large.example")
    Membership.objects.create(user=admin, organization=large, role=Role.ADMIN)
    provider_user = User.objects.create_user("provider@large.example")
    Membership.objects.create(user=provider_user, organization=large, role=Role.PROVIDER)
    provider = Provider.objects.filter(organization=large).order_by("id").first()
    assert provider is not None
    Provider.objects.filter(pk=provider.pk).update(user=provider_user)
    # A provider just paired, none of whose sessions exist yet.
    newcomer = Provider.objects.create(organization=large, name="Newcomer", email="n@l.example")
    Relationship.objects.create(
        organization=large,
        student=Student.objects.filter(organization=large).order_by("id").first(),
        provider=newcomer,
        service_type=ServiceType.objects.filter(organization=large).first(),
        status="paired",
    )
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "organization": large,
        "admin": Membership.objects.get(user=admin),
        "provider": Membership.objects.select_related("user").get(user=provider_user),
        "provider_record": Provider.objects.get(pk=provider.pk),
        "newcomer": newcomer,
        "student": Student.objects.filter(organization=large, relationships__status="paired")
        .order_by("id")
        .first(),
        "now": now,
    }


def existing(slug: str) -> dict[str, Any]:
    """The same context from a database `manage.py generate_scale_data` filled: its large
    center, its admin, its first provider's login, a paired student, and the provider with the
    fewest sessions as the one without."""
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from matchpal.models import Membership, Organization, Role
    from providers.models import Provider
    from students.models import Student

    organization = Organization.objects.get(slug=slug)
    provider = Membership.objects.filter(organization=organization, role=Role.PROVIDER).first()
    assert provider is not None
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "organization": organization,
        "admin": Membership.objects.filter(organization=organization, role=Role.ADMIN).first(),
        "provider": provider,
        "provider_record": Provider.objects.get(organization=organization, user=provider.user),
        "newcomer": Provider.objects.filter(organization=organization)
        .annotate(n=Count("relationships__sessions"))
        .order_by("n", "id")
        .first(),
        "student": Student.objects.filter(organization=organization, relationships__status="paired")
        .order_by("id")
        .first(),
        "now": timezone.now(),
    }


def queries(ctx: dict[str, Any]) -> list[tuple[str, Callable[[], Any], Callable[[], Any] | None]]:
    """(label, the query now, the query before where it changed) for each page's main query."""
    from django.db.models import Count, Sum
    from django.db.models.functions import Coalesce
    from django.http import QueryDict

    from grants.selectors import history
    from integrations.woocommerce import selectors as shop
    from integrations.woocommerce.filters import OrderErrorFilter
    from relationships.filters import RelationshipFilter
    from relationships.models import Relationship
    from relationships.selectors import relationship_list
    from reports.selectors import attention_figures
    from sessions_app import selectors as sessions
    from sessions_app.filters import SessionFilter

    org, admin, provider = ctx["organization"], ctx["admin"], ctx["provider"]
    student, now = ctx["student"], ctx["now"]
    month = (now - timedelta(days=60)).date()
    page = slice(0, 25)

    def session_page(membership: Any, **params: str) -> Any:
        data = QueryDict(mutable=True)
        data.update(params)
        qs = SessionFilter(
            data,
            organization=org,
            membership=membership,
            queryset=sessions.session_list(organization=org, membership=membership),
        ).qs
        return qs[page]

    def relationship_page(**params: str) -> Any:
        data = QueryDict(mutable=True)
        data.update(params)
        qs = RelationshipFilter(
            data,
            organization=org,
            membership=admin,
            queryset=relationship_list(organization=org, membership=admin).order_by(
                "-created_at", "-id"
            ),
        ).qs
        return qs[page]

    def relationship_page_before() -> Any:
        return (
            Relationship.objects.filter(organization=org)
            .select_related("student", "provider", "service_type")
            .annotate(
                held=Coalesce(Sum("allocations__held"), 0),
                consumed=Coalesce(Sum("allocations__consumed"), 0),
            )
            .order_by("-created_at", "-id")[page]
        )

    def attention_before() -> Any:
        visible = sessions.session_list(organization=org, membership=admin)
        week = sessions.delivered_totals(*sessions.this_week(org))
        return visible.with_money().aggregate(
            disputed=Count("pk", filter=sessions.dispute_open()),
            to_log=Count("pk", filter=sessions.due_to_log()),
            week_sessions=week["sessions"],
            week_minutes=week["minutes"],
        )

    figures = attention_figures(organization=org, membership=admin)
    disputed = (
        sessions.session_list(organization=org, membership=admin)
        .filter(sessions.dispute_open())
        .order_by("-disputed_at", "-id")[:5]
    )
    errors = OrderErrorFilter(
        QueryDict("state=open"), queryset=shop.error_list(organization=org)
    ).qs
    return [
        ("sessions list, page 1", lambda: session_page(admin), None),
        ("sessions, status completed", lambda: session_page(admin, status="completed"), None),
        ("sessions, kind revision (none)", lambda: session_page(admin, kind="revision"), None),
        (
            "sessions, one student",
            lambda: session_page(admin, student=str(student.public_id)),
            None,
        ),
        (
            "sessions, one provider",
            lambda: session_page(admin, provider=str(ctx["provider_record"].public_id)),
            None,
        ),
        (
            "sessions, a provider without sessions yet",
            lambda: session_page(admin, provider=str(ctx["newcomer"].public_id)),
            None,
        ),
        (
            "sessions, one month",
            lambda: session_page(
                admin, date_from=str(month), date_to=str(month + timedelta(days=30))
            ),
            None,
        ),
        ("sessions list of a provider", lambda: session_page(provider), None),
        ("relationships list, page 1", relationship_page, relationship_page_before),
        (
            "relationships, status paired",
            lambda: relationship_page(status="paired"),
            None,
        ),
        (
            "a student's hours history",
            lambda: history(organization=org, student=student)[page],
            None,
        ),
        ("admin home: figures", lambda: figures, attention_before),
        ("admin home: disputed list", lambda: disputed, None),
        ("order errors, open", lambda: errors[page], None),
        ("deliveries", lambda: shop.delivery_list(organization=org)[page], None),
    ]


def explain(query: Callable[[], Any]) -> tuple[float, str]:
    """(execution ms, plan) of EXPLAIN ANALYZE on what `query()` returns: a queryset, or a
    dict of figures computed by one query (then the last query run is explained)."""
    from django.db import connection
    from django.db.models import QuerySet
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        result = query()
    if isinstance(result, QuerySet):
        plan = result.explain(analyze=True)
    else:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + captured.captured_queries[-1]["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
    found = re.search(r"Execution Time: ([\d.]+) ms", plan)
    assert found, plan
    return float(found.group(1)), plan


def best_of(query: Callable[[], Any], runs: int) -> tuple[float, str]:
    results = [explain(query) for _ in range(runs)]
    return min(results, key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=300_000)
    parser.add_argument("--students", type=int, default=3_000)
    parser.add_argument("--providers", type=int, default=300)
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--plans", action="store_true", help="print every plan too")
    parser.add_argument("--name", default="matchpal_bench_explain")
    parser.add_argument(
        "--existing",
        metavar="SLUG",
        help="explain on DATABASE_URL as it is (filled by generate_scale_data), for this center",
    )
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (any database on it).")

    if not args.existing:
        recreate(base, args.name)
    setup_django(base if args.existing else database_url(base, args.name))
    from django.db import connection, transaction

    started = time.perf_counter()
    ctx = existing(args.existing) if args.existing else load(args)
    loaded = time.perf_counter() - started
    rows = []
    for label, now_query, before_query in queries(ctx):
        after_ms, after_plan = best_of(now_query, args.runs)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(BEFORE)
            before_ms, before_plan = best_of(before_query or now_query, args.runs)
            transaction.set_rollback(True)
        rows.append((label, before_ms, after_ms, before_plan, after_plan))

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        cursor.execute(
            "SELECT (SELECT count(*) FROM sessions_app_session), "
            "(SELECT count(*) FROM sessions_app_session WHERE organization_id = %s)",
            [ctx["organization"].pk],
        )
        total, large = cursor.fetchone()
    print(f"PostgreSQL {server}, Python {platform.python_version()}, {platform.machine()}")
    print(
        f"{total:,} sessions, {large:,} of them the large center's (loaded in {loaded:.0f} s); "
        f"load average {' '.join(f'{n:.2f}' for n in os.getloadavg())}; best of {args.runs}\n"
    )
    print("| query | before ms | after ms | plan after (top) |")
    print("|---|---:|---:|---|")
    for label, before_ms, after_ms, _, after_plan in rows:
        print(f"| {label} | {before_ms:.1f} | {after_ms:.1f} | {summary(after_plan)} |")
    if args.plans:
        for label, _, _, before_plan, after_plan in rows:
            print(f"\n### {label}\n\nbefore:\n\n{indent(before_plan)}")
            print(f"\nafter:\n\n{indent(after_plan)}")


def summary(plan: str) -> str:
    """The plan's scans of the big tables, as `Index Scan using x`, for the table."""
    scans = re.findall(
        r"((?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)"
        r"(?: Backward)?(?: using \w+)?(?: on \w+)?)",
        plan,
    )
    wanted = [s for s in scans if re.search(r"session|relationship|grantentry|woo|entry", s)]
    return "; ".join(dict.fromkeys(wanted)) or "—"


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


if __name__ == "__main__":
    main()
