import django_filters
from django.db.models import Q, QuerySet

from matchpal.fields import ListedChoiceFilter
from matchpal.models import Organization, ServiceType
from providers.models import Provider, ProviderStatus


class ProviderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=ProviderStatus.choices, empty_label="Any status")
    service_type = ListedChoiceFilter(
        field_name="service_types",
        queryset=ServiceType.objects.none(),
        to_field_name="public_id",
        empty_label="Any service",
    )

    class Meta:
        model = Provider
        fields = ["q", "status", "service_type"]

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.filters["service_type"].queryset = ServiceType.objects.filter(
            organization=organization
        )

    def search(self, queryset: QuerySet[Provider], name: str, value: str) -> QuerySet[Provider]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(email__icontains=value))
