"""The tenant-isolation crawler.

Every URL under `/o/<org_slug>/` is taken from the URL resolver and requested, with GET and with
a plausible POST, by an anonymous visitor and by each role of organization A, carrying
organization B's ids (under A's slug, then under B's own slug). Nobody but B's members may learn
anything about B or change it:

- anonymous → 302 to the sign-in page, whatever the ids;
- A's members → 404; 403 only where `tenant_view` refuses the role before any lookup (so the
  answer is the same for every id), and 405 to a GET of a POST-only view (decided before the
  tenant is even resolved);
- afterwards every row B owns is unchanged and nothing was queued for after commit (no email).

How each URL's kwargs and POST body are made lives in `tests/isolation.py`: a new URL without
them fails here with a message saying what to register.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client

from students.models import Student
from tests.isolation import (
    KWARGS,
    PERSONAS,
    POSTS,
    MissingResolver,
    TenantRoute,
    persona_client,
    registry_problems,
    snapshot,
    snapshot_diff,
    tenant_models,
    tenant_routes,
)
from tests.support import Tenant

LOGIN_PATH = "/accounts/login/"
ROUTES = tenant_routes()


@dataclass(frozen=True)
class Visit:
    route: TenantRoute
    method: str
    path: str
    data: dict[str, object]
    expected: int


def _require_registry() -> None:
    problems = registry_problems(ROUTES)
    if problems:
        pytest.fail("Tenant URLs the crawler cannot fill:\n" + "\n".join(problems))


def _check(response: HttpResponse, visit: Visit) -> str | None:
    where = f"{visit.method} {visit.path} [{visit.route.name}]"
    if response.status_code != visit.expected:
        error = getattr(response, "exc_info", None)
        detail = f" raised {error[1]!r}" if error else ""
        return f"{where}: {response.status_code} (expected {visit.expected}){detail}"
    if visit.expected == 302:
        location = urlsplit(response["Location"])
        if location.path != LOGIN_PATH or parse_qs(location.query).get("next") != [visit.path]:
            return f"{where}: redirected to {response['Location']}, not to sign in"
    return None


def crawl(client: Client, visits: list[Visit]) -> list[str]:
    failures = []
    for visit in visits:
        if visit.method == "GET":
            response = client.get(visit.path)
        else:
            response = client.post(visit.path, visit.data)
        problem = _check(response, visit)
        if problem:
            failures.append(problem)
    return failures


def _expected(route: TenantRoute, persona: str, method: str, *, own_slug: bool) -> int:
    if method == "GET" and POSTS.spec_for(route.name).post_only:
        return 405
    if persona == "anonymous":
        return 302
    roles = getattr(route.callback, "tenant_roles", None)
    if own_slug and roles is not None and persona not in roles:
        # tenant_view refuses the role before the view looks anything up: same for every id.
        return 403
    return 404


def plan(*, persona: str, slug: str, ids_of: Tenant, own_slug: bool) -> list[Visit]:
    visits = []
    for route in ROUTES:
        if own_slug and persona != "anonymous" and not route.kwargs:
            continue  # A's own list pages are the role matrix's business
        path = route.path(slug, KWARGS.fill(route, ids_of))
        data = POSTS.spec_for(route.name).data(ids_of)
        visits += [
            Visit(
                route,
                method,
                path,
                data if method == "POST" else {},
                _expected(route, persona, method, own_slug=own_slug),
            )
            for method in ("GET", "POST")
        ]
    return visits


def _crawl_and_compare(
    tenant_a: Tenant,
    tenant_b: Tenant,
    persona: str,
    *,
    slug: str,
    own_slug: bool,
    capture: Callable[..., object],
) -> list[str]:
    client = persona_client(tenant_a, persona)
    visits = plan(persona=persona, slug=slug, ids_of=tenant_b, own_slug=own_slug)
    before = snapshot(tenant_b.organization)
    with capture() as callbacks:  # type: ignore[attr-defined]
        failures = crawl(client, visits)
    failures += snapshot_diff(before, snapshot(tenant_b.organization))
    failures += [f"queued after commit: {callback}" for callback in callbacks]
    return failures


# --- The resolver walk and the registry -----------------------------------------------------


def test_the_walk_finds_tenant_urls_with_namespaced_names_and_full_routes() -> None:
    found = {route.name: (route.route, route.kwargs) for route in ROUTES}

    assert found["org_home"] == ("o/<slug:org_slug>/", ())
    assert found["members"] == ("o/<slug:org_slug>/members/", ())
    assert found["member_remove"] == (
        "o/<slug:org_slug>/members/<uuid:public_id>/remove/",
        ("public_id",),
    )
    assert found["students:list"] == ("o/<slug:org_slug>/students/", ())
    assert found["students:detail"] == (
        "o/<slug:org_slug>/students/<uuid:public_id>/",
        ("public_id",),
    )
    assert found["providers:invite"] == (
        "o/<slug:org_slug>/providers/<uuid:public_id>/invite/",
        ("public_id",),
    )
    assert "organization_list" not in found
    assert "healthz" not in found
    assert all(route.route.startswith("o/") for route in ROUTES)
    assert len(found) == len(ROUTES)


def test_every_tenant_url_can_be_crawled(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _require_registry()
    routed = {route.name for route in ROUTES}
    assert sorted(set(POSTS.specs) - routed) == [], "POSTS entries for URLs that no longer exist"
    for route in ROUTES:
        values_b, values_a = KWARGS.fill(route, tenant_b), KWARGS.fill(route, tenant_a)
        # The resolvers read the tenant they are given: B's ids are not A's.
        for kwarg in route.kwargs:
            assert values_b[kwarg] != values_a[kwarg], (route.name, kwarg)


def test_a_kwarg_without_resolver_fails_naming_the_url_and_the_kwarg() -> None:
    route = TenantRoute(
        name="grants:detail",
        route="o/<slug:org_slug>/grants/<uuid:grant_id>/",
        kwargs=("grant_id",),
        converters={"grant_id": "UUIDConverter"},
        callback=lambda request: None,
        takes_org_slug=True,
    )

    with pytest.raises(MissingResolver, match="'grant_id' of 'grants:detail'"):
        KWARGS.fill(route, tenant=None)  # type: ignore[arg-type]
    with pytest.raises(MissingResolver, match="'grants:detail' has no entry in POSTS"):
        POSTS.spec_for("grants:detail")


def test_the_snapshot_covers_the_tenant_tables() -> None:
    labels = {model._meta.label for model in tenant_models()}

    assert {
        "students.Student",
        "providers.Provider",
        "providers.ProviderService",
        "matchpal.Membership",
        "matchpal.Invitation",
        "matchpal.ServiceType",
    } <= labels


@pytest.mark.parametrize("name", [route.name for route in ROUTES])
def test_the_crawlers_post_would_change_rows_if_a_lookup_were_not_scoped(
    name: str,
    tenant_a: Tenant,
) -> None:
    """Applied to the tenant whose ids it carries, each POST does what it says: so the same POST
    sent with B's ids under A's slug would have changed B had the view forgotten the scoping."""
    _require_registry()
    route = next(r for r in ROUTES if r.name == name)
    spec = POSTS.spec_for(name)
    client = persona_client(tenant_a, spec.by)
    path = route.path(tenant_a.organization.slug, KWARGS.fill(route, tenant_a))
    data = spec.data(tenant_a)
    before = snapshot(tenant_a.organization)

    response = client.post(path, data)

    changes = snapshot_diff(before, snapshot(tenant_a.organization))
    assert bool(changes) is spec.changes, changes
    if spec.changes:
        assert response.status_code == spec.answers, response.content.decode()[:2000]


# --- The crawl --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_b_ids_under_a_slug_are_not_found_and_change_nothing(
    persona: str,
    tenant_a: Tenant,
    tenant_b: Tenant,
    django_capture_on_commit_callbacks,
) -> None:
    _require_registry()

    failures = _crawl_and_compare(
        tenant_a,
        tenant_b,
        persona,
        slug=tenant_a.organization.slug,
        own_slug=True,
        capture=django_capture_on_commit_callbacks,
    )

    assert failures == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_b_slug_is_not_found_for_a_users_and_changes_nothing(
    persona: str,
    tenant_a: Tenant,
    tenant_b: Tenant,
    django_capture_on_commit_callbacks,
) -> None:
    _require_registry()

    failures = _crawl_and_compare(
        tenant_a,
        tenant_b,
        persona,
        slug=tenant_b.organization.slug,
        own_slug=False,
        capture=django_capture_on_commit_callbacks,
    )

    assert failures == []


def test_the_crawler_reports_a_lookup_that_ignores_the_organization(
    tenant_a: Tenant,
    tenant_b: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    """The crawler can fail: with a student lookup by public id alone, it reports the pages."""

    def unscoped_student_get(*, organization: object, public_id: uuid.UUID) -> Student:
        return Student.objects.select_related("user", "organization").get(public_id=public_id)

    monkeypatch.setattr("students.selectors.student_get", unscoped_student_get)
    slug_a, b_student = tenant_a.organization.slug, tenant_b.student

    failures = _crawl_and_compare(
        tenant_a,
        tenant_b,
        "admin",
        slug=slug_a,
        own_slug=True,
        capture=django_capture_on_commit_callbacks,
    )

    detail = f"/o/{slug_a}/students/{b_student.public_id}/"
    assert f"GET {detail} [students:detail]: 200 (expected 404)" in failures
    assert f"POST {detail}edit/ [students:edit]: 302 (expected 404)" in failures
    assert any(f.startswith(f"students.Student #{b_student.pk} changed: ") for f in failures)


# --- Malformed and unknown ids, unknown organizations ----------------------------------------


def test_a_non_uuid_student_id_is_not_found(admin_client_a: Client) -> None:
    assert admin_client_a.get("/o/alpha/students/not-a-uuid/").status_code == 404
    assert admin_client_a.post("/o/alpha/students/not-a-uuid/edit/").status_code == 404


@pytest.mark.parametrize("persona", ["anonymous", "admin"])
def test_malformed_uuids_are_not_found_never_a_server_error(persona: str, tenant_a: Tenant) -> None:
    _require_registry()
    client, slug = persona_client(tenant_a, persona), tenant_a.organization.slug
    visits = []
    for route in ROUTES:
        values = KWARGS.fill(route, tenant_a)
        for kwarg in route.uuid_kwargs:
            real = str(values[kwarg])
            malformed = {"not-a-uuid", real.upper(), real[:-1], real + "0", real.replace("-", "")}
            for bad in sorted(malformed - {real}):
                path = route.raw_path(slug, {**values, kwarg: bad})
                visits += [Visit(route, method, path, {}, 404) for method in ("GET", "POST")]
    assert visits

    assert crawl(client, visits) == []


def test_unknown_ids_are_not_found_for_the_role_that_may_act(tenant_a: Tenant) -> None:
    """Each URL with a well-formed id that matches nothing, requested by the role its POST is
    for (the admin, the provider for accept/decline, the student for confirm/dispute)."""
    _require_registry()
    slug = tenant_a.organization.slug
    clients = {role: persona_client(tenant_a, role) for role in ("admin", "provider", "student")}
    unknown = {"UUIDConverter": str(uuid.uuid4()), "IntConverter": "2147483647"}
    visits_by_role: dict[str, list[Visit]] = {role: [] for role in clients}
    for route in ROUTES:
        spec, values = POSTS.spec_for(route.name), KWARGS.fill(route, tenant_a)
        data = spec.data(tenant_a)
        for kwarg in route.kwargs:
            path = route.path(
                slug, {**values, kwarg: unknown.get(route.converters[kwarg], "no-such-thing")}
            )
            visits_by_role[spec.by].append(
                Visit(route, "GET", path, {}, 405 if spec.post_only else 404)
            )
            visits_by_role[spec.by].append(Visit(route, "POST", path, data, 404))
    before = snapshot(tenant_a.organization)

    failures = [f for role, visits in visits_by_role.items() for f in crawl(clients[role], visits)]

    assert failures == []
    assert snapshot_diff(before, snapshot(tenant_a.organization)) == []


@pytest.mark.parametrize("persona", ["admin", "provider", "student"])
def test_an_unknown_organization_is_not_found(persona: str, tenant_a: Tenant) -> None:
    _require_registry()
    client = persona_client(tenant_a, persona)
    visits = []
    for route in ROUTES:
        path = route.path("no-such-org", KWARGS.fill(route, tenant_a))
        data = POSTS.spec_for(route.name).data(tenant_a)
        visits.append(
            Visit(route, "GET", path, {}, 405 if POSTS.spec_for(route.name).post_only else 404)
        )
        visits.append(Visit(route, "POST", path, data, 404))

    assert crawl(client, visits) == []
