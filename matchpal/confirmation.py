"""A second look before destroying.

A one-click destructive action (deactivate, remove a member, revoke an invitation, stop
offering a package or service type) first answers with a page that says what will happen and
offers Confirm and Cancel. Only a POST carrying `confirm=yes` acts. The view looks the object
up (tenant-scoped, 404 for a foreign id) *before* asking, so a stranger never sees the page.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"


def is_confirmed(request: HttpRequest) -> bool:
    return request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


def ask(
    request: HttpRequest,
    *,
    title: str,
    consequence: str,
    action_label: str,
    cancel_url: str,
) -> HttpResponse:
    """The confirmation page: the same POST again (its fields kept) plus `confirm=yes`."""
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in {"csrfmiddlewaretoken", CONFIRM_FIELD}
        for value in values
    ]
    return render(
        request,
        "matchpal/confirm.html",
        {
            "title": title,
            "consequence": consequence,
            "action_label": action_label,
            "cancel_url": cancel_url,
            "fields": fields,
            "confirm_field": CONFIRM_FIELD,
            "confirm_value": CONFIRM_VALUE,
        },
    )
