"""Every list is paged the same way: `paginate()` here, `partials/pagination.html` to show it.

A list may grow to a million rows (sessions, ledger history, deliveries), and two things of
Django's `Paginator` then cost as much as the whole table: `COUNT(*)` over every row, and a deep
`OFFSET` that makes PostgreSQL build, sort and skip whole rows (joins included) before the page.
So (docs/lists.md):

- the count stops at `COUNT_CAP` rows and one more, in a `LIMIT` subquery; a list that has
  more shows "more than N" pages, and a page past the count is read with one row more, which
  says whether a next page follows (its last page is reached by Next, not offered);
- the page's rows are read by id: `WHERE id IN (SELECT id … ORDER BY … OFFSET n LIMIT k)`, so
  the sort and the offset walk the list's own table (its index, when one matches the order)
  without joins or annotations, and only the page's rows are joined, annotated and built
  (not for a list with a window function, e.g. a running balance, whose rows depend on the
  rows around them).
"""

from collections.abc import Callable
from math import ceil
from typing import Any

from django.conf import settings
from django.core.paginator import EmptyPage, InvalidPage, Page, Paginator
from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet
from django.db.models.sql.where import WhereNode
from django.http import HttpRequest
from django.utils.functional import cached_property

from matchpal.compiled import Compiled, Rows, available, together

COUNT_CAP = 10_000


class CappedPage(Page):  # type: ignore[type-arg]
    """A page of a list that may have more rows than were counted: past the count, whether a
    next page exists was read with the page (`more`), not counted."""

    def __init__(self, object_list: Any, number: int, paginator: "CappedPaginator") -> None:
        super().__init__(object_list, number, paginator)
        self.more: bool | None = None  # known only for a page past the count
        self.capped: CappedPaginator = paginator

    def has_next(self) -> bool:
        if self.more is not None:
            return self.more
        # The last page counted of a list with more rows than the cap is followed by more.
        return self.number < self.capped.num_pages or not self.capped.exact

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def past_count(self) -> bool:
        return self.number > self.capped.num_pages


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """A paginator that counts no further than `limit` rows and pages querysets by id."""

    def __init__(self, object_list: Any, per_page: int, *, limit: int = COUNT_CAP) -> None:
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
        """The pages counted: all of them, or those within `limit` rows when there are more."""
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        return max(1, ceil(self.shown_count / self.per_page))

    def page(self, number: Any) -> CappedPage:
        if isinstance(number, int) and not self.exact and number > self.num_pages:
            return self._past_count(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        items = self.object_list
        if isinstance(items, QuerySet) and top > bottom and _rows_stand_alone(items):
            ids = items.values("pk")[bottom:top]
            return CappedPage(items.filter(pk__in=ids), number, self)
        # An empty slice of a queryset runs no query at all (an empty list).
        return CappedPage(items[bottom:top], number, self)

    def _past_count(self, number: int) -> CappedPage:
        """A page past the rows counted: read with one row more, which says whether another
        page follows, so a deep page costs its offset and no count as deep."""
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page + 1
        items = self.object_list
        if isinstance(items, QuerySet) and _rows_stand_alone(items):
            rows = list(items.filter(pk__in=items.values("pk")[bottom:top]))
        else:
            # A queryset with a window function, or a sequence whose length is a capped
            # count of its own (grants.history.History), is sliced as it is. (A list's
            # length is all of it: never counted short.)
            rows = list(items[bottom:top])
        if not rows:
            raise EmptyPage("That page contains no results")
        page = CappedPage(rows[: self.per_page], number, self)
        page.more = len(rows) > self.per_page
        return page


class ReadPaginator(CappedPaginator):
    """`CappedPaginator` over a list read by two functions rather than a queryset: `count(n)`,
    the rows counted up to `n`, and `rows(offset, limit)`, a slice in the list's order. For
    the lists whose statements are compiled once (`matchpal.compiled`, `Rows`): the same
    count, pages and past-the-count pages as a queryset's."""

    def __init__(
        self,
        *,
        count: Callable[[int], int],
        rows: Callable[[int, int], list[Any]],
        per_page: int,
        limit: int = COUNT_CAP,
    ) -> None:
        super().__init__([], per_page, limit=limit)
        self._count, self._rows = count, rows

    @cached_property
    def count(self) -> int:
        return self._count(self.limit + 1)

    def page(self, number: Any) -> CappedPage:
        if isinstance(number, int) and not self.exact and number > self.num_pages:
            return self._past_count(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        return CappedPage(self._rows(bottom, top - bottom) if top > bottom else [], number, self)

    def _past_count(self, number: int) -> CappedPage:
        rows = self._rows((number - 1) * self.per_page, self.per_page + 1)
        if not rows:
            raise EmptyPage("That page contains no results")
        page = CappedPage(rows[: self.per_page], number, self)
        page.more = len(rows) > self.per_page
        return page


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
    (the last one counted, for a list of more than `COUNT_CAP` rows whose end was passed)."""
    size = per_page or settings.MATCHPAL_PAGE_SIZE
    return page_of(request, CappedPaginator(items, size, limit=COUNT_CAP), param=param)


def paginate_read(
    request: HttpRequest,
    *,
    count: Callable[[int], int],
    rows: Callable[[int, int], list[Any]],
    param: str = "page",
) -> Page[Any]:
    """`paginate` for a list read by functions (`ReadPaginator`): the same page for the same
    `?<param>=`, `MATCHPAL_PAGE_SIZE` long."""
    paginator = ReadPaginator(
        count=count, rows=rows, per_page=settings.MATCHPAL_PAGE_SIZE, limit=COUNT_CAP
    )
    return page_of(request, paginator, param=param)


def paginate_by_ids(
    request: HttpRequest,
    *,
    ids: QuerySet[Any],
    rows: QuerySet[Any],
    param: str = "page",
) -> Page[Any]:
    """`paginate` for a list whose order and filters live in a narrow table beside its rows (a
    summary kept by triggers, such as the warning signs' `PairingActivity` and `ShortSession`)
    with an index in the list's order: `ids` is that table's rows in the list's order, as the
    primary keys of the rows shown (`values_list("relationship_id", flat=True)`), and `rows` the
    rows shown, in the same order. The count and the page's slice read `ids` alone, through
    its index and without a join; only the page's rows are joined and built, in the same
    statement (`rows` filtered by the slice). Reading the list as `rows` filtered by `ids`
    instead joined every row of it to the summary to sort and count them."""
    return paginate_read(
        request,
        count=lambda n: ids.order_by()[:n].count(),
        rows=lambda offset, limit: list(rows.filter(pk__in=ids[offset : offset + limit])),
        param=param,
    )


class CompiledByIds:
    """`paginate_by_ids`'s two statements for `build(**values)`, which returns the list's
    `(ids, rows)`, compiled once (`matchpal.compiled.Compiled`, the page's bounds bound as
    `Rows`): the capped count of `ids`, and the page's `rows` by the slice of `ids`. The rows'
    statement keeps none of `rows`' own filters, as `CompiledList`'s page does: the slice of
    `ids` carries the list's (the organization first), and the generic plan of a prepared
    statement filtered by the organization again may start from the organization's rows."""

    def __init__(self, build: Callable[..., tuple[QuerySet[Any], QuerySet[Any]]], **kinds: type):
        self.counted = Compiled(
            lambda limit, **values: build(**values)[0].order_by()[:limit], limit=Rows, **kinds
        )
        self.page = Compiled(
            lambda offset, limit, **values: _slice_of(*build(**values), offset, limit),
            offset=Rows,
            limit=Rows,
            **kinds,
        )

    def paginate(
        self,
        request: HttpRequest,
        *,
        param: str = "page",
        together_read: Callable[[int, int, int], tuple[int, list[Any]]] | None = None,
        **values: Any,
    ) -> Page[Any]:
        """The page `paginate_by_ids` gives for `build(**values)`, from the compiled
        statements. The count and the page asked for (`?<param>=`, with one row more, which
        says past the count whether another page follows) are sent in one round trip: the page
        does not wait for the count. Only a page that turns out not to be there (past the
        last) is read again, the last one, after the count.

        `together_read(offset, limit, cap)`, when given, reads the count (up to `cap`) and
        that slice's rows in one statement of the caller's instead (a list whose keys cost
        more to find than to count twice: repeated cancellations' grouping); the page read
        again, if any, still comes from the compiled statements."""

        def count(n: int) -> int:
            return self.counted.count(**values, limit=n)

        def rows(offset: int, limit: int) -> list[Any]:
            return self.page.rows(**values, offset=offset, limit=limit)

        if not available(DEFAULT_DB_ALIAS):
            return paginate_read(request, count=count, rows=rows, param=param)
        size = settings.MATCHPAL_PAGE_SIZE
        asked, fetched = (_asked(request.GET.get(param)) - 1) * size, size + 1
        cap = COUNT_CAP + 1
        if together_read is None:
            (((counted,),), found) = together(
                self.counted.count_statement(**values, limit=cap),
                (self.page, {**values, "offset": asked, "limit": fetched}),
            )
        else:
            counted, found = together_read(asked, fetched, cap)

        def count_of(n: int) -> int:
            return int(counted) if n == cap else count(n)

        def rows_of(offset: int, limit: int) -> list[Any]:
            return found[:limit] if offset == asked and limit <= fetched else rows(offset, limit)

        return paginate_read(request, count=count_of, rows=rows_of, param=param)


def _slice_of(ids: QuerySet[Any], rows: QuerySet[Any], offset: int, limit: int) -> QuerySet[Any]:
    """The rows of `ids[offset:offset + limit]`, by those keys alone (see `CompiledByIds`)."""
    page = rows.all()
    page.query.where = WhereNode()
    return page.filter(pk__in=ids[offset : offset + limit])


def only_paged(request: HttpRequest, *, param: str = "page") -> bool:
    """Whether the request asks for a page of a list and nothing else: every other parameter
    empty (a filter form sent blank), so the list's unfiltered statements answer it."""
    return not any(
        value for name, values in request.GET.lists() if name != param for value in values
    )


class CompiledList:
    """A list's two statements as `CappedPaginator` sends them for `build(**values)` (the
    capped count of its ids, and a page's rows by their ids), compiled once
    (`matchpal.compiled.Compiled`, the page's bounds bound as `Rows`). `count_build` and
    `count_kinds`, when given, build the count from fewer values (those its SQL holds)."""

    def __init__(
        self,
        build: Callable[..., QuerySet[Any]],
        *,
        count_build: Callable[..., QuerySet[Any]] | None = None,
        count_kinds: dict[str, type] | None = None,
        **kinds: type,
    ) -> None:
        counted_by = count_build or build
        self.counted = Compiled(
            lambda limit, **values: counted_by(**values).order_by().values("pk")[:limit],
            limit=Rows,
            **(kinds if count_kinds is None else count_kinds),
        )
        self.page = Compiled(
            lambda offset, limit, **values: _by_ids(build(**values), offset, limit),
            offset=Rows,
            limit=Rows,
            **kinds,
        )
        self.count_names = set(kinds if count_kinds is None else count_kinds)

    def paginate(self, request: HttpRequest, *, param: str = "page", **values: Any) -> Page[Any]:
        """The page `paginate` gives for `build(**values)`, from the compiled statements."""
        counted = {name: values[name] for name in self.count_names}
        return paginate_read(
            request,
            count=lambda n: self.counted.count(**counted, limit=n),
            rows=lambda offset, limit: self.page.rows(**values, offset=offset, limit=limit),
            param=param,
        )


def _by_ids(items: QuerySet[Any], offset: int, limit: int) -> QuerySet[Any]:
    """A page's rows as `CappedPaginator.page` reads them: by the ids of the slice, and by them
    alone. The slice carries every filter of the list; left on the outer statement too (the
    organization first), they let the prepared statement's generic plan, which cannot see that
    one center holds most rows, start from the organization's index and join the page's ids to
    all of its rows (8 ms against 0.4 ms for the relationships list of the large center,
    docs/performance.md "Statements prepared per connection"). A list with aggregates keeps its
    filters on both: a filter before an aggregate over a join changes what it adds up."""
    ids = items.values("pk")[offset : offset + limit]
    rows = items.all()
    if not any(getattr(a, "contains_aggregate", False) for a in rows.query.annotations.values()):
        rows.query.where = WhereNode()
    return rows.filter(pk__in=ids)


def page_of(request: HttpRequest, paginator: CappedPaginator, *, param: str = "page") -> Page[Any]:
    """The page of `paginator` asked for by `?<param>=` (see `paginate`)."""
    number = _asked(request.GET.get(param))
    try:
        return paginator.page(number)
    except (EmptyPage, InvalidPage):
        return paginator.page(paginator.num_pages)


def page_asked(request: HttpRequest, *, param: str = "page") -> int:
    """The page number `?<param>=` asks for, as `paginate` reads it (before it is checked
    against the count): for a page read together with its count."""
    return _asked(request.GET.get(param))


def _asked(value: str | None) -> int:
    """The page number asked for: 1 when missing, malformed or below 1."""
    try:
        number = int(value or 1)
    except ValueError:
        return 1
    return max(1, min(number, 10**9))
