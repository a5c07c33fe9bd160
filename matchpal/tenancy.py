"""Resolving `/o/<org_slug>/…` into `request.organization` and `request.membership`.

A tenant view is wrapped in `tenant_view(...)`: it consumes the `org_slug` URL argument, finds
the signed-in user's membership of that organization in one query, and answers

- anonymous users with a redirect to sign in;
- non-members with 404 (nobody learns that another tenant, or its objects, exist);
- members whose role may not use the view with 403.
"""

import functools
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, Final, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils import timezone

from matchpal import prebuilt
from matchpal.models import Membership, Notification, Organization, Role

if TYPE_CHECKING:
    from matchpal.models import User


class SignedInRequest(HttpRequest):
    """What a `login_required` view receives: the user is signed in."""

    user: "User"


class TenantRequest(SignedInRequest):
    """What a tenant view receives; type checkers catch a view that forgets the decorator."""

    organization: Organization
    membership: Membership


TenantView = Callable[..., HttpResponseBase]

ALL_ROLES = frozenset(Role.values)

# Checks an app above this one runs before every tenant view (a center requiring check-ins
# first: `sessions_app.checkin.overdue_guard`); each answers None to let the view run, or the
# response to give instead. A view marked `guard_exempt` (the pages that clear the condition)
# always runs. A guard must cost no query unless its center's setting is on.
TenantGuard = Callable[["TenantRequest"], HttpResponseBase | None]
_guards: list[TenantGuard] = []


def register_guard(guard: TenantGuard) -> TenantGuard:
    if guard not in _guards:
        _guards.append(guard)
    return guard


def guard_exempt(view: TenantView) -> TenantView:
    """Mark a view the guards never stop (put it under `tenant_view`)."""
    view.guard_exempt = True  # type: ignore[attr-defined]
    return view


# The bell shows "99+" past this: counting stops there, whatever a member has left unread.
UNREAD_CAP = 100


class _CappedCount(Subquery):
    """count(*) of a subquery that is LIMITed: at most `UNREAD_CAP + 1` index entries read."""

    template = "(SELECT count(*) FROM (%(subquery)s) AS capped)"
    output_field = IntegerField()


def unread_count() -> _CappedCount:
    """The membership's unread notices, as an annotation of the `Membership` query each tenant
    request already runs (`membership_for`): the bell costs no query of its own.
    Read through the partial index `notification_unread`."""
    return _CappedCount(
        Notification.objects.filter(
            organization_id=OuterRef("organization_id"),
            user_id=OuterRef("user_id"),
            read_at__isnull=True,
        )
        .order_by()
        .values("id")[: UNREAD_CAP + 1]
    )


def membership_for(*, user: Any, org_slug: str) -> Membership | None:
    """The user's membership of the organization, with the organization and the user: the
    services take this membership as the actor (`membership.user` is who acted), so handing
    it on costs no query.

    The user is the one the request has loaded already, not joined again, and the lookup is
    unordered (one row at most, by the unique user and organization; `order_by()` drops the
    model's default ordering by the organization's name too): joining the user and an
    `ORDER BY` cost a third of this query's Python and planning on every tenant
    request (docs/performance.md, "Per-request cost")."""
    if not user.is_authenticated:
        return None
    if prebuilt.available():
        membership = _membership_prebuilt(user_id=user.pk, org_slug=org_slug)
    else:
        found = list(_membership_query(user_id=user.pk, org_slug=org_slug))
        membership = found[0] if found else None
    if membership is None:
        return None
    # `request.user` is a lazy object, evaluated by `is_authenticated` above: hand on the user.
    membership.user = getattr(user, "_wrapped", user)
    return membership


def _membership_query(*, user_id: Any, org_slug: str) -> QuerySet[Membership]:
    # The bell's unread count rides on this query (`unread_count`).
    return (
        Membership.objects.select_related("organization")
        .filter(user_id=user_id, organization__slug=org_slug)
        .annotate(unread_notices=unread_count())
        .order_by()[:1]
    )


# Stand-ins for the lookup's two values while its statement is compiled, found again among the
# compiled parameters to learn where each goes.
_SLUG_MARK: Final = "\x00org_slug"
_USER_MARK: Final = -7_919


@functools.cache
def _membership_statement() -> tuple[str, tuple[str, ...], prebuilt.Rows]:
    """`_membership_query` compiled once per process: its SQL, where the user and the slug go
    among its parameters, and its row's readers. Compiling it (a join and the unread count's
    subquery) was most of the lookup's Python on every tenant request (docs/performance.md,
    "The lists within 15x /healthz"); tests/matchpal/tenancy/test_membership_lookup.py reads
    the same row both ways."""
    sql, params = _membership_query(user_id=_USER_MARK, org_slug=_SLUG_MARK).query.sql_with_params()
    order = tuple("user" if value == _USER_MARK else "slug" for value in params)
    assert sorted(order) == ["slug", "user"], params
    assert _SLUG_MARK in params, params
    # The row: the membership's columns, the annotation, then the organization's.
    return (
        sql,
        order,
        prebuilt.Rows([prebuilt.Part(Membership, "m"), prebuilt.Part(Organization, "o")]),
    )


def _membership_prebuilt(*, user_id: int, org_slug: str) -> Membership | None:
    sql, order, rows = _membership_statement()
    values: dict[str, int | str] = {"user": user_id, "slug": org_slug}
    with connection.cursor() as cursor:
        cursor.execute(sql, [values[name] for name in order])
        found = cursor.fetchone()
    if found is None:
        return None
    width = len(Membership._meta.concrete_fields)
    unread = found[width]
    membership, organization = rows.instances((*found[:width], *found[width + 1 :]))
    assert isinstance(membership, Membership)
    assert isinstance(organization, Organization)
    membership.unread_notices = unread  # type: ignore[attr-defined]
    membership.organization = organization
    return membership


def tenant_view(*roles: str) -> Callable[[TenantView], TenantView]:
    """Decorate a view under `/o/<org_slug>/`; `roles` may use it (default: every member)."""
    allowed = frozenset(roles) if roles else ALL_ROLES
    unknown = allowed - ALL_ROLES
    if unknown:
        raise ValueError(f"Unknown roles: {sorted(unknown)}")

    def decorator(view: TenantView) -> TenantView:
        @wraps(view)
        def wrapper(
            request: HttpRequest, org_slug: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = membership_for(user=request.user, org_slug=org_slug)
            if membership is None:
                raise Http404("No such organization.")
            tenant_request = cast(TenantRequest, request)
            tenant_request.organization = membership.organization
            tenant_request.membership = membership
            if membership.role not in allowed:
                raise PermissionDenied("Your role in this organization may not do this.")
            # Times on tenant pages are the organization's local times.
            with timezone.override(membership.organization.tz):
                if not getattr(view, "guard_exempt", False):
                    for guard in _guards:
                        stopped = guard(tenant_request)
                        if stopped is not None:
                            return stopped
                return view(tenant_request, *args, **kwargs)

        wrapper.tenant_roles = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorator


admin_required = tenant_view(Role.ADMIN)
