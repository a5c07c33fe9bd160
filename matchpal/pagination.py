"""Every list is paged the same way: `paginate()` here, `partials/pagination.html` to show it."""

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.http import HttpRequest


def paginate(
    request: HttpRequest,
    items: Any,
    *,
    param: str = "page",
    per_page: int | None = None,
) -> Page[Any]:
    """The page of `items` (a queryset or a list) asked for by `?<param>=`, `MATCHPAL_PAGE_SIZE`
    long: the first page when the number is missing or not a number, the last when too large."""
    paginator = Paginator(items, per_page or settings.MATCHPAL_PAGE_SIZE)
    return paginator.get_page(request.GET.get(param))
