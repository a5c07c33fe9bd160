import django_filters
from django.db.models import QuerySet

from integrations.woocommerce.models import Delivery, DeliveryStatus, ErrorKind, OrderError


class OrderErrorFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ErrorKind.choices, empty_label="Any kind")
    state = django_filters.ChoiceFilter(
        choices=[("open", "Open"), ("resolved", "Resolved")],
        method="by_state",
        empty_label="Open and resolved",
        label="State",
    )

    class Meta:
        model = OrderError
        fields = ["kind", "state"]

    def by_state(
        self, queryset: QuerySet[OrderError], name: str, value: str
    ) -> QuerySet[OrderError]:
        if value == "open":
            return queryset.filter(resolved_at__isnull=True)
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices, empty_label="Any status")
    topic = django_filters.CharFilter(lookup_expr="icontains")
    signature_valid = django_filters.BooleanFilter(label="Signature valid")

    class Meta:
        model = Delivery
        fields = ["status", "topic", "signature_valid"]
