"""Pages that htmx updates in place: one named partial of the page's template (Django's
`{% partialdef %}`) answers htmx's request, the whole page answers everyone else."""

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers


def wants_partial(request: HttpRequest, partial: str) -> bool:
    """htmx asks for the element with id `partial` (not for a whole page to restore history)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-History-Restore-Request") != "true"
        and headers.get("HX-Target") == partial
    )


def render_page(
    request: HttpRequest, template: str, context: Mapping[str, Any], *, partial: str
) -> HttpResponse:
    """`template` rendered whole, or, when htmx asks for the element `partial`, only the partial
    of that name (whose root element has that id), followed by the messages to show, which htmx
    swaps into the page's message area out of band."""
    if wants_partial(request, partial):
        response = render(request, f"{template}#{partial}", context)
        response.write(render_to_string("partials/messages.html", {"oob": True}, request))
    else:
        response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
