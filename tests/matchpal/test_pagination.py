"""One `paginate()` and one pagination partial for every list."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.paginator import Page
from django.db import connection
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from matchpal import pagination
from matchpal.pagination import paginate
from students.models import Student
from tests.support import Tenant


def links(html: str) -> list[dict[str, list[str]]]:
    hrefs = [part.split('"', 1)[0] for part in html.split('href="')[1:]]
    return [parse_qs(urlsplit(href.replace("&amp;", "&")).query) for href in hrefs]


def test_the_page_links_keep_every_other_parameter_including_repeated_keys() -> None:
    request = RequestFactory().get("/list/?status=a&status=b&q=x+y&page=2")
    page = paginate(request, list(range(30)), per_page=10)
    html = render_to_string("partials/pagination.html", {"page": page, "request": request})
    previous, following = links(html)
    assert previous == {"status": ["a", "b"], "q": ["x y"], "page": ["1"]}
    assert following == {"status": ["a", "b"], "q": ["x y"], "page": ["3"]}


def test_a_second_list_on_the_page_keeps_the_first_lists_page() -> None:
    request = RequestFactory().get("/list/?page=2&invitations_page=1")
    page = paginate(request, list(range(30)), param="invitations_page", per_page=10)
    html = render_to_string(
        "partials/pagination.html",
        {"page": page, "request": request, "param": "invitations_page"},
    )
    (following,) = links(html)
    assert following == {"page": ["2"], "invitations_page": ["2"]}


def test_a_missing_or_wrong_page_number_shows_the_first_or_last_page() -> None:
    factory = RequestFactory()
    assert paginate(factory.get("/"), list(range(30)), per_page=10).number == 1
    assert paginate(factory.get("/?page=x"), list(range(30)), per_page=10).number == 1
    assert paginate(factory.get("/?page=99"), list(range(30)), per_page=10).number == 3


def test_a_typed_value_cannot_break_out_of_the_link() -> None:
    request = RequestFactory().get("/list/", {"q": '"><script>&x=1', "page": "1"})
    page = paginate(request, list(range(30)), per_page=10)
    html = render_to_string("partials/pagination.html", {"page": page, "request": request})
    assert "<script>" not in html
    assert 'href="?q=%22%3E%3Cscript%3E%26x%3D1&page=2"' in html


# --- Long lists: a capped count and deep pages read by id ---------------------------------


@pytest.fixture
def forty_students(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> QuerySet[Student]:
    """40 students and a cap of 20 rows, so that the list is "more than" its cap."""
    monkeypatch.setattr(pagination, "COUNT_CAP", 20)
    org = tenant_a.organization
    Student.objects.bulk_create(
        Student(organization=org, name=f"Student {n:02}") for n in range(40)
    )
    return Student.objects.filter(organization=org, name__startswith="Student ").order_by(
        "name", "id"
    )


def page_of(students: QuerySet[Student], query: str) -> tuple[Page[Student], list[str]]:
    request = RequestFactory().get(f"/list/{query}")
    with CaptureQueriesContext(connection) as queries:
        page = paginate(request, students, per_page=5)
        list(page)
    return page, [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db
def test_a_list_longer_than_the_cap_is_counted_no_further(
    forty_students: QuerySet[Student],
) -> None:
    page, (count, rows) = page_of(forty_students, "")
    assert "LIMIT 21" in count
    assert (page.paginator.count, page.paginator.exact, page.paginator.num_pages) == (21, False, 4)
    html = render_to_string(
        "partials/pagination.html", {"page": page, "request": RequestFactory().get("/")}
    )
    assert "Page 1 of more than 4" in html
    assert re.search(r'\."id" IN \(SELECT .* LIMIT 5\)', rows)
    assert "OFFSET" not in rows


@pytest.mark.django_db
def test_a_deep_page_past_the_cap_is_read_by_id(forty_students: QuerySet[Student]) -> None:
    page, (count, rows) = page_of(forty_students, "?page=7")
    assert page.number == 7
    assert [s.name for s in page] == [f"Student {n:02}" for n in range(30, 35)]
    assert "LIMIT 21" in count  # no further than the cap, however deep the page
    # The offset is taken over ids alone, with one row more: it says a page follows.
    assert re.search(r'\."id" IN \(SELECT .* LIMIT 6 OFFSET 30\)', rows)
    assert page.has_next()
    html = render_to_string(
        "partials/pagination.html", {"page": page, "request": RequestFactory().get("/")}
    )
    assert "Page 7</span>" in html
    assert 'href="?page=8"' in html
    assert 'href="?page=6"' in html


@pytest.mark.django_db
def test_the_last_page_past_the_cap_says_so(forty_students: QuerySet[Student]) -> None:
    last, _ = page_of(forty_students, "?page=8")
    assert (len(last), last.has_next()) == (5, False)
    html = render_to_string(
        "partials/pagination.html", {"page": last, "request": RequestFactory().get("/")}
    )
    assert "Page 8 (the last)" in html
    assert "Next" not in html
    # Past the end of a list longer than its count: the last page counted.
    assert page_of(forty_students, "?page=500")[0].number == 4


@pytest.mark.django_db
def test_the_last_counted_page_of_a_longer_list_offers_the_next(
    forty_students: QuerySet[Student],
) -> None:
    page, _ = page_of(forty_students, "?page=4")
    assert page.has_next()
    assert page.next_page_number() == 5
