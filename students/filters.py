import django_filters
from django.db.models import Q, QuerySet

from students.models import Student, StudentStatus


class StudentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=StudentStatus.choices, empty_label="Any status")

    class Meta:
        model = Student
        fields = ["q", "status"]

    def search(self, queryset: QuerySet[Student], name: str, value: str) -> QuerySet[Student]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(email__icontains=value))
