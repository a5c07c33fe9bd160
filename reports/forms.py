"""The reports' filter form: a date range (a preset or two dates), the period grouping, and the
service type, provider and student filters a report offers and the member's role allows.

The rules (docs/reports.md, "Filters"): days are the center's (the form runs under its time
zone); the default range is the last 30 days, today included; a preset wins over typed dates
unless "Custom dates" is chosen, and typed dates without a preset mean custom; a missing "from"
is 30 days before "until", a missing "until" is today; grouping by day is refused over more
than `MAX_DAYS_BY_DAY` days; an automatic grouping is by day up to 31 days, by week up to
26 weeks, by month beyond.
"""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.urls import reverse
from django.utils import timezone

from matchpal.fields import BoundedDateField, PublicIdChoiceField
from matchpal.models import Membership, Organization, ServiceType
from matchpal.search import SearchChoiceField
from providers.models import Provider
from relationships.filters import people_of
from reports.framework import Period, Report, Scope
from students.models import Student

DEFAULT_RANGE = "last_30_days"
CUSTOM = "custom"
RANGES = (
    ("last_30_days", "Last 30 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("this_year", "This year"),
    ("last_12_months", "Last 12 months"),
    (CUSTOM, "Custom dates"),
)
MAX_DAYS_BY_DAY = 366

FROM_AFTER_UNTIL = "The start date is after the end date."
TOO_MANY_DAYS = (
    f"Group by week or month for a range longer than {MAX_DAYS_BY_DAY} days, "
    "or choose a shorter range."
)


def _month_start(day: date, months_back: int = 0) -> date:
    month = day.year * 12 + day.month - 1 - months_back
    return date(month // 12, month % 12 + 1, 1)


def _month_end(first: date) -> date:
    return _month_start(first + timedelta(days=31)) - timedelta(days=1)


def preset_range(name: str, today: date) -> tuple[date, date]:
    """The first and last day of a preset range, around `today` (the center's)."""
    if name == "this_month":
        first = _month_start(today)
        return first, _month_end(first)
    if name == "last_month":
        first = _month_start(today, 1)
        return first, _month_end(first)
    if name == "this_year":
        return date(today.year, 1, 1), date(today.year, 12, 31)
    if name == "last_12_months":
        return _month_start(today, 11), _month_end(_month_start(today))
    return today - timedelta(days=29), today


def automatic_period(start: date, end: date) -> str:
    days = (end - start).days + 1
    if days <= 31:
        return Period.DAY
    if days <= 26 * 7:
        return Period.WEEK
    return Period.MONTH


class ReportFilterForm(forms.Form):
    range = forms.ChoiceField(choices=RANGES, required=False, label="Range")
    date_from = BoundedDateField(required=False, label="From")
    date_to = BoundedDateField(required=False, label="Until")
    period = forms.ChoiceField(
        choices=(("", "Automatic"), *Period.CHOICES), required=False, label="Group by"
    )
    service_type = PublicIdChoiceField(
        ServiceType.objects.none(), required=False, empty_label="Any service", label="Service"
    )
    provider = SearchChoiceField(Provider.objects.none(), noun="provider", required=False)
    student = SearchChoiceField(Student.objects.none(), noun="student", required=False)

    def __init__(
        self,
        data: Any,
        *,
        report: type[Report],
        organization: Organization,
        membership: Membership,
    ) -> None:
        super().__init__(data)
        self.organization, self.membership = organization, membership
        offered = set(report.filters)
        # A provider's reports are their own: no choosing another provider. A student's are
        # theirs alone: no people to choose (and the search endpoints are for staff).
        if not membership.is_admin:
            offered.discard("provider")
        if not membership.is_admin and not membership.is_provider:
            offered -= {"provider", "student"}
        if not report.periodic:
            del self.fields["period"]
        for name in ("service_type", "provider", "student"):
            if name not in offered:
                del self.fields[name]
        if "service_type" in self.fields:
            field = self.fields["service_type"]
            assert isinstance(field, PublicIdChoiceField)
            field.queryset = ServiceType.objects.filter(organization=organization).order_by(
                "name", "pk"
            )
        people = people_of(organization=organization, membership=membership)
        for name, kind in (("student", "students"), ("provider", "providers")):
            search = self.fields.get(name)
            if isinstance(search, SearchChoiceField):
                search.bind(
                    queryset=people[kind],
                    matches_url=reverse(f"relationships:search_{kind}", args=[organization.slug]),
                )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        today = timezone.localdate()
        chosen = data.get("range") or ""
        typed_from, typed_to = data.get("date_from"), data.get("date_to")
        if chosen == CUSTOM or (not chosen and (typed_from or typed_to)):
            end = typed_to or today
            start = typed_from or end - timedelta(days=29)
            if start > end:
                self.add_error("date_from", FROM_AFTER_UNTIL)
                return data
            chosen = CUSTOM
        else:
            chosen = chosen or DEFAULT_RANGE
            start, end = preset_range(chosen, today)
        period = data.get("period") or automatic_period(start, end)
        if period == Period.DAY and (end - start).days + 1 > MAX_DAYS_BY_DAY:
            self.add_error("period" if "period" in self.fields else None, TOO_MANY_DAYS)
            return data
        data |= {"range": chosen, "start": start, "end": end, "period": period}
        return data

    def scope(self) -> Scope:
        """The scope of a valid form."""
        data = self.cleaned_data
        return Scope(
            organization=self.organization,
            membership=self.membership,
            start=data["start"],
            end=data["end"],
            period=data["period"],
            service_type=data.get("service_type"),
            provider=data.get("provider"),
            student=data.get("student"),
        )
