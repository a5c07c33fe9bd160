import django_filters
from django.db.models import F, Q, QuerySet

from students.models import Student, StudentStatus


class StudentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=StudentStatus.choices, empty_label="Any status")
    # The balance columns are annotations the ledger adds (`grants.selectors.with_balances`).
    ordering = django_filters.OrderingFilter(
        fields=("name", "free_minutes", "free_sessions"),
        field_labels={
            "name": "Name",
            "free_minutes": "Free to book (hours)",
            "free_sessions": "Free to book (sessions)",
        },
        label="Sort by",
        method="sort",
    )

    class Meta:
        model = Student
        fields = ["q", "status", "ordering"]

    def sort(self, queryset: QuerySet[Student], name: str, value: list[str]) -> QuerySet[Student]:
        """Students without hours of that unit last either way; ties by name."""
        ordering = []
        for param in value:
            field = self.filters["ordering"].get_ordering_value(param)
            column = F(field.removeprefix("-"))
            descending = field.startswith("-")
            ordering.append(
                column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
            )
        return queryset.order_by(*ordering, "name", "id")

    def search(self, queryset: QuerySet[Student], name: str, value: str) -> QuerySet[Student]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(email__icontains=value))
