"""Resolving `/o/<org_slug>/…` into `request.organization` and `request.membership`.

A tenant view is wrapped in `tenant_view(...)`: it consumes the `org_slug` URL argument, finds
the signed-in user's membership of that organization in one query, and answers

- anonymous users with a redirect to sign in;
- non-members with 404 (nobody learns that another tenant, or its objects, exist);
- members whose role may not use the view with 403.
"""

import functools
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, Final, cast

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject, empty

from matchpal import prebuilt
from matchpal.models import Membership, Notification, Organization, Role, User


class SignedInRequest(HttpRequest):
    """What a `login_required` view receives: the user is signed in."""

    user: User


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
    answer = prebuilt.fetch(sql, [values[name] for name in order])
    if not answer:
        return None
    (found,) = answer
    return _membership_from(found, rows)


def _membership_from(found: Sequence[Any], rows: prebuilt.Rows) -> Membership:
    """The membership, its organization and its unread count, from a row of the lookup."""
    width = len(Membership._meta.concrete_fields)
    unread = found[width]
    membership, organization = rows.instances((*found[:width], *found[width + 1 :]))
    assert isinstance(membership, Membership)
    assert isinstance(organization, Organization)
    membership.unread_notices = unread  # type: ignore[attr-defined]
    membership.organization = organization
    return membership


# --- The signed-in user and the membership in one statement -------------------------------
#
# A tenant request used to read the user (Django's authentication, on the first use of
# `request.user`), then the membership: two round trips, the first an ORM `get()` compiled on
# every request. When the user has not been loaded yet, `tenant_view` reads both in one
# statement (the user by the session's id, with the membership lookup above as a LEFT JOIN) and
# applies Django's own checks to the user it read: the session's backend among
# AUTHENTICATION_BACKENDS, `user_can_authenticate`, the session's hash (with the fallback
# secrets), exactly as `django.contrib.auth.get_user` does. The user becomes the request's
# (`request._cached_user`, where Django's middleware keeps it), so `request.user` is that user
# and is not read again (docs/performance.md, "The per-request floor").


@functools.cache
def _signed_in_statement() -> tuple[str, tuple[str, ...], prebuilt.Rows, prebuilt.Rows]:
    """The user by id, with the membership lookup's row beside it (NULLs for a non-member)."""
    membership_sql, order, membership_rows = _membership_statement()
    users = prebuilt.table(User)
    user = prebuilt.Part(User, User._meta.db_table)
    pk = prebuilt.quote(str(User._meta.pk.column))
    sql = (
        f"SELECT {user.columns()}, found.* FROM {users} "  # noqa: S608 (the model's names and the compiled lookup only)
        f"LEFT JOIN ({membership_sql}) AS found ON TRUE WHERE {users}.{pk} = %s"
    )
    return sql, (*order, "user"), prebuilt.Rows([user]), membership_rows


def _user_and_membership_prebuilt(
    *, user_id: Any, org_slug: str
) -> tuple[User | None, Membership | None]:
    sql, order, user_rows, membership_rows = _signed_in_statement()
    values: dict[str, Any] = {"user": user_id, "slug": org_slug}
    answer = prebuilt.fetch(sql, [values[name] for name in order])
    if not answer:
        return None, None
    (found,) = answer
    width = len(User._meta.concrete_fields)
    (user,) = user_rows.instances(found[:width])
    assert isinstance(user, User)
    rest = found[width:]
    if rest[0] is None:  # the membership's primary key: no membership of this organization
        return user, None
    return user, _membership_from(rest, membership_rows)


def _verified(request: HttpRequest, user: User) -> bool:
    """`django.contrib.auth.get_user`'s check of the session's hash against the user's, as
    Django writes it: a hash made with a fallback secret cycles the session key, a wrong or
    missing one flushes the session."""
    session = request.session
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash:
        verified = False
    else:
        session_auth_hash = user.get_session_auth_hash()
        verified = constant_time_compare(session_hash, session_auth_hash)
    if not verified:
        if session_hash and any(
            constant_time_compare(session_hash, fallback_auth_hash)
            for fallback_auth_hash in user.get_session_auth_fallback_hash()
        ):
            session.cycle_key()
            session[HASH_SESSION_KEY] = session_auth_hash
        else:
            session.flush()
            return False
    return True


def _signed_in(request: HttpRequest, org_slug: str) -> tuple[Any, Membership | None] | None:
    """(the request's user, the membership) in one statement, or None where Django's own
    loading must run: the user already loaded, a request whose `user` is not the
    authentication middleware's, a backend with a `get_user` of its own, or no PostgreSQL."""
    lazy = request.__dict__.get("user")
    if (
        not isinstance(lazy, SimpleLazyObject)
        or lazy._wrapped is not empty
        or "_cached_user" in request.__dict__
        or not hasattr(request, "session")
        or get_user_model() is not User
        or not prebuilt.available()
    ):
        return None
    session = request.session
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return AnonymousUser(), None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser(), None
    backend = load_backend(backend_path)
    if not isinstance(backend, ModelBackend) or type(backend).get_user is not ModelBackend.get_user:
        return None  # a backend that reads its users its own way
    user, membership = _user_and_membership_prebuilt(user_id=user_id, org_slug=org_slug)
    if user is None or not backend.user_can_authenticate(user) or not _verified(request, user):
        return AnonymousUser(), None
    if membership is not None:
        membership.user = user
    return user, membership


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
            loaded = _signed_in(request, org_slug)
            if loaded is not None:
                user, membership = loaded
                request._cached_user = user  # type: ignore[attr-defined]
            else:
                user = request.user
                membership = None
                if user.is_authenticated:
                    membership = membership_for(user=user, org_slug=org_slug)
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
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
