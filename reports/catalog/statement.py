"""A student's statement: everything bought, used and left over a range (docs/reports.md, "A
student's statement"). The figures are `reports.statement`'s, sums of the student's ledger.

An admin chooses the student with the search field; a student's statement is their own (the
form offers them no student field). Its page is a document to print or send to a family.
"""

from dataclasses import replace
from functools import cached_property
from typing import Any

from matchpal.models import Role
from reports import statement
from reports.framework import Column, Kind, Report, Scope, Table, register
from students.models import Student
from students.selectors import student_for_user

UNIT = Column("unit", "Unit", Kind.TEXT)
# Quantities are in the row's unit (minutes or sessions), never added across units.
BALANCE_NAMES = (("total", "Total"), ("used", "Used"), ("held", "Reserved"), ("free", "Free"))
MOVED = (
    ("purchased", "Purchased"),
    ("adjusted", "Adjusted"),
    ("transferred_in", "Transferred in"),
    ("transferred_out", "Transferred out"),
    ("refunded", "Refunded"),
    ("consumed", "Used"),
    ("restored", "Given back"),
    ("reserved", "Reserved"),
    ("released", "Released"),
    ("expired", "Expired"),
    ("extended", "Extended"),
)


def _quantity(key: str, label: str) -> Column:
    return Column(key, f"{label} (in the unit)", Kind.COUNT)


def balance_columns(when: str, label: str) -> list[Column]:
    return [_quantity(f"{when}_{key}", f"{label}: {name}") for key, name in BALANCE_NAMES]


@register
class StatementReport(Report):
    name = "statement"
    title = "Student statement"
    summary = (
        "Everything a student bought, used and has left over a range, from the ledger: the "
        "page to send when a family asks where the hours went."
    )
    template = "reports/report_statement.html"
    content_template = "reports/content/statement.html"
    roles = frozenset({Role.ADMIN, Role.STUDENT})
    filters = frozenset({"service_type", "student"})
    periodic = False

    def __init__(self, scope: Scope) -> None:
        # A student's statement is their own: the scope names them, as an admin's names the
        # student chosen, so the page and the CSV export say whose statement it is.
        if scope.membership.is_student:
            own = student_for_user(organization=scope.organization, user=scope.membership.user)
            scope = replace(scope, student=own)
        super().__init__(scope)

    @property
    def student(self) -> Student | None:
        return self.scope.student

    @cached_property
    def figures(self) -> statement.Statement | None:
        if self.student is None:
            return None
        return statement.statement(statement.StatementQuery(scope=self.scope, student=self.student))

    def context(self) -> dict[str, Any]:
        figures = self.figures
        units = [
            # What moved, in the order a family reads it, leaving out what did not happen.
            {**unit, "moved": [(label, unit[key]) for key, label in MOVED if unit[key]]}
            for unit in (figures.units if figures else [])
        ]
        return {
            "student": self.student,
            "statement": figures,
            "units": units,
            "movements_max": statement.MOVEMENTS_MAX,
        }

    def tables(self) -> list[Table]:
        figures = self.figures
        if figures is None:
            return []
        return [self.units(figures), self.grants(figures), self.movements(figures)]

    def units(self, figures: statement.Statement) -> Table:
        columns = [
            UNIT,
            *balance_columns("opening", "Opening"),
            *(_quantity(key, label) for key, label in MOVED),
            *balance_columns("closing", "Closing"),
        ]
        return Table("units", "Balances", columns, figures.units, limit=None)

    def grants(self, figures: statement.Statement) -> Table:
        rows = [
            {
                "grant": grant.reference or grant.get_source_display(),
                "covers": ", ".join(st.name for st in grant.service_types.all()),
                "unit": grant.unit,
                "status": grant.get_status_display(),
                "expires": grant.expires_at.date().isoformat() if grant.expires_at else "",
                **{
                    f"{when}_{key}": getattr(grant, f"{when}_{key}")
                    for when in ("opening", "closing")
                    for key, _ in BALANCE_NAMES
                },
            }
            for grant in figures.grants
        ]
        columns = [
            Column("grant", "Grant", Kind.TEXT),
            Column("covers", "Covers", Kind.TEXT),
            UNIT,
            Column("status", "Status now", Kind.TEXT),
            Column("expires", "Expires", Kind.TEXT),
            *balance_columns("opening", "Opening"),
            *balance_columns("closing", "Closing"),
        ]
        return Table("grants", "Grants", columns, rows, limit=None)

    def movements(self, figures: statement.Statement) -> Table:
        columns = [
            Column("day", "Date", Kind.TEXT),
            Column("movement", "Movement", Kind.TEXT),
            Column("provider", "Provider", Kind.TEXT),
            Column("session_day", "Session of", Kind.TEXT),
            Column("grant_reference", "Grant", Kind.TEXT),
            UNIT,
            _quantity("total_delta", "Total"),
            _quantity("used_delta", "Used"),
            _quantity("held_delta", "Reserved"),
            _quantity("usable_delta", "Free to book"),
            _quantity("free_after", "Free to book after"),
            Column("reason", "Reason", Kind.TEXT),
        ]
        return Table(
            "movements",
            "Movements",
            columns,
            figures.movements,
            limit=None,
            note="" if not figures.truncated else "The first movements only: shorten the range.",
        )
