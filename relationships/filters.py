from collections.abc import Mapping

import django_filters
from django.db.models import Q, QuerySet
from django.urls import reverse

from matchpal.fields import BoundedDateFilter, ListedChoiceFilter
from matchpal.models import Membership, Organization, ServiceType
from matchpal.search import SearchChoiceFilter
from providers.models import Provider
from relationships.models import Relationship, RelationshipStatus
from relationships.selectors import visible_to
from students.models import Student


def people_of(
    *, organization: Organization, membership: Membership
) -> dict[str, QuerySet[Student] | QuerySet[Provider]]:
    """The students and providers a member may pick in a filter: all of them for an admin, the
    people of their own relationships for a provider (DESIGN §2: the center's other students
    are not theirs to know about)."""
    students = Student.objects.filter(organization=organization)
    providers = Provider.objects.filter(organization=organization)
    if not membership.is_admin:
        theirs = Relationship.objects.filter(visible_to(membership), organization=organization)
        students = students.filter(pk__in=theirs.values("student_id"))
        providers = providers.filter(pk__in=theirs.values("provider_id"))
    return {"students": students, "providers": providers}


def search_people(
    filters: Mapping[str, django_filters.Filter],
    *,
    organization: Organization,
    membership: Membership,
) -> None:
    """Scope a filter set's `student` and `provider` search fields to `people_of` the member,
    their matches coming from the same people (matchpal/search.py)."""
    people = people_of(organization=organization, membership=membership)
    for name, kind in (("student", "students"), ("provider", "providers")):
        search = filters[name]
        assert isinstance(search, SearchChoiceFilter)
        search.queryset = people[kind]
        search.extra["matches_url"] = reverse(
            f"relationships:search_{kind}", args=[organization.slug]
        )
        search.extra["submit"] = True


class RelationshipFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(
        choices=RelationshipStatus.choices, empty_label="Any status"
    )
    service_type = ListedChoiceFilter(
        queryset=ServiceType.objects.none(), to_field_name="public_id", empty_label="Any service"
    )
    provider = SearchChoiceFilter(queryset=Provider.objects.none(), noun="provider")
    student = SearchChoiceFilter(queryset=Student.objects.none(), noun="student")
    created_after = BoundedDateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="Created from",
    )
    created_before = BoundedDateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="Created until",
    )

    class Meta:
        model = Relationship
        fields = [
            "q",
            "status",
            "service_type",
            "provider",
            "student",
            "created_after",
            "created_before",
        ]

    def __init__(
        self, *args: object, organization: Organization, membership: Membership, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        self.filters["service_type"].queryset = ServiceType.objects.filter(
            organization=organization
        )
        search_people(self.filters, organization=organization, membership=membership)

    def search(
        self, queryset: QuerySet[Relationship], name: str, value: str
    ) -> QuerySet[Relationship]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(student__name__icontains=value) | Q(provider__name__icontains=value)
        )
