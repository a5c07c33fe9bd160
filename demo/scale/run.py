"""A run of the generator: its named steps, each timed and reported as it ends, the report
they add up to, and the summary the command prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from grants import balances
from reports import ledger_sql, rollups
from sessions_app import rollups as dashboard_rollups

from .centers import (
    SCALE_PASSWORD,
    SCALE_SLUG,
    Options,
    admin_email,
    centers,
    provider_email,
    student_email,
)
from .checks import check_empty, check_reconciles
from .load import load, start_ids, vacuum_analyze
from .plan import Plan


@dataclass
class Report:
    """What `generate` did: each step's time, the row counts, the logins."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(seconds for _, seconds in self.steps)


class Steps:
    """Times each named step and reports it as it ends."""

    def __init__(self, report: Report, write: Callable[[str], None]) -> None:
        self.report = report
        self.write = write

    def run[T](self, name: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        self.report.steps.append((name, seconds))
        self.write(f"{name:<44} {seconds:8.1f} s")
        return result


def analyze_summaries() -> None:
    with connection.cursor() as cursor:
        for table in (
            balances.TABLE,
            balances.CENTER_TABLE,
            *dashboard_rollups.TABLES,
            *ledger_sql.TABLES,
        ):
            cursor.execute(f"ANALYZE {table}")


def generate(
    options: Options,
    *,
    write: Callable[[str], None] = lambda line: None,
    now: datetime | None = None,
) -> Report:
    """Fill an empty PostgreSQL database with the large center and `options.tenants` small
    ones, in one transaction; then vacuum, analyze and reconcile the ledger."""
    report = Report()
    steps = Steps(report, write)
    steps.run("check the database is empty", check_empty)
    now = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    password_hash = steps.run("hash the password (once)", lambda: make_password(SCALE_PASSWORD))
    plan = Plan(seed=options.seed, now=now, password_hash=password_hash)
    with transaction.atomic():
        steps.run("number the rows after existing ones", lambda: start_ids(plan))
        _plan_centers(plan, options, steps)
        steps.run("order sessions and ledger entries by time", plan.finish)
        load(plan, steps, report)
        # The grants were loaded by COPY, not through the ledger's services: their students'
        # summaries are built from them in one pass (reconcile checks them below).
        steps.run("summarize the students' balances", balances.rebuild)
        # Likewise the reports' roll-ups, from every session and every ledger entry in one pass.
        steps.run("roll up the sessions and the ledger for the reports", rollups.rebuild)
        steps.run("summarize the center's hours", balances.rebuild_center)
        steps.run("summarize the sessions per day and pairing", dashboard_rollups.rebuild)
    steps.run("vacuum and analyze", lambda: vacuum_analyze(plan))
    steps.run("analyze the summaries", analyze_summaries)
    steps.run("reconcile the ledger", check_reconciles)
    report.logins = [
        (admin_email(SCALE_SLUG), "admin"),
        (provider_email(SCALE_SLUG, 1), "provider"),
        (student_email(SCALE_SLUG, 1), "student"),
    ]
    return report


def _plan_centers(plan: Plan, options: Options, steps: Steps) -> None:
    """The large center in a step of its own (it is nearly all the time), the small ones in
    one."""
    large, *small = centers(options)
    steps.run(f"plan {large.slug}", lambda: plan.add_center(large))
    if options.tenants:
        steps.run(
            f"plan {options.tenants} small centers",
            lambda: [plan.add_center(c) for c in small],
        )


def summary(report: Report) -> Iterable[str]:
    yield f"Total {report.total_seconds:.1f} s."
    for email, role in report.logins:
        yield f"  {role:<9} {email}"
    yield f"Password for every login: {SCALE_PASSWORD}"
