"""Resolving `/o/<org_slug>/…` into `request.organization` and `request.membership`.

A tenant view is wrapped in `tenant_view(...)`: it consumes the `org_slug` URL argument, finds
the signed-in user's membership of that organization in one query, and answers

- anonymous users with a redirect to sign in;
- non-members with 404 (nobody learns that another tenant, or its objects, exist);
- members whose role may not use the view with 403.
"""

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import IntegerField, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils import timezone

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
    # The bell's unread count rides on this query (`unread_count`).
    found = list(
        Membership.objects.select_related("organization")
        .filter(user=user, organization__slug=org_slug)
        .annotate(unread_notices=unread_count())
        .order_by()[:1]
    )
    if not found:
        return None
    membership = found[0]
    # `request.user` is a lazy object, evaluated by `is_authenticated` above: hand on the user.
    membership.user = getattr(user, "_wrapped", user)
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
