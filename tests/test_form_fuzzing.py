"""The form fuzzer (issue 9 item 12; docs/testing.md, "Fuzzing").

For every tenant page (from the URL resolver, arguments filled by `tests/isolation.py`) and the
other form pages a member uses, as each role: GET it, parse every form it shows, and submit each
form with its defaults, replacing one field at a time with each value of
`tests/fuzzing/values.py`, then the unchanged form twice (same idempotency token). Nothing may
answer 5xx, and a re-rendered form (200 or 400) must have written nothing. A Form, ModelForm or
FilterSet class of the project that no page builds fails `test_every_form_class_is_reached`.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.template.base import Template
from django.test import Client, TestCase
from django.urls import Resolver404, resolve

from tests.fuzzing.discovery import (
    EXTRA_PAGES,
    UNREACHABLE_ALLOWED,
    FoundForm,
    instantiated_form_classes,
    label,
    page_paths,
    parse_forms,
    project_form_classes,
    row_counts,
)
from tests.fuzzing.values import HOSTILE
from tests.isolation import POSTS, ROLES, TenantRoute, persona_client, tenant_routes
from tests.support import Tenant


@pytest.fixture(autouse=True)
def _uninstrumented_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fuzzer reads only status codes and the database, never `response.context`; the test
    # runner's instrumented render copies the context for every widget template, which is most of
    # the time of a fuzzed page. Render as production does.
    monkeypatch.setattr(Template, "_render", lambda self, context: self.nodelist.render(context))


ROUTES = {route.name: route for route in tenant_routes()}
PAGES: list[tuple[str, TenantRoute | None]] = [
    (name, route) for name, route in ROUTES.items() if not POSTS.spec_for(name).post_only
] + [(name, None) for name in EXTRA_PAGES]
PAGE_NAMES = {name for name, _ in PAGES}


def _submit(client: Client, form: FoundForm, data: dict[str, Any]) -> HttpResponse:
    if form.method == "post":
        return client.post(form.action, data)
    return client.get(form.action, data)


@dataclass
class Attempt:
    responses: list[HttpResponse]
    counts: list[dict[str, int]]  # row counts after each submit
    after_commit: str | None  # an error raised by what the request queued for after commit


def attempt(client: Client, tenant: Tenant, form: FoundForm, *submits: dict[str, Any]) -> Attempt:
    """Submit `form` once per body inside a savepoint rolled back afterwards, so every attempt
    starts from the same rows (and the same unused idempotency token). What the request queued
    for after commit (emails) runs too, as it would after a real commit."""
    result = Attempt([], [], None)
    with transaction.atomic():
        try:
            for data in submits:
                with TestCase.captureOnCommitCallbacks(execute=True):
                    response = _submit(client, form, data)
                result.responses.append(response)
                if response.status_code >= 500:
                    break  # the transaction may be broken: nothing more to count
                result.counts.append(row_counts(tenant))
        except Exception as error:  # reported as a failure, with its text
            result.after_commit = f"{type(error).__name__}: {error}"[:300]
        transaction.set_rollback(True)
    return result


def _server_error(response: HttpResponse) -> str | None:
    if response.status_code < 500:
        return None
    error = getattr(response, "exc_info", None)
    return f"{response.status_code} {error[1]!r}"[:300] if error else str(response.status_code)


def _changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {k: (before.get(k, 0), n) for k, n in after.items() if before.get(k, 0) != n}


def fuzz_form(client: Client, tenant: Tenant, form: FoundForm) -> list[str]:
    """Every hostile value in every field of `form`, one at a time; then a double submit."""
    failures: list[str] = []
    base, before = form.defaults(), row_counts(tenant)
    for name in form.names:
        if name == "csrfmiddlewaretoken":
            continue
        for value_label, value in HOSTILE:
            where = f"{form} field {name!r} = {value_label}"
            result = attempt(client, tenant, form, {**base, name: value})
            if result.after_commit:
                failures.append(f"{where}: after commit {result.after_commit}")
                continue
            response = result.responses[0]
            error = _server_error(response)
            if error:
                failures.append(f"{where}: {error}")
            elif form.method == "post" and response.status_code in (200, 400):  # re-rendered
                changed = _changed(before, result.counts[0])
                if changed:
                    failures.append(f"{where}: re-rendered with errors yet wrote {changed}")
    # The unchanged form twice with the same token: the second submit writes nothing more.
    result = attempt(client, tenant, form, base, base)
    where = f"{form} submitted twice"
    if result.after_commit:
        failures.append(f"{where}: after commit {result.after_commit}")
    failures += [f"{where}: {e}" for r in result.responses if (e := _server_error(r))]
    changed = _changed(*result.counts) if len(result.counts) == 2 else {}
    if "token" in base and changed:
        failures.append(f"{where}: the duplicate wrote {changed}")
    return failures


def _page_name(url: str) -> str | None:
    """The name of the opened page `url` points to, if it is one of PAGES."""
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return None
    return match.view_name if match.view_name in PAGE_NAMES else None


def _forms_of(client: Client, path: str) -> list[FoundForm]:
    response = client.get(path)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    return parse_forms(path, response.content.decode())


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "route"), PAGES, ids=[name for name, _ in PAGES])
def test_hostile_values_never_answer_5xx_nor_half_save(
    name: str, route: TenantRoute | None, role: str, tenant_a: Tenant
) -> None:
    client = persona_client(tenant_a, role)
    path = page_paths(route, name, tenant_a)
    assert path is not None

    failures = []
    for form in _forms_of(client, path):
        if _page_name(form.action) not in (name, None):
            continue  # a form posting to another opened page is fuzzed by that page's test
        failures += fuzz_form(client, tenant_a, form)

    assert failures == [], "\n".join(failures)


def test_every_form_class_is_reached(tenant_a: Tenant) -> None:
    """Each project form class is built by some page a role opens or by posting a form it shows."""
    expected = project_form_classes()
    clients = {role: persona_client(tenant_a, role) for role in ROLES}
    paths = [page_paths(route, name, tenant_a) for name, route in PAGES]
    with instantiated_form_classes() as seen:
        for path in paths:
            assert path is not None
            for client in clients.values():
                for form in _forms_of(client, path):
                    attempt(client, tenant_a, form, form.defaults())

    unreached = sorted(label(cls) for cls in expected - seen)
    unreached = [name for name in unreached if name not in UNREACHABLE_ALLOWED]
    assert unreached == [], f"Form classes no page reaches (fuzzer cannot cover them): {unreached}"


def test_the_parser_reads_what_a_browser_would_send() -> None:
    html = """
    <form method="post" action="save/">
      <input type="hidden" name="csrfmiddlewaretoken" value="c">
      <input type="hidden" name="token" value="t1">
      <input name="name" value="Ada &amp; co">
      <input type="checkbox" name="active" checked><input type="checkbox" name="off">
      <input type="radio" name="unit" value="hours"><input type="radio" name="unit" value="min">
      <select name="kind"><option value="">---</option><option value="a">A</option></select>
      <select name="tags" multiple>
        <option value="x" selected>X</option><option value="y">Y</option>
      </select>
      <textarea name="note">hello</textarea>
      <button type="submit" name="decision" value="keep">Keep</button>
    </form>
    <form action="/accounts/logout/" method="post"><button>Sign out</button></form>
    """

    (form,) = parse_forms("/o/alpha/page/", html)

    assert (form.action, form.method) == ("/o/alpha/page/save/", "post")
    assert form.defaults() == {
        "csrfmiddlewaretoken": "c",
        "token": "t1",
        "name": "Ada & co",
        "active": ["on"],
        "unit": ["hours"],
        "kind": ["a"],
        "tags": ["x"],
        "note": "hello",
        "decision": "keep",
    }


def test_the_class_inventory_sees_project_forms_and_not_bases() -> None:
    labels = {label(cls) for cls in project_form_classes()}

    assert "students.forms.StudentForm" in labels
    assert "students.filters.StudentFilter" in labels
    assert "grants.forms.IdempotentForm" not in labels  # a base, reached through its subclasses
