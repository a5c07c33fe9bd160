import django_filters

from matchpal.fields import BoundedDateFilter
from matchpal.models import Membership, Organization
from matchpal.search import SearchChoiceFilter
from providers.models import Provider
from relationships.filters import search_people
from sessions_app.models import Session, SessionKind, SessionStatus
from students.models import Student


class SessionFilter(django_filters.FilterSet):
    student = SearchChoiceFilter(
        field_name="relationship__student", queryset=Student.objects.none(), noun="student"
    )
    provider = SearchChoiceFilter(
        field_name="relationship__provider", queryset=Provider.objects.none(), noun="provider"
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
        search_people(self.filters, organization=organization, membership=membership)
