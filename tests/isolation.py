"""What the tenant-isolation crawler and the role matrix share.

Every URL under `/o/<org_slug>/` is enumerated from the URL resolver (`tenant_routes()`), never
listed by hand. To request one, the tests need two things per URL, both registered here:

- `KWARGS`: how to fill each URL kwarg other than `org_slug` from a tenant (a `Tenant` of
  `tests/conftest.py`). The crawler fills them from organization B, the role matrix from A.
- `POSTS`: the body a browser would POST to it (so that a view that forgot to scope its lookup
  would really change something), whether a successful POST changes rows, and whether the view
  answers only POST (GET gets 405 before anything else is looked at).

A URL kwarg without a resolver, or a URL without a `POSTS` entry, fails the crawler and the role
matrix with a message naming the URL and what is missing: a page is covered from the moment it is
routed. A new app adds its entries in its own section below (see "grants"), e.g.:

    KWARGS.register("relationships:*", "public_id", lambda t: holding_relationship(t).public_id)
    POSTS.register("relationships:accept", changes=True, post_only=True, by=Role.PROVIDER)

and its row in `EXPECTED` of `tests/test_role_matrix.py`. Resolvers are looked up by URL name
first, then by namespace (`"grants:*"`), then by kwarg name alone (`"*"`: `student_id`,
`provider_id` and `relationship_id` are already there). A generic name like `public_id` stays
per-namespace or per-URL: filled with the wrong kind of object, every request would 404 for a
reason that has nothing to do with tenancy. Resolvers may create what they return (get or create,
so they can be called repeatedly); the crawler calls them all before taking its snapshot.
"""

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from grants import services as grant_services
from grants.forms import PackageForm
from grants.models import Grant, Package
from integrations.woocommerce.forms import StoreForm
from integrations.woocommerce.models import Delivery, ErrorKind, OrderError, Store
from matchpal.forms import OrganizationSettingsForm
from matchpal.models import (
    Invitation,
    Membership,
    Notification,
    Organization,
    Role,
    ServiceType,
    User,
)
from notifications.models import Dispatch, EmailDelivery
from providers.forms import OwnProfileForm, ProviderForm
from providers.models import AvailabilityException, AvailabilityWindow, Provider
from relationships.models import Relationship
from sessions_app import services as session_services
from sessions_app.models import FeedbackQuestion, Session
from students.forms import StudentForm
from students.models import BookingSuspension, Student
from tests.factories import ProviderFactory, RelationshipFactory, make_grant
from tests.reports.export_jobs.support import finished_job
from tests.support import Tenant, client_for, member, whole_hours_ago

TENANT_PREFIX = "o/<slug:org_slug>/"
PERSONAS = ("anonymous", Role.ADMIN.value, Role.PROVIDER.value, Role.STUDENT.value)
ROLES = (Role.ADMIN.value, Role.PROVIDER.value, Role.STUDENT.value)
# Django's own syntax of a path() parameter (django.urls.resolvers._PATH_PARAMETER_COMPONENT_RE).
_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")


# --- Enumerating the tenant URLs ------------------------------------------------------------


@dataclass(frozen=True)
class TenantRoute:
    name: str | None  # with its namespace: "students:detail"
    route: str  # the full route: "o/<slug:org_slug>/students/<uuid:public_id>/"
    kwargs: tuple[str, ...]  # the URL kwargs besides org_slug, in route order
    converters: Mapping[str, str]  # kwarg → converter class name ("UUIDConverter")
    callback: Callable[..., Any]
    takes_org_slug: bool

    def path(self, org_slug: str, values: Mapping[str, object]) -> str:
        return reverse(self.name, kwargs={"org_slug": org_slug, **values})

    def raw_path(self, org_slug: str, values: Mapping[str, object]) -> str:
        """Substitute values into the route as text, bypassing the converters (malformed ids)."""
        values = {"org_slug": org_slug, **values}
        return "/" + _PARAMETER.sub(lambda m: str(values[m["parameter"]]), self.route)

    @property
    def uuid_kwargs(self) -> tuple[str, ...]:
        return tuple(k for k in self.kwargs if self.converters.get(k) == "UUIDConverter")

    def __str__(self) -> str:
        return f"{self.name} (/{self.route})"


def _walk(
    patterns: list[Any],
    prefix: str,
    namespace: str | None,
    names: tuple[str, ...],
    converters: dict[str, str],
) -> Iterator[TenantRoute]:
    for pattern in patterns:
        level = pattern.pattern
        level_names = tuple(sorted(level.regex.groupindex, key=level.regex.groupindex.get))
        level_converters = {
            k: type(v).__name__ for k, v in getattr(level, "converters", {}).items()
        }
        all_names, all_converters = names + level_names, converters | level_converters
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            qualified = f"{namespace}:{inner}" if namespace and inner else inner or namespace
            yield from _walk(
                pattern.url_patterns, prefix + str(level), qualified, all_names, all_converters
            )
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield TenantRoute(
                name=name,
                route=prefix + str(level),
                kwargs=tuple(k for k in all_names if k != "org_slug"),
                converters=all_converters,
                callback=pattern.callback,
                takes_org_slug="org_slug" in all_names,
            )


def all_routes() -> list[TenantRoute]:
    return list(_walk(get_resolver().url_patterns, "", None, (), {}))


def tenant_routes() -> list[TenantRoute]:
    """Every URL pattern under `/o/<org_slug>/` (or taking an org_slug), sorted by name."""
    routes = [r for r in all_routes() if r.route.lstrip("^").startswith("o/") or r.takes_org_slug]
    return sorted(routes, key=lambda r: (r.name or "", r.route))


def route_problems(routes: list[TenantRoute]) -> list[str]:
    """What would make a tenant route impossible to crawl: no name, no org_slug, a duplicate."""
    problems, seen = [], set()
    for route in routes:
        if route.name is None:
            problems.append(f"/{route.route} has no URL name; name it so the tests can key on it.")
        elif route.name in seen:
            problems.append(f"{route.name} names two tenant routes; names must be unique.")
        seen.add(route.name)
        if not route.route.startswith(TENANT_PREFIX):
            problems.append(f"{route} is under /o/ without the <slug:org_slug> argument.")
    return problems


# --- Filling URL kwargs from a tenant -------------------------------------------------------

KwargResolver = Callable[[Tenant], object]


class MissingResolver(LookupError):
    pass


@dataclass
class KwargRegistry:
    """(scope, kwarg) → resolver; scope is a URL name, a namespace ("students:*") or "*"."""

    resolvers: dict[tuple[str, str], KwargResolver] = field(default_factory=dict)

    def register(self, scopes: str | tuple[str, ...], kwarg: str, resolver: KwargResolver) -> None:
        for scope in (scopes,) if isinstance(scopes, str) else scopes:
            key = (scope, kwarg)
            if key in self.resolvers:
                raise ValueError(f"A resolver for {key} is already registered.")
            self.resolvers[key] = resolver

    def resolver_for(self, url_name: str, kwarg: str) -> KwargResolver:
        scopes = [url_name]
        if ":" in url_name:
            scopes.append(url_name.rsplit(":", 1)[0] + ":*")
        scopes.append("*")
        for scope in scopes:
            if (scope, kwarg) in self.resolvers:
                return self.resolvers[(scope, kwarg)]
        raise MissingResolver(
            f"No resolver for the URL kwarg {kwarg!r} of {url_name!r}: register one in "
            f"tests/isolation.py, e.g. KWARGS.register({url_name!r}, {kwarg!r}, lambda t: …)."
        )

    def fill(self, route: TenantRoute, tenant: Tenant) -> dict[str, object]:
        return {k: self.resolver_for(route.name or route.route, k)(tenant) for k in route.kwargs}


def membership_of(tenant: Tenant, user: User) -> Membership:
    return Membership.objects.get(organization=tenant.organization, user=user)


def invitable_student(tenant: Tenant) -> Student:
    """A student with an email, no login yet and active: inviting them succeeds."""
    slug = tenant.organization.slug
    return Student.objects.get_or_create(
        organization=tenant.organization,
        email=f"invitable-student@{slug}.example",
        defaults={"name": f"Invitable Student of {slug}"},
    )[0]


def suspended_student(tenant: Tenant) -> Student:
    """The student persona, with booking suspended (lifting it succeeds)."""
    BookingSuspension.objects.get_or_create(
        organization=tenant.organization,
        student=tenant.student,
        lifted_at=None,
        defaults={"no_shows": 3},
    )
    return tenant.student


def erasable_student(tenant: Tenant) -> Student:
    """A student with no relationship proposed or paired: erasing them succeeds."""
    slug = tenant.organization.slug
    return Student.objects.get_or_create(
        organization=tenant.organization,
        email=f"erasable-student@{slug}.example",
        defaults={"name": f"Erasable Student of {slug}"},
    )[0]


def invitable_provider(tenant: Tenant) -> Provider:
    slug = tenant.organization.slug
    return Provider.objects.get_or_create(
        organization=tenant.organization,
        email=f"invitable-provider@{slug}.example",
        defaults={"name": f"Invitable Provider of {slug}"},
    )[0]


def pending_invitation(tenant: Tenant) -> Invitation:
    slug = tenant.organization.slug
    return Invitation.objects.get_or_create(
        organization=tenant.organization,
        email=f"pending@{slug}.example",
        defaults={"role": Role.STUDENT, "invited_by": tenant.admin},
    )[0]


KWARGS = KwargRegistry()
# The student and provider personas' own records, so the role matrix sees "own record" pages.
KWARGS.register("students:*", "public_id", lambda t: t.student.public_id)
KWARGS.register("providers:*", "public_id", lambda t: t.provider.public_id)
# Records an invitation can be sent for (the personas can already sign in: no change).
KWARGS.register("students:invite", "public_id", lambda t: invitable_student(t).public_id)
KWARGS.register("providers:invite", "public_id", lambda t: invitable_provider(t).public_id)
KWARGS.register("students:suspension_lift", "public_id", lambda t: suspended_student(t).public_id)


# A student's personal data: the persona's own record, but erasure takes a student of its own.
KWARGS.register("privacy:*", "public_id", lambda t: t.student.public_id)
KWARGS.register("privacy:student_erase", "public_id", lambda t: erasable_student(t).public_id)
# The provider persona's membership: changing its role or removing it succeeds (not the last admin).
KWARGS.register(
    ("member_change_role", "member_remove"),
    "public_id",
    lambda t: membership_of(t, t.provider_user).public_id,
)
KWARGS.register("invitation_revoke", "public_id", lambda t: pending_invitation(t).public_id)


def isolation_service_type(tenant: Tenant) -> ServiceType:
    """An active service type of its own, so renaming or deactivating it disturbs no other URL's
    objects (Tutoring and Advising are in the personas' grants and relationships)."""
    return ServiceType.objects.get_or_create(
        organization=tenant.organization, name="Isolation service"
    )[0]


KWARGS.register(
    ("service_type_edit", "service_type_set_active"),
    "public_id",
    lambda t: isolation_service_type(t).public_id,
)


# --- What a POST to each tenant URL carries -------------------------------------------------

FormData = Callable[[Tenant], dict[str, object]]


@dataclass(frozen=True)
class PostSpec:
    data: FormData
    changes: bool  # a valid POST by `by` in its own organization changes the tenant's rows
    post_only: bool = False  # the view answers GET with 405 (require_POST)
    by: str = Role.ADMIN.value  # the role that may perform it
    # What a valid POST that changes rows answers: a redirect, or 200 for one that hands over a
    # file (a student's data export, which records the download).
    answers: int = 302


@dataclass
class PostRegistry:
    specs: dict[str, PostSpec] = field(default_factory=dict)

    def register(
        self,
        url_name: str,
        data: FormData | None = None,
        *,
        changes: bool,
        post_only: bool = False,
        by: str = Role.ADMIN.value,
        answers: int = 302,
    ) -> None:
        if url_name in self.specs:
            raise ValueError(f"{url_name} is already registered.")
        self.specs[url_name] = PostSpec(data or (lambda t: {}), changes, post_only, by, answers)

    def spec_for(self, url_name: str) -> PostSpec:
        try:
            return self.specs[url_name]
        except KeyError:
            raise MissingResolver(
                f"{url_name!r} has no entry in POSTS: register what a browser would POST to "
                f"it in tests/isolation.py, e.g. POSTS.register({url_name!r}, lambda t: {{…}}, "
                f"changes=True) (no data and changes=False for a page that reads nothing)."
            ) from None


def form_data(form: forms.BaseForm, **overrides: object) -> dict[str, object]:
    """What a browser sends for `form` as rendered from its initial values, with overrides."""
    unknown = set(overrides) - set(form.fields)
    if unknown:
        raise ValueError(f"Not fields of {type(form).__name__}: {sorted(unknown)}")
    data: dict[str, object] = {}
    for name in form.fields:
        value = overrides[name] if name in overrides else form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = "" if value is None else str(value)
    return data


def service_type_pks(tenant: Tenant) -> list[str]:
    """The center's service types as a form posts them: public ids, never integer keys."""
    ids = tenant.organization.service_types.order_by("pk").values_list("public_id", flat=True)
    return [str(public_id) for public_id in ids]


POSTS = PostRegistry()
POSTS.register("org_home", changes=False)
# The admin home's warning signs' lists (reports.dashboard.SIGNS), one page each.
for _sign in ("short", "long_gap", "irregular", "idle", "repeated_cancellations"):
    POSTS.register(f"warning_{_sign}", changes=False)
POSTS.register(
    "org_settings",
    lambda t: form_data(
        OrganizationSettingsForm(instance=t.organization),
        name="Renamed by a stranger",
        max_session_minutes=240,
        require_student_confirmation=True,
    ),
    changes=True,
)
POSTS.register("members", changes=False)
POSTS.register(
    "member_invite",
    lambda t: {
        "email": f"newcomer@{t.organization.slug}.example",
        "role": Role.ADMIN,
    },
    changes=True,
)
POSTS.register("member_change_role", lambda t: {"role": Role.ADMIN}, changes=True, post_only=True)
POSTS.register("member_remove", lambda t: {"confirm": "yes"}, changes=True, post_only=True)
POSTS.register("invitation_revoke", lambda t: {"confirm": "yes"}, changes=True, post_only=True)
POSTS.register("service_type_list", changes=False)
POSTS.register("service_type_create", lambda t: {"name": "Planted service"}, changes=True)
POSTS.register("service_type_edit", lambda t: {"name": "Renamed by a stranger"}, changes=True)
POSTS.register(
    "service_type_set_active",
    lambda t: {"active": "0", "confirm": "yes"},
    changes=True,
    post_only=True,
)

POSTS.register("students:list", changes=False)
POSTS.register(
    "students:create",
    lambda t: form_data(
        StudentForm(),
        name="Planted Student",
        email=f"planted@{t.organization.slug}.example",
        guardian_name="Planted Guardian",
    ),
    changes=True,
)
POSTS.register("students:me", changes=False, by=Role.STUDENT)
POSTS.register("students:detail", changes=False)
POSTS.register(
    "students:edit",
    lambda t: form_data(
        StudentForm(instance=t.student),
        name="Renamed by a stranger",
        notes="Overwritten",
    ),
    changes=True,
)
POSTS.register(
    "students:set_status",
    lambda t: {"status": "inactive", "confirm": "yes"},
    changes=True,
    post_only=True,
)
POSTS.register("students:invite", changes=True, post_only=True)
POSTS.register(
    "students:suspension_lift", lambda t: {"reason": "Talked it over"}, changes=True, post_only=True
)


POSTS.register("privacy:student_data", changes=False)
# The export records who took the data (a PersonalDataEvent row).
POSTS.register("privacy:student_export", changes=True, post_only=True, answers=200)
POSTS.register("privacy:student_erase", lambda t: {"confirm": "yes"}, changes=True, post_only=True)

POSTS.register("providers:list", changes=False)
POSTS.register(
    "providers:create",
    lambda t: form_data(
        ProviderForm(organization=t.organization),
        name="Planted Provider",
        email=f"planted@{t.organization.slug}.example",
        default_pay_rate="41.50",
        service_types=service_type_pks(t),
    ),
    changes=True,
)
POSTS.register(
    "providers:me",
    lambda t: form_data(
        OwnProfileForm(instance=t.provider),
        name="Renamed by a stranger",
        bio="Overwritten",
    ),
    changes=True,
    by=Role.PROVIDER,
)
POSTS.register("providers:detail", changes=False)
POSTS.register(
    "providers:edit",
    lambda t: form_data(
        ProviderForm(instance=t.provider, organization=t.organization),
        name="Renamed by a stranger",
        default_pay_rate="99.00",
        service_types=service_type_pks(t),
    ),
    changes=True,
)
POSTS.register(
    "providers:set_status",
    lambda t: {"status": "inactive", "confirm": "yes"},
    changes=True,
    post_only=True,
)
POSTS.register("providers:invite", changes=True, post_only=True)


def weekly_hours(tenant: Tenant) -> AvailabilityWindow:
    """The provider persona's Monday hours, 10:00–12:00."""
    return AvailabilityWindow.objects.filter(
        organization=tenant.organization, provider=tenant.provider
    ).first() or AvailabilityWindow.objects.create(
        organization=tenant.organization,
        provider=tenant.provider,
        weekday=0,
        start=time(10),
        end=time(12),
    )


def time_off(tenant: Tenant) -> AvailabilityException:
    """A day off of the provider persona in two weeks."""
    return AvailabilityException.objects.filter(
        organization=tenant.organization, provider=tenant.provider
    ).first() or AvailabilityException.objects.create(
        organization=tenant.organization,
        provider=tenant.provider,
        kind="off",
        date=timezone.localdate() + timedelta(days=14),
    )


KWARGS.register(
    "providers:availability_window_remove", "window_id", lambda t: weekly_hours(t).public_id
)
KWARGS.register(
    "providers:availability_exception_remove", "exception_id", lambda t: time_off(t).public_id
)
POSTS.register("providers:availability", changes=False)
POSTS.register(
    "providers:availability_window_add",
    lambda t: {"weekday": "1", "start": "08:00", "end": "09:00", "mode": "online", "location": ""},
    changes=True,
)
POSTS.register(
    "providers:availability_window_remove", changes=True, post_only=True, by=Role.PROVIDER
)
POSTS.register(
    "providers:availability_exception_add",
    lambda t: {
        "kind": "off",
        "date": (timezone.localdate() + timedelta(days=7)).isoformat(),
        "start": "",
        "end": "",
        "mode": "in_person",
        "location": "",
        "note": "Planted",
    },
    changes=True,
)
POSTS.register(
    "providers:availability_exception_remove", changes=True, post_only=True, by=Role.PROVIDER
)


# --- grants ---------------------------------------------------------------------------------

ISOLATION_PACKAGE = "Isolation package"
ISOLATION_GRANT = "Isolation grant"


def package_of(tenant: Tenant) -> Package:
    package = Package.objects.filter(
        organization=tenant.organization, name=ISOLATION_PACKAGE
    ).first()
    return package or grant_services.package_save(
        actor=tenant.admin,
        organization=tenant.organization,
        name=ISOLATION_PACKAGE,
        quantity=600,
        unit="minutes",
        validity_days=None,
        price=Decimal("120.00"),
        service_types=list(tenant.organization.service_types.filter(name="Tutoring")),
    )


def grant_of(tenant: Tenant) -> Grant:
    """10 h of tutoring on the student persona's account (1 h 30 min of it held, see below)."""
    grant = Grant.objects.filter(
        organization=tenant.organization, student=tenant.student, reference=ISOLATION_GRANT
    ).first()
    # Valid for a month already, so sessions of the past days can consume from it; expiring in
    # three months, so it can be extended.
    now = timezone.now()
    return grant or make_grant(
        student=tenant.student,
        minutes=600,
        reference=ISOLATION_GRANT,
        valid_from=now - timedelta(days=30),
        expires_at=now + timedelta(days=90),
    )


def holding_relationship(tenant: Tenant) -> Relationship:
    """The student and provider personas' paired tutoring relationship, holding 1 h 30 min of
    `grant_of`."""
    relationship = Relationship.objects.filter(
        organization=tenant.organization,
        student=tenant.student,
        provider=tenant.provider,
        service_type__name="Tutoring",
    ).first()
    if relationship is None:
        grant_of(tenant)
        relationship = RelationshipFactory(
            organization=tenant.organization, student=tenant.student, provider=tenant.provider
        )
        grant_services.hold(actor=None, relationship=relationship, quantity=90)
    return relationship


# A student_id, provider_id or relationship_id in any URL is that record's public id.
KWARGS.register("*", "student_id", lambda t: t.student.public_id)
KWARGS.register("*", "provider_id", lambda t: t.provider.public_id)
KWARGS.register("*", "relationship_id", lambda t: holding_relationship(t).public_id)
KWARGS.register(
    ("grants:package_edit", "grants:package_set_active"),
    "public_id",
    lambda t: package_of(t).public_id,
)
KWARGS.register(
    ("grants:grant_adjust", "grants:grant_transfer", "grants:grant_refund", "grants:grant_extend"),
    "public_id",
    lambda t: grant_of(t).public_id,
)


def _token() -> str:
    """A fresh idempotency token, as the form's GET would have made."""
    return uuid.uuid4().hex


POSTS.register("grants:package_list", changes=False)
POSTS.register(
    "grants:package_create",
    lambda t: {
        "name": "Planted package",
        "amount": "5",
        "measure": "hours",
        "service_types": [str(pk) for pk in service_type_pks(t)],
        "validity_days": "90",
        "price": "99.00",
        "product_ids": "",
        "variation_ids": "",
        "skus": "",
    },
    changes=True,
)
POSTS.register(
    "grants:package_edit",
    lambda t: form_data(
        PackageForm(instance=package_of(t), organization=t.organization),
        name="Renamed by a stranger",
        amount=20,
        price="1.00",
    ),
    changes=True,
)
POSTS.register(
    "grants:package_set_active",
    lambda t: {"active": "0", "confirm": "yes"},
    changes=True,
    post_only=True,
)
POSTS.register("grants:student_hours", changes=False)
POSTS.register("grants:my_hours", changes=False, by=Role.STUDENT)
POSTS.register(
    "grants:grant_create",
    lambda t: {
        "package": "",
        "count": "1",
        "amount": "3",
        "unit": "hours",
        "service_types": [str(pk) for pk in service_type_pks(t)],
        "expires_on": "",
        "reference": "Planted hours",
        "token": _token(),
    },
    changes=True,
)
POSTS.register(
    "grants:grant_adjust",
    lambda t: {
        "direction": "up",
        "amount": "2",
        "measure": "hours",
        "reason": "Planted bonus",
        "token": _token(),
    },
    changes=True,
)
POSTS.register(
    "grants:grant_transfer",
    lambda t: {
        "amount": "1",
        "measure": "hours",
        "to_grant": "",
        "to_service_types": [str(pk) for pk in service_type_pks(t)],
        "reason": "Planted move",
        "token": _token(),
    },
    changes=True,
)
POSTS.register(
    "grants:grant_refund",
    lambda t: {
        "amount": "1",
        "measure": "hours",
        "reference": "Planted refund",
        "reason": "Planted",
        "token": _token(),
    },
    changes=True,
)
POSTS.register(
    "grants:grant_extend",
    lambda t: {
        "expires_on": (timezone.localdate() + timedelta(days=180)).isoformat(),
        "reason": "Planted extension",
        "token": _token(),
    },
    changes=True,
)
POSTS.register(
    "grants:hold_release",
    lambda t: {
        "amount": "",
        "measure": "hours",
        "reason": "Planted release",
        "token": _token(),
    },
    changes=True,
)

# --- relationships and sessions ---------------------------------------------------------------


def proposed_relationship(tenant: Tenant) -> Relationship:
    """A proposal of advising to the provider persona for the student persona, holding 1 h."""
    org = tenant.organization
    relationship = Relationship.objects.filter(
        organization=org,
        student=tenant.student,
        provider=tenant.provider,
        service_type__name="Advising",
    ).first()
    if relationship is None:
        make_grant(
            student=tenant.student,
            minutes=120,
            service_types=("Advising",),
            reference="Isolation advising",
        )
        relationship = RelationshipFactory(
            organization=org,
            student=tenant.student,
            provider=tenant.provider,
            service_type=org.service_types.get(name="Advising"),
            status="proposed",
        )
        grant_services.hold(actor=None, relationship=relationship, quantity=60)
    return relationship


def second_provider(tenant: Tenant) -> Provider:
    """A tutor without a pairing yet: a proposal with them succeeds."""
    slug = tenant.organization.slug
    return Provider.objects.filter(
        organization=tenant.organization, email=f"second-provider@{slug}.example"
    ).first() or ProviderFactory(
        organization=tenant.organization,
        name=f"Second Tutor of {slug}",
        email=f"second-provider@{slug}.example",
    )


def _session(tenant: Tenant, *, hours_ago: int, scheduled: bool) -> Session:
    relationship = holding_relationship(tenant)
    starts_at = whole_hours_ago(hours_ago)
    session = Session.objects.filter(relationship=relationship, starts_at=starts_at).first()
    return session or session_services.session_log(
        membership=member(tenant.admin, tenant.organization),
        relationship=relationship,
        starts_at=starts_at,
        duration=60,
        notes="Fractions and decimals",
        scheduled=scheduled,
    )


def completed_session(tenant: Tenant) -> Session:
    """1 h of the personas' tutoring, 3 hours ago, logged (it consumed 1 h of the hold)."""
    return _session(tenant, hours_ago=3, scheduled=False)


def scheduled_session(tenant: Tenant) -> Session:
    """A session scheduled 5 hours ago and not logged yet."""
    return _session(tenant, hours_ago=5, scheduled=True)


KWARGS.register("relationships:*", "public_id", lambda t: holding_relationship(t).public_id)
KWARGS.register(
    ("relationships:accept", "relationships:decline"),
    "public_id",
    lambda t: proposed_relationship(t).public_id,
)


def disputed_session(tenant: Tenant) -> Session:
    """1 h of the student persona's tutoring with a tutor of its own (its own hold of 1 h from
    `grant_of`, so the personas' relationship keeps its hours), 7 hours ago, logged and
    disputed by the student."""
    org = tenant.organization
    session = Session.objects.filter(
        organization=org, relationship__provider__email=f"dispute-tutor@{org.slug}.example"
    ).first()
    if session is None:
        grant_of(tenant)
        relationship = RelationshipFactory(
            organization=org,
            student=tenant.student,
            provider=ProviderFactory(
                organization=org,
                name=f"Dispute Tutor of {org.slug}",
                email=f"dispute-tutor@{org.slug}.example",
            ),
        )
        grant_services.hold(actor=None, relationship=relationship, quantity=60)
        session = session_services.session_log(
            membership=member(tenant.admin, tenant.organization),
            relationship=relationship,
            starts_at=whole_hours_ago(7),
            duration=60,
            notes="Essay structure",
        )
        session = session_services.session_dispute(
            membership=member(tenant.student_user, tenant.organization),
            session=session,
            reason="It was 30 minutes",
        )
    return session


KWARGS.register("sessions_app:*", "public_id", lambda t: completed_session(t).public_id)
KWARGS.register(
    "sessions_app:resolve_dispute", "public_id", lambda t: disputed_session(t).public_id
)
KWARGS.register("sessions_app:complete", "public_id", lambda t: scheduled_session(t).public_id)
KWARGS.register(
    ("sessions_app:check_in", "sessions_app:message_post"),
    "public_id",
    lambda t: scheduled_session(t).public_id,
)


def feedback_question(tenant: Tenant) -> FeedbackQuestion:
    """The tenant's check-in question "How did it go?" (a rating, the session's rating)."""
    org = tenant.organization
    return FeedbackQuestion.objects.filter(organization=org).first() or (
        FeedbackQuestion.objects.create(
            organization=org, text="How did it go?", kind="rating", is_session_rating=True
        )
    )


KWARGS.register(
    "sessions_app:feedback_question_edit", "public_id", lambda t: feedback_question(t).public_id
)


def _booked(tenant: Tenant, days: int, status: str, series: uuid.UUID | None = None) -> Session:
    """A booking of the personas' relationship `days` ahead at 10:00 (written directly: the
    provider persona keeps no hours the booking service would check)."""
    relationship = holding_relationship(tenant)
    day = timezone.localdate(timezone=tenant.organization.tz) + timedelta(days=days)
    starts_at = datetime.combine(day, time(10), tzinfo=tenant.organization.tz)
    return Session.objects.filter(
        relationship=relationship, starts_at=starts_at
    ).first() or Session.objects.create(
        organization=tenant.organization,
        relationship=relationship,
        calendar_provider_id=relationship.provider_id,
        starts_at=starts_at,
        duration_minutes=60,
        status=status,
        series=series,
        requested_by=tenant.student_user,
        topic="Fractions",
    )


def requested_session(tenant: Tenant) -> Session:
    """A booking request of the student persona, two days ahead, awaiting the provider."""
    return _booked(tenant, 2, "pending")


def series_session(tenant: Tenant) -> Session:
    """The first of a weekly series of two, three days ahead."""
    first = _booked(tenant, 3, "scheduled", series=uuid.uuid4())
    _booked(tenant, 10, "scheduled", series=first.series)
    return first


KWARGS.register(
    ("sessions_app:accept", "sessions_app:decline"),
    "public_id",
    lambda t: requested_session(t).public_id,
)
KWARGS.register("sessions_app:cancel_following", "public_id", lambda t: series_session(t).public_id)


def booked_session(tenant: Tenant) -> Session:
    """A session the student persona booked, five days ahead (theirs to cancel)."""
    return _booked(tenant, 5, "scheduled")


KWARGS.register("sessions_app:cancel_booking", "public_id", lambda t: booked_session(t).public_id)

POSTS.register("relationships:list", changes=False)
POSTS.register("relationships:search_students", lambda t: {"q": "a"}, changes=False)
POSTS.register("relationships:search_providers", lambda t: {"q": "a"}, changes=False)


def _proposal(tenant: Tenant) -> dict[str, object]:
    grant_of(tenant)  # the student persona has tutoring hours to hold
    return {
        "student": str(tenant.student.public_id),
        "provider": str(second_provider(tenant).public_id),
        "service_type": str(tenant.organization.service_types.get(name="Tutoring").public_id),
        "amount": "1",
        "measure": "hours",
        "provider_pay_rate": "",
        "client_rate": "50.00",
        "token": _token(),
    }


POSTS.register("relationships:propose", _proposal, changes=True)
POSTS.register("relationships:detail", changes=False)
POSTS.register("relationships:accept", changes=True, post_only=True, by=Role.PROVIDER)
POSTS.register(
    "relationships:decline", lambda t: {"reason": "Fully booked"}, changes=True, by=Role.PROVIDER
)
POSTS.register("relationships:cancel", lambda t: {"reason": "Planted cancellation"}, changes=True)
POSTS.register("relationships:complete", lambda t: {"reason": ""}, changes=True)
POSTS.register(
    "relationships:allocation",
    lambda t: {
        "amount": "3",
        "measure": "hours",
        "reason": "Planted raise",
    },
    changes=True,
)

POSTS.register(
    "relationships:rates",
    lambda t: {"provider_pay_rate": "41.00", "client_rate": "52.00", "reason": "Planted raise"},
    changes=True,
)

POSTS.register("sessions_app:list", changes=False)
POSTS.register(
    "sessions_app:log",
    lambda t: {
        "date": (
            timezone.localtime(timezone.now(), t.organization.tz).date() - timedelta(days=1)
        ).isoformat(),
        "time": "10:00",
        "duration": "60",
        "kind": "tutoring",
        "mode": "Online",
        "notes": "Planted session",
        "internal_note": "",
    },
    changes=True,
)
POSTS.register("sessions_app:detail", changes=False)
POSTS.register(
    "sessions_app:edit",
    lambda t: {
        "duration": "45",
        "mode": "Online",
        "notes": "Edited by a stranger",
        "internal_note": "x",
    },
    changes=True,
)
POSTS.register(
    "sessions_app:complete",
    lambda t: {
        "duration": "60",
        "mode": "",
        "notes": "Planted notes",
        "internal_note": "",
    },
    changes=True,
)
POSTS.register(
    "sessions_app:new",
    lambda t: {"relationship": str(holding_relationship(t).public_id), "then": "log"},
    changes=False,
)
POSTS.register(
    "sessions_app:reschedule",
    lambda t: {
        "date": (
            timezone.localtime(timezone.now(), t.organization.tz).date() - timedelta(days=2)
        ).isoformat(),
        "time": "09:00",
        "reason": "Planted move",
    },
    changes=True,
)
POSTS.register("sessions_app:cancel", lambda t: {"reason": "Planted cancellation"}, changes=True)
POSTS.register(
    "sessions_app:no_show", lambda t: {"party": "student", "explanation": "Planted"}, changes=True
)
POSTS.register(
    "sessions_app:resolve_dispute",
    lambda t: {"resolution": "kept", "duration": "60", "note": "Checked with the provider"},
    changes=True,
)
POSTS.register("sessions_app:send_report", changes=True, post_only=True)
POSTS.register("sessions_app:confirm", changes=True, post_only=True, by=Role.STUDENT)
POSTS.register(
    "sessions_app:dispute", lambda t: {"reason": "It was 30 minutes"}, changes=True, by=Role.STUDENT
)
POSTS.register(
    "sessions_app:message_post",
    lambda t: {"body": "Can we start with fractions?"},
    changes=True,
    post_only=True,
    by=Role.STUDENT,
)
POSTS.register(
    "sessions_app:check_in",
    lambda t: {"attended": "attended", "duration": "65", "notes": "Planted check-in"},
    changes=True,
)
POSTS.register("sessions_app:check_ins", changes=False)
POSTS.register("sessions_app:week", changes=False)
POSTS.register("sessions_app:calendar_feed", changes=True)
POSTS.register("sessions_app:feedback_questions", changes=False)
POSTS.register(
    "sessions_app:feedback_question_create",
    lambda t: {"text": "Was the student prepared?", "kind": "yes_no", "position": "1"},
    changes=True,
)
POSTS.register(
    "sessions_app:feedback_question_edit",
    lambda t: {
        "text": "How did the session go?",
        "kind": "rating",
        "required": "on",
        "is_session_rating": "on",
        "position": "0",
        "is_active": "on",
    },
    changes=True,
)


POSTS.register("sessions_app:book", changes=False, by=Role.STUDENT)
POSTS.register("sessions_app:book_confirm", changes=False, by=Role.STUDENT)
POSTS.register("sessions_app:accept", changes=True, post_only=True, by=Role.PROVIDER)
POSTS.register(
    "sessions_app:decline", lambda t: {"message": "Fully booked"}, changes=True, by=Role.PROVIDER
)
POSTS.register("sessions_app:cancel_following", lambda t: {"reason": "Term ends"}, changes=True)
POSTS.register(
    "sessions_app:cancel_booking",
    lambda t: {"reason": "Exam moved"},
    changes=True,
    by=Role.STUDENT,
)
POSTS.register("sessions_app:center_week", changes=False)


# --- reports (no ids in their URLs: the filters are query parameters, the same for a POST) ------

POSTS.register("reports:index", changes=False)
POSTS.register("reports:sessions", changes=False)
POSTS.register("reports:sessions_csv", changes=False)
POSTS.register("reports:session_rows_csv", changes=False)
POSTS.register("reports:usage", changes=False)
POSTS.register("reports:usage_csv", changes=False)
POSTS.register("reports:financial", changes=False)
POSTS.register("reports:financial_csv", changes=False)
POSTS.register("reports:payroll", changes=False)
POSTS.register("reports:payroll_csv", changes=False)
POSTS.register("reports:statement", changes=False)
POSTS.register("reports:statement_csv", changes=False)


# --- integrations: WooCommerce ----------------------------------------------------------------


def store_of(tenant: Tenant) -> Store:
    """A connected shop without REST API keys: "sync" then answers without network I/O."""
    slug = tenant.organization.slug
    return Store.objects.get_or_create(
        organization=tenant.organization,
        name=f"Shop of {slug}",
        defaults={"store_url": f"https://shop.{slug}.example/"},
    )[0]


def order_error_of(tenant: Tenant) -> OrderError:
    """An open "unknown product" error of `store_of`."""
    return OrderError.objects.get_or_create(
        organization=tenant.organization,
        store=store_of(tenant),
        kind=ErrorKind.UNKNOWN_PRODUCT,
        subject="line:1",
        defaults={"message": "Product 4242 is not mapped to a package."},
    )[0]


def delivery_of(tenant: Tenant) -> Delivery:
    store = store_of(tenant)
    return Delivery.objects.filter(store=store).first() or Delivery.objects.create(
        organization=tenant.organization,
        store=store,
        topic="order.created",
        delivery_id="1",
        body=b'{"id": 1}',
        signature_valid=True,
    )


KWARGS.register(
    ("woocommerce:store_detail", "woocommerce:store_edit", "woocommerce:store_sync"),
    "public_id",
    lambda t: store_of(t).public_id,
)
KWARGS.register("woocommerce:error_detail", "public_id", lambda t: order_error_of(t).public_id)
KWARGS.register("woocommerce:delivery_detail", "public_id", lambda t: delivery_of(t).public_id)

POSTS.register("woocommerce:store_list", changes=False)
POSTS.register(
    "woocommerce:store_create",
    lambda t: {
        "name": "Planted shop",
        "store_url": f"https://planted.{t.organization.slug}.example/",
        "paid_statuses": ["processing", "completed"],
        "create_unknown_customers": "on",
        "consumer_key": "",
        "consumer_secret": "",
        "is_active": "on",
    },
    changes=True,
)
POSTS.register("woocommerce:store_detail", changes=False)
POSTS.register(
    "woocommerce:store_edit",
    lambda t: form_data(
        StoreForm(instance=store_of(t)),
        name="Renamed by a stranger",
        store_url="https://elsewhere.example/",
    ),
    changes=True,
)
# Without API keys the sync is refused with a message: nothing changes, and the tests never
# reach out to a shop. Its isolation rests on the 404 alone.
POSTS.register("woocommerce:store_sync", changes=False, post_only=True)
POSTS.register("woocommerce:error_list", changes=False)
POSTS.register(
    "woocommerce:error_detail",
    lambda t: {
        "action": "resolve",
        "note": "Settled by a stranger",
    },
    changes=True,
)
POSTS.register("woocommerce:delivery_list", changes=False)
POSTS.register("woocommerce:delivery_detail", changes=False)

# --- reports: export jobs ----------------------------------------------------------------------

# A ready export of the student persona: theirs and the admins' to open, not the provider's.
KWARGS.register("exports:*", "public_id", lambda t: finished_job(t, t.student_user).public_id)
POSTS.register("exports:list", changes=False)
POSTS.register("exports:start", lambda t: {"source": "sessions", "format": "csv"}, changes=True)
POSTS.register("exports:detail", changes=False)
POSTS.register("exports:download", changes=False)


# --- notifications ----------------------------------------------------------------------------


def notice_of(tenant: Tenant) -> Notification:
    """An unread notice of the student persona, leading to the organization's home."""
    return Notification.objects.get_or_create(
        organization=tenant.organization,
        user=tenant.student_user,
        text="Planted notice",
        defaults={"link": f"/o/{tenant.organization.slug}/", "kind": "hours_granted"},
    )[0]


def email_of(tenant: Tenant) -> EmailDelivery:
    dispatch = Dispatch.objects.get_or_create(
        organization=tenant.organization, kind="hours_granted", object_key="planted"
    )[0]
    return EmailDelivery.objects.get_or_create(
        organization=tenant.organization,
        dispatch=dispatch,
        to=tenant.student_user.email,
        defaults={"kind": "hours_granted", "subject": "Planted", "text": "x", "html": "x"},
    )[0]


KWARGS.register("notifications:open", "public_id", lambda t: notice_of(t).public_id)
KWARGS.register("notifications:email_detail", "public_id", lambda t: email_of(t).public_id)
POSTS.register("notifications:inbox", changes=False)
POSTS.register("notifications:open", changes=True, post_only=True, by=Role.STUDENT)


def with_an_unread_notice(tenant: Tenant) -> dict[str, str]:
    """No form fields; an unread notice planted first, so marking all read changes a row."""
    notice_of(tenant)
    return {}


POSTS.register(
    "notifications:read_all",
    with_an_unread_notice,
    changes=True,
    post_only=True,
    by=Role.STUDENT,
)
POSTS.register("notifications:preferences", lambda t: {"hours_granted": "on"}, changes=True)
POSTS.register("notifications:center_defaults", lambda t: {"hours_low": "on"}, changes=True)
POSTS.register("notifications:email_list", changes=False)
POSTS.register("notifications:email_detail", changes=False)


# --- Personas -------------------------------------------------------------------------------


def persona_user(tenant: Tenant, persona: str) -> User | None:
    return {
        "anonymous": None,
        Role.ADMIN: tenant.admin,
        Role.PROVIDER: tenant.provider_user,
        Role.STUDENT: tenant.student_user,
    }[persona]


def persona_client(tenant: Tenant, persona: str) -> Client:
    """A client that answers a server error with a 500 response instead of raising."""
    client = client_for(persona_user(tenant, persona))
    client.raise_request_exception = False
    return client


# --- Snapshots of a tenant's rows -----------------------------------------------------------


def tenant_models() -> list[type[models.Model]]:
    """Every model with a foreign key named `organization` to Organization, found at run time
    so tables added later are covered too."""
    found = []
    for model in apps.get_models():
        try:
            fk = model._meta.get_field("organization")
        except FieldDoesNotExist:
            continue
        if fk.is_relation and fk.related_model is Organization:
            found.append(model)
    return sorted(found, key=lambda m: m._meta.label)


def row(obj: models.Model) -> dict[str, object]:
    """model_to_dict, plus the non-editable columns it leaves out (updated_at, token, …)."""
    data = model_to_dict(obj)
    data.update({f.attname: f.value_from_object(obj) for f in obj._meta.concrete_fields})
    return data


def snapshot(organization: Organization) -> dict[str, dict[object, dict[str, object]]]:
    """Every row the organization owns, its own row and its members' user rows."""
    tables: dict[str, models.QuerySet[Any]] = {
        "matchpal.Organization": Organization.objects.filter(pk=organization.pk),
        "matchpal.User": User.objects.filter(memberships__organization=organization),
    }
    for model in tenant_models():
        tables[model._meta.label] = model._default_manager.filter(organization=organization)
    return {label: {obj.pk: row(obj) for obj in qs.order_by("pk")} for label, qs in tables.items()}


def snapshot_diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = []
    for label in sorted(set(before) | set(after)):
        old, new = before.get(label, {}), after.get(label, {})
        lines += [f"{label} #{pk} was deleted" for pk in old.keys() - new.keys()]
        lines += [f"{label} #{pk} was created: {new[pk]}" for pk in new.keys() - old.keys()]
        for pk in old.keys() & new.keys():
            changed = {
                k: (old[pk][k], new[pk].get(k)) for k in old[pk] if old[pk][k] != new[pk].get(k)
            }
            if changed:
                lines.append(f"{label} #{pk} changed: {changed}")
    return lines


def registry_problems(routes: list[TenantRoute]) -> list[str]:
    """Everything missing before the routes can be crawled, all at once, each with its fix."""
    problems = route_problems(routes)
    for route in routes:
        if route.name is None:
            continue
        for kwarg in route.kwargs:
            try:
                KWARGS.resolver_for(route.name, kwarg)
            except MissingResolver as missing:
                problems.append(str(missing))
        try:
            POSTS.spec_for(route.name)
        except MissingResolver as missing:
            problems.append(str(missing))
    return problems
