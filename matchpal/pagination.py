"""Every list is paged the same way: `paginate()` here, `partials/pagination.html` to show it.

A list may grow to a million rows (sessions, ledger history, deliveries), and two things of
Django's `Paginator` then cost as much as the whole table: `COUNT(*)` over every row, and a deep
`OFFSET` that makes PostgreSQL build, sort and skip whole rows (joins included) before the page.
So (docs/lists.md):

- the count stops at what the page needs: at least `COUNT_CAP` rows, or up to the end of the
  asked page and one row more, counted in a `LIMIT` subquery; a list that has more shows
  "more than N" and its last page is not offered;
- the page's rows are read by id: `WHERE id IN (SELECT id … ORDER BY … OFFSET n LIMIT k)`, so
  the sort and the offset walk the list's own table (its index, when one matches the order)
  without joins or annotations, and only the page's rows are joined, annotated and built
  (not for a list with a window function, e.g. a running balance, whose rows depend on the
  rows around them).
"""

from math import ceil
from typing import Any

from django.conf import settings
from django.core.paginator import EmptyPage, InvalidPage, Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """A paginator that counts no further than `limit` rows and pages querysets by id."""

    def __init__(self, object_list: Any, per_page: int, *, limit: int) -> None:
        super().__init__(object_list, per_page)
        self.limit = limit

    @cached_property
    def count(self) -> int:
        """The rows, counted up to `limit + 1` (one more says whether there are more)."""
        items = self.object_list
        if not isinstance(items, QuerySet):
            return len(items)
        return items.order_by().values("pk")[: self.limit + 1].count()

    @property
    def exact(self) -> bool:
        """Whether `count` is every row (False: there are more than `limit`)."""
        return self.count <= self.limit

    @property
    def shown_count(self) -> int:
        return min(self.count, self.limit)

    @cached_property
    def num_pages(self) -> int:
        """The pages known: all of them, or those within `limit` rows when there are more."""
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        return max(1, ceil(self.shown_count / self.per_page))

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        items = self.object_list
        if isinstance(items, QuerySet) and top > bottom and _rows_stand_alone(items):
            ids = items.values("pk")[bottom:top]
            return Page(items.filter(pk__in=ids), number, self)
        # An empty slice of a queryset runs no query at all (an empty list).
        return Page(items[bottom:top], number, self)


def _rows_stand_alone(items: QuerySet[Any]) -> bool:
    """Whether each row's values hold without the rows before it: a window function (a
    running balance) sums over every row of the query, so reading only the page's ids would
    change it; such a list is sliced as it is."""
    return not any(
        getattr(annotation, "contains_over_clause", False)
        for annotation in items.query.annotations.values()
    )


def paginate(
    request: HttpRequest,
    items: Any,
    *,
    param: str = "page",
    per_page: int | None = None,
) -> Page[Any]:
    """The page of `items` (a queryset or a list) asked for by `?<param>=`, `MATCHPAL_PAGE_SIZE`
    long: the first page when the number is missing or not a number, the last when too large
    (the last one counted, for a list of more than `COUNT_CAP` rows)."""
    size = per_page or settings.MATCHPAL_PAGE_SIZE
    number = _asked(request.GET.get(param))
    # Count far enough to know whether the asked page and the next exist, never less than the cap.
    paginator = CappedPaginator(items, size, limit=max(COUNT_CAP, (number + 1) * size))
    try:
        return paginator.page(number)
    except (EmptyPage, InvalidPage):
        return paginator.page(paginator.num_pages)


def _asked(value: str | None) -> int:
    """The page number asked for: 1 when missing, malformed or below 1."""
    try:
        number = int(value or 1)
    except ValueError:
        return 1
    return max(1, min(number, 10**9))
