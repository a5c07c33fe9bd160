import django_filters
from django.db.models import QuerySet

from notifications import kinds
from notifications.models import DeliveryStatus, EmailDelivery


class EmailLogFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=kinds.CHOICES, empty_label="Any kind")
    to = django_filters.CharFilter(label="To", method="by_address")

    class Meta:
        model = EmailDelivery
        fields = ["status", "kind", "to"]

    def by_address(
        self, queryset: QuerySet[EmailDelivery], name: str, value: str
    ) -> QuerySet[EmailDelivery]:
        value = value.replace("\x00", "").strip()
        return queryset.filter(to__icontains=value) if value else queryset
