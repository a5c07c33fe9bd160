"""Finding pages, their forms, and the project's form classes.

Pages are every tenant URL of the resolver (filled by `tests/isolation.py`'s resolvers) plus the
form pages outside `/o/<org_slug>/` that a signed-in member uses (`EXTRA_PAGES`). Forms are parsed
from the HTML each role receives, so a form appears here from the moment a template shows it.
"""

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import django_filters
from django import forms
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from tests.isolation import (
    KWARGS,
    POSTS,
    TenantRoute,
    holding_relationship,
    pending_invitation,
    tenant_models,
    weekly_hours,
)
from tests.support import Tenant

# Form pages outside /o/<org_slug>/ (name → how to build their path from a tenant). The webhook
# endpoint has no form and its own tests; allauth's pages for anonymous visitors are allauth's.
EXTRA_PAGES: dict[str, Callable[[Tenant], str]] = {
    "organization_create": lambda t: "/orgs/new/",
    "invitation_accept": lambda t: f"/invitations/{pending_invitation(t).token}/",
    "account_email": lambda t: "/accounts/email/",
    "account_change_password": lambda t: "/accounts/password/change/",
}
# Pages whose form appears only once an earlier step is chosen (name → the query string the
# earlier step's link carries, built from a tenant): a multi-step form is fuzzed at its step.
STEPS: dict[str, Callable[[Tenant], dict[str, str]]] = {
    "sessions_app:book_confirm": lambda t: _free_slot(t),
}
# Actions never posted: signing out would end the persona's session mid-run.
SKIPPED_ACTIONS = ("/accounts/logout/",)
# Form classes that are not on a tenant page: none today. Each entry says why.
UNREACHABLE_ALLOWED: dict[str, str] = {}


@dataclass
class Field:
    name: str
    kind: str  # input type, "select", "textarea"
    value: str = ""
    checked: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # (value, selected)
    multiple: bool = False


@dataclass
class FoundForm:
    page: str
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        seen: list[str] = []
        for f in self.fields:
            if f.name not in seen and f.kind not in ("submit", "button", "image", "reset"):
                seen.append(f.name)
        return seen

    def defaults(self) -> dict[str, Any]:
        """What a browser would send on submitting it unchanged: hidden values (CSRF and
        idempotency tokens too), checked boxes, selected or else first options, the first
        named submit button."""
        data: dict[str, Any] = {}
        submitted = False
        for f in self.fields:
            if f.kind in ("submit", "button", "image"):
                if f.kind == "submit" and not submitted and f.name:
                    data[f.name] = f.value
                    submitted = True
            elif f.kind in ("checkbox", "radio"):
                if f.checked:
                    data.setdefault(f.name, []).append(f.value or "on")
                elif f.kind == "radio" and f.name not in data:
                    data[f.name] = []
            elif f.kind == "select":
                chosen = [v for v, selected in f.options if selected]
                if not chosen:
                    first = [v for v, _ in f.options if v] or [v for v, _ in f.options]
                    chosen = first[:1] if not f.multiple else []
                data[f.name] = chosen
            else:
                data[f.name] = f.value
        # A radio group with nothing checked takes its first choice.
        for f in self.fields:
            if f.kind == "radio" and data.get(f.name) == []:
                data[f.name] = [f.value]
        return {k: v for k, v in data.items() if v != []}

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.action} (on {self.page})"


class _FormParser(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[FoundForm] = []
        self._form: FoundForm | None = None
        self._select: Field | None = None
        self._option: str | None = None
        self._option_selected = False
        self._textarea: Field | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = urljoin(self.page, a.get("action") or self.page)
            self._form = FoundForm(self.page, action, (a.get("method") or "get").lower())
            self.forms.append(self._form)
        if self._form is None or ("name" not in a and tag != "option"):
            if tag == "option" and self._select is not None:
                self._option, self._option_selected = a.get("value"), "selected" in a
            return
        if tag in ("input", "button"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            self._form.fields.append(
                Field(
                    a["name"],
                    kind,
                    a.get("value", "on" if kind == "checkbox" else ""),
                    "checked" in a,
                )
            )
        elif tag == "select":
            self._select = Field(a["name"], "select", multiple="multiple" in a)
            self._form.fields.append(self._select)
        elif tag == "textarea":
            self._textarea = Field(a["name"], "textarea")
            self._form.fields.append(self._textarea)
        elif tag == "option" and self._select is not None:
            self._option, self._option_selected = a.get("value"), "selected" in a

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        elif self._select is not None and self._option is None and self.lasttag == "option":
            self._option = data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "option" and self._select is not None:
            self._select.options.append((self._option or "", self._option_selected))
            self._option = None


def parse_forms(page: str, html: str) -> list[FoundForm]:
    parser = _FormParser(page)
    parser.feed(html)
    parser.close()
    return [
        form
        for form in parser.forms
        if urlsplit(form.action).path not in SKIPPED_ACTIONS and not urlsplit(form.action).netloc
    ]


def page_paths(route: TenantRoute | None, name: str, tenant: Tenant) -> str | None:
    """The path to GET for a page, or None for a POST-only URL (its form is on another page)."""
    if route is None:
        return EXTRA_PAGES[name](tenant)
    if POSTS.spec_for(route.name).post_only:
        return None
    path = route.path(tenant.organization.slug, KWARGS.fill(route, tenant))
    step = STEPS.get(route.name or "")
    return f"{path}?{urlencode(step(tenant))}" if step else path


def _free_slot(tenant: Tenant) -> dict[str, str]:
    """The booking's second step as the first free slot of the student persona's booking page
    links to it (the provider persona keeps Monday hours, so one is within two weeks); an admin
    books for the student named by `?student=`."""
    from sessions_app import slots

    weekly_hours(tenant)
    relationship = holding_relationship(tenant)
    org = tenant.organization
    free = slots.free_slots(
        organization=org,
        relationships=[relationship],
        first_day=timezone.localdate(timezone=org.tz),
        day_count=14,
    )
    assert free, "the provider persona has no free slot within two weeks"
    return {"student": str(tenant.student.public_id), "at": free[0].start.isoformat()}


# --- The project's form classes ---------------------------------------------------------------


def _project_apps() -> list[str]:
    """The apps whose code lives in the checkout (a virtualenv inside it holds libraries)."""
    base = str(settings.BASE_DIR)
    return [
        config.name
        for config in apps.get_app_configs()
        if str(config.path).startswith(base)
        and "site-packages" not in str(config.path)
        and not config.name.startswith("tests")
    ]


def project_form_classes() -> set[type]:
    """Every concrete Form, ModelForm and FilterSet class of the project's apps (a class other
    project classes derive from is a base, reached through them)."""
    roots = _project_apps()
    for app in roots:
        for module in ("forms", "filters", "views"):
            try:
                importlib.import_module(f"{app}.{module}")
            except ModuleNotFoundError as error:
                if error.name != f"{app}.{module}":
                    raise

    def subclasses(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    found = {
        cls
        for base in (forms.BaseForm, django_filters.filterset.BaseFilterSet)
        for cls in subclasses(base)
        if cls.__module__.split(".")[0] in {app.split(".")[0] for app in roots}
        and not cls.__module__.startswith("tests")
    }
    bases = {base for cls in found for base in cls.__mro__[1:]}
    return {cls for cls in found if cls not in bases}


def label(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@contextmanager
def instantiated_form_classes() -> Iterator[set[type]]:
    """Record the class of every form and filter set built while the block runs."""
    seen: set[type] = set()
    originals = {
        forms.BaseForm: forms.BaseForm.__init__,
        django_filters.filterset.BaseFilterSet: django_filters.filterset.BaseFilterSet.__init__,
    }

    def recorder(original: Callable[..., None]) -> Callable[..., None]:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            seen.add(type(self))
            original(self, *args, **kwargs)

        return __init__

    for cls, original in originals.items():
        cls.__init__ = recorder(original)  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        for cls, original in originals.items():
            cls.__init__ = original  # type: ignore[method-assign]


# --- Row counts -------------------------------------------------------------------------------


# Rows written on purpose when an action is refused: a notice to the admins of a shortfall,
# committed in a transaction of its own (`sessions_app.services.tells_admins_of_shortfall`).
NOT_HALF_SAVES = ("matchpal.Notification",)


def row_counts(tenant: Tenant) -> dict[str, int]:
    """The row count of every tenant table (and of users), in one query, for "nothing half
    saved" checks."""
    from matchpal.models import User

    tables: list[tuple[str, str, bool]] = [("matchpal.User", User._meta.db_table, False)]
    model: type[Model]
    for model in tenant_models():
        if model._meta.label not in NOT_HALF_SAVES:
            tables.append((model._meta.label, model._meta.db_table, True))
    qn = connection.ops.quote_name
    sql = "SELECT " + ", ".join(
        f"(SELECT count(*) FROM {qn(table)}" + (" WHERE organization_id = %s)" if scoped else ")")
        for _, table, scoped in tables
    )
    params = [tenant.organization.pk for *_, scoped in tables if scoped]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        values = cursor.fetchone()
    return dict(zip((label for label, *_ in tables), values, strict=True))
