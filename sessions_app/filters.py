from datetime import date, datetime, time, timedelta

import django_filters
from django.db.models import Model, QuerySet

from matchpal.fields import BoundedDateFilter
from matchpal.models import Membership, Organization
from matchpal.search import SearchChoiceFilter
from providers.models import Provider
from relationships.filters import search_people
from sessions_app.models import Session, SessionKind, SessionStatus
from sessions_app.selectors import of_relationships
from students.models import Student


class SessionFilter(django_filters.FilterSet):
    student = SearchChoiceFilter(
        field_name="student",
        method="of_relationships",
        queryset=Student.objects.none(),
        noun="student",
    )
    provider = SearchChoiceFilter(
        field_name="provider",
        method="of_relationships",
        queryset=Provider.objects.none(),
        noun="provider",
    )
    status = django_filters.ChoiceFilter(choices=SessionStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=SessionKind.choices, empty_label="Any kind")
    date_from = BoundedDateFilter(field_name="starts_at", method="starting_from", label="From")
    date_to = BoundedDateFilter(field_name="starts_at", method="starting_until", label="Until")

    class Meta:
        model = Session
        fields = ["student", "provider", "status", "kind", "date_from", "date_to"]

    def __init__(
        self, *args: object, organization: Organization, membership: Membership, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        search_people(self.filters, organization=organization, membership=membership)

    def of_relationships(
        self, queryset: QuerySet[Session], name: str, value: Model | None
    ) -> QuerySet[Session]:
        """The sessions of the student's or the provider's relationships (`name` says which)."""
        if value is None:
            return queryset
        return of_relationships(queryset, **{name: value})

    # The days are the center's, as a range of `starts_at` (its midnights), not the date of each
    # session's start (`starts_at__date`): a range walks the index on the start, a date computed
    # per row reads every session of the center.

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.organization.tz)

    def starting_from(
        self, queryset: QuerySet[Session], name: str, value: date
    ) -> QuerySet[Session]:
        return queryset.filter(starts_at__gte=self._midnight(value))

    def starting_until(
        self, queryset: QuerySet[Session], name: str, value: date
    ) -> QuerySet[Session]:
        return queryset.filter(starts_at__lt=self._midnight(value + timedelta(days=1)))
