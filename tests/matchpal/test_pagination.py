"""One `paginate()` and one pagination partial for every list."""

from urllib.parse import parse_qs, urlsplit

from django.template.loader import render_to_string
from django.test import RequestFactory

from matchpal.pagination import paginate


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
