"""The Financial report: what the center sold, refunded and still owes, in money (docs/reports.md,
"Financial"). Admins only.

The figures are `reports.financial`'s, each an SQL aggregate over the ledger, valued at each
grant's price at sale per minute or session. Hours without a price are counted, never valued.
"""

from decimal import Decimal
from functools import cached_property
from typing import Any

from matchpal.models import Role
from reports import financial
from reports.catalog.usage import LedgerReport
from reports.charts import bar_chart
from reports.framework import Column, Kind, Table, register


def _cents(cents: int) -> str:
    return f"{Decimal(cents) / 100:,.2f}"


@register
class FinancialReport(LedgerReport):
    name = "financial"
    title = "Financial"
    summary = (
        "Packages sold and revenue per package, from the shop and added by hand; refunds; the "
        "value of the hours still owed."
    )
    template = "reports/report_financial.html"
    content_template = "reports/content/financial.html"
    moment = True  # free to book now, owed now: a day not over closes now (`ledger_scope`)
    roles = frozenset({Role.ADMIN})
    order = 30  # after the Sessions report on the index
    # Sales, refunds and outstanding hours belong to no provider, and are not per period.
    filters = frozenset({"service_type", "student"})
    periodic = False

    @cached_property
    def sales_totals(self) -> dict[str, Any]:
        return financial.sales_totals(**self._ask())

    @cached_property
    def refund_totals(self) -> dict[str, Any]:
        return financial.refund_totals(**self._ask())

    @cached_property
    def outstanding_totals(self) -> dict[str, Any]:
        return financial.outstanding_value_totals(**self._ask(), day=self.scope.end)

    def context(self) -> dict[str, Any]:
        return {
            "sales": self.sales_totals,
            "refunded": self.refund_totals,
            "owed": self.outstanding_totals,
        }

    def tables(self) -> list[Table]:
        return [self.sales(), self.unpriced(), self.refunds(), self.outstanding()]

    def sales(self) -> Table:
        rows = financial.packages_sold(**self._ask())
        for row in rows:
            if row["package"] is None:
                row["package"] = f"Custom quantity ({row['unit']}), priced"
        columns = [
            Column("package", "Package", Kind.TEXT),
            Column("shop_packages", "Sold in the shop"),
            Column("manual_packages", "Added by an admin"),
            Column("packages", "Packages"),
            Column("shop_revenue", "Shop revenue", Kind.MONEY),
            Column("manual_revenue", "Revenue added by hand", Kind.MONEY),
            Column("revenue", "Revenue", Kind.MONEY),
        ]
        chart = bar_chart(
            title="Revenue per package",
            # In cents: the chart's geometry takes whole numbers.
            points=[(row["package"], int((row["revenue"] or 0) * 100)) for row in rows],
            fmt=_cents,
        )
        return Table(
            "sales",
            "Packages sold and revenue by package",
            columns,
            rows,
            totals=self.sales_totals,
            chart=chart,
            note="Packages credited in the range, at the price of each sale (a shop order line's "
            "total, or what the admin entered: the package's price then, unless changed), and "
            "custom quantities an admin added with a price.",
        )

    def unpriced(self) -> Table:
        totals = self.sales_totals
        rows = [
            {
                "what": "Hours added without a price",
                "unpriced_minutes": totals["unpriced_minutes"],
                "unpriced_sessions": totals["unpriced_sessions"],
            }
        ]
        columns = [
            Column("what", "Credited", Kind.TEXT),
            Column("unpriced_minutes", "Hours", Kind.MINUTES),
            Column("unpriced_sessions", "Sessions", Kind.SESSIONS),
        ]
        return Table(
            "unpriced",
            "Hours given without a price",
            columns,
            rows,
            limit=None,
            note="Custom quantities added without a price (and transfers' new grants): counted "
            "here, not in the revenue.",
        )

    def refunds(self) -> Table:
        rows = financial.refunds(**self._ask())
        for row in rows:
            row["package"] = row["package"] or "Without a package"
        columns = [
            Column("package", "Package", Kind.TEXT),
            Column("refunds", "Refunds"),
            Column("refunded_minutes", "Hours refunded", Kind.MINUTES),
            Column("refunded_sessions", "Sessions refunded", Kind.SESSIONS),
            Column("value", "Value", Kind.MONEY),
        ]
        return Table(
            "refunds",
            "Refunds",
            columns,
            rows,
            totals=self.refund_totals,
            note="Hours taken back in the range (in the shop or by an admin), valued at the "
            "price their grant was sold at.",
        )

    def outstanding(self) -> Table:
        end = self.scope.end
        rows = financial.outstanding_value(**self._ask(), day=end)
        for row in rows:
            row["package"] = row["package"] or "Without a package"
        columns = [
            Column("package", "Package", Kind.TEXT),
            Column("outstanding_minutes", "Hours outstanding", Kind.MINUTES),
            Column("outstanding_sessions", "Sessions outstanding", Kind.SESSIONS),
            Column("value", "Value", Kind.MONEY),
        ]
        return Table(
            "outstanding_value",
            f"Value of the hours outstanding at the close of {end:%b} {end.day}, {end.year}",
            columns,
            rows,
            totals=self.outstanding_totals,
            note="Unused hours of the grants valid that day (the Usage report's outstanding "
            "hours), at the price per minute or session each grant was sold at.",
        )
