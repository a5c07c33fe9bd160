import django_filters
from django import forms
from django.db.models import Q, QuerySet

from matchpal.models import Organization, ServiceType
from providers.models import Provider
from relationships.models import Relationship, RelationshipStatus
from students.models import Student


class RelationshipFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=RelationshipStatus.choices,
                                         empty_label="Any status")
    service_type = django_filters.ModelChoiceFilter(queryset=ServiceType.objects.none(),
                                                    to_field_name="public_id",
                                                    empty_label="Any service")
    provider = django_filters.ModelChoiceFilter(queryset=Provider.objects.none(),
                                                to_field_name="public_id",
                                                empty_label="Any provider")
    student = django_filters.ModelChoiceFilter(queryset=Student.objects.none(),
                                               to_field_name="public_id",
                                               empty_label="Any student")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte",
                                              label="Created from",
                                              widget=forms.DateInput(attrs={"type": "date"}))
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte",
                                               label="Created until",
                                               widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Relationship
        fields = ["q", "status", "service_type", "provider", "student", "created_after",
                  "created_before"]

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.filters["service_type"].queryset = ServiceType.objects.filter(
            organization=organization)
        self.filters["provider"].queryset = Provider.objects.filter(organization=organization)
        self.filters["student"].queryset = Student.objects.filter(organization=organization)

    def search(self, queryset: QuerySet[Relationship], name: str,
               value: str) -> QuerySet[Relationship]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(student__name__icontains=value)
                               | Q(provider__name__icontains=value))
