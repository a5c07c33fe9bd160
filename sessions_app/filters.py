import django_filters
from django.db.models import Model, QuerySet

from matchpal.fields import BoundedDateFilter
from matchpal.models import Membership, Organization
from providers.models import Provider
from relationships.filters import people_of
from sessions_app.models import Session, SessionKind, SessionStatus
from sessions_app.selectors import of_relationships
from students.models import Student


class SessionFilter(django_filters.FilterSet):
    student = django_filters.ModelChoiceFilter(
        field_name="student",
        method="of_relationships",
        queryset=Student.objects.none(),
        to_field_name="public_id",
        empty_label="Any student",
    )
    provider = django_filters.ModelChoiceFilter(
        field_name="provider",
        method="of_relationships",
        queryset=Provider.objects.none(),
        to_field_name="public_id",
        empty_label="Any provider",
    )
    status = django_filters.ChoiceFilter(choices=SessionStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=SessionKind.choices, empty_label="Any kind")
    date_from = BoundedDateFilter(
        field_name="starts_at",
        lookup_expr="date__gte",
        label="From",
    )
    date_to = BoundedDateFilter(
        field_name="starts_at",
        lookup_expr="date__lte",
        label="Until",
    )

    class Meta:
        model = Session
        fields = ["student", "provider", "status", "kind", "date_from", "date_to"]

    def __init__(
        self, *args: object, organization: Organization, membership: Membership, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        people = people_of(organization=organization, membership=membership)
        self.filters["student"].queryset = people["students"]
        self.filters["provider"].queryset = people["providers"]

    def of_relationships(
        self, queryset: QuerySet[Session], name: str, value: Model | None
    ) -> QuerySet[Session]:
        """The sessions of the student's or the provider's relationships (`name` says which)."""
        if value is None:
            return queryset
        return of_relationships(queryset, **{name: value})
