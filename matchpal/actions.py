"""Running an action from a view, the same way on every page.

A view gathers what the action needs (the object, a valid form), then hands the service call to
`run_action`: on success it shows the success message and redirects; when the service refuses
(a `DomainError`) the message goes on the form, which the view shows again, or, for a button
without a form, becomes an error message on the page it redirects to. `action_page` is the
whole view for an action that has its own small form page (`action_form.html`).
"""

from collections.abc import Callable, Mapping
from typing import Any, Final, overload

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from matchpal.errors import DomainError


class _FromError:
    def __repr__(self) -> str:
        return "FROM_ERROR"


FROM_ERROR: Final = _FromError()
"""Show a refusal on the field the error names when the form has it, else above the form."""

ErrorField = str | None | _FromError | Callable[[DomainError], str | _FromError | None]
"""Where a refusal goes on the form: a field's name, None (above the form), `FROM_ERROR`, or a
function of the error giving one of those."""

Then = Any  # whatever `redirect()` takes: a URL, a URL name, an object with get_absolute_url()


@overload
def run_action[T](
    request: HttpRequest,
    action: Callable[[], T],
    *,
    success: str | Callable[[T], str],
    then: Then | Callable[[T], Then],
    form: None = None,
    otherwise: Then | None = None,
    notices: tuple[type[DomainError], ...] = (),
) -> HttpResponse: ...


@overload
def run_action[T](
    request: HttpRequest,
    action: Callable[[], T],
    *,
    success: str | Callable[[T], str],
    then: Then | Callable[[T], Then],
    form: forms.BaseForm,
    field: ErrorField = FROM_ERROR,
    otherwise: Then | None = None,
    notices: tuple[type[DomainError], ...] = (),
) -> HttpResponse | None: ...


def run_action[T](
    request: HttpRequest,
    action: Callable[[], T],
    *,
    success: str | Callable[[T], str],
    then: Then | Callable[[T], Then],
    form: forms.BaseForm | None = None,
    field: ErrorField = FROM_ERROR,
    otherwise: Then | None = None,
    notices: tuple[type[DomainError], ...] = (),
) -> HttpResponse | None:
    """Run `action()` (a service call) and answer the request:

    - it succeeds: `success` becomes a success message and the answer redirects to `then`
      (either may be made from the action's result by passing a function);
    - it raises one of `notices` (a double submit that was applied already): its message as
      information, and a redirect to `otherwise` (or `then`);
    - it raises another `DomainError`: with a `form`, the message goes on the form (where
      `field` says, see `FROM_ERROR`) and the answer is None, so the view shows the form again;
      without one, an error message and a redirect to `otherwise` (or `then`).
    """
    try:
        result = action()
    except notices as notice:
        messages.info(request, notice.message)
        return redirect(_fallback(then, otherwise))
    except DomainError as error:
        if form is None:
            messages.error(request, error.message)
            return redirect(_fallback(then, otherwise))
        form.add_error(_error_field(form, error, field), error.message)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return redirect(then(result) if callable(then) else then)


def action_page(
    request: HttpRequest,
    *,
    form: forms.BaseForm | None,
    action: Callable[[Mapping[str, Any]], Any],
    success: str | Callable[[Any], str],
    then: Then,
    context: Mapping[str, Any] | None = None,
    field: ErrorField = None,
    notices: tuple[type[DomainError], ...] = (),
) -> HttpResponse:
    """The view of an action with its own page: GET shows `form` on `action_form.html` (with
    `context`: `title`, `submit`, `back_url`, and the `grant`, `session` or `relationship` it
    is about); a POST with a valid form runs `action(form.cleaned_data)` through `run_action`
    and redirects to `then`, or shows the form again with the refusal. Without a form (a
    button) a POST runs the action at once and a GET just goes back to `then`."""
    if request.method == "POST" and form is None:
        return run_action(request, lambda: action({}), success=success, then=then)
    if request.method == "POST" and form is not None and form.is_valid():
        cleaned = form.cleaned_data
        done = run_action(
            request,
            lambda: action(cleaned),
            form=form,
            field=field,
            success=success,
            then=then,
            notices=notices,
        )
        if done is not None:
            return done
    if form is None:
        return redirect(then)
    return render(request, "action_form.html", {"form": form, **(context or {})})


def _fallback(then: Any, otherwise: Any) -> Any:
    if otherwise is not None:
        return otherwise
    if callable(then):
        raise TypeError("run_action needs `otherwise` when `then` is made from the result")
    return then


def _error_field(form: forms.BaseForm, error: DomainError, field: ErrorField) -> str | None:
    if callable(field):
        field = field(error)
    if isinstance(field, _FromError):
        return error.field if error.field in form.fields else None
    return field
