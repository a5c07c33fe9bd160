"""Counting requests in the cache (Redis in production) and refusing past a limit.

A limit is a number of requests per fixed window of time, per key (a client's address, a
webhook URL's token). The count lives in Django's default cache, shared by every web process,
and expires with its window. `cache.incr` is atomic on Redis, so concurrent requests never
both take the last place. Where it applies and why: docs/deploy.md, "Throttles". While Redis
cannot be reached nothing is counted and every request is let through (the cache reads as empty:
matchpal/cache.py; docs/deploy.md, "When Redis is down").
"""

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int
    message: str  # shown to whoever is refused

    def _key(self, key: str) -> str:
        window = int(time.time()) // self.seconds
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"throttle:{self.name}:{window}:{digest}"

    def used(self, key: str) -> int:
        value = cache.get(self._key(key))
        return int(value) if value is not None else 0

    def exhausted(self, key: str) -> bool:
        """Whether `key` has used up its window, without counting this look."""
        return self.used(key) >= self.count

    def hit(self, key: str) -> bool:
        """Count one request for `key`; False when it is past the limit (refuse it)."""
        cache_key = self._key(key)
        cache.add(cache_key, 0, timeout=self.seconds + 5)
        try:
            used = cache.incr(cache_key)
        except ValueError:  # expired between add and incr: this request opens a new count
            cache.set(cache_key, 1, timeout=self.seconds + 5)
            used = 1
        return used <= self.count

    def retry_after(self) -> int:
        return self.seconds - int(time.time()) % self.seconds


def client_address(request: HttpRequest) -> str:
    """The client's address, as allauth's rate limits read it (one rule for both: behind a
    proxy, ALLAUTH_TRUSTED_PROXY_COUNT says how many X-Forwarded-For entries to skip)."""
    from allauth.account.adapter import get_adapter

    return str(get_adapter(request).get_client_ip(request))


def refused(request: HttpRequest, limit: Limit) -> HttpResponse:
    response = render(request, "429.html", {"message": limit.message}, status=429)
    response["Retry-After"] = str(limit.retry_after())
    return response


def refused_plain(limit: Limit) -> HttpResponse:
    """For a machine client (the shop's webhook): the message as text."""
    response = HttpResponse(limit.message, status=429, content_type="text/plain")
    response["Retry-After"] = str(limit.retry_after())
    return response


def admin_sign_in_limit() -> Limit:
    from django.conf import settings

    return Limit(
        name="admin-sign-in",
        count=settings.MATCHPAL_ADMIN_SIGN_IN_LIMIT,
        seconds=3600,
        message=(
            "Too many sign-in attempts from your address: the administration's sign-in "
            "accepts another in an hour."
        ),
    )


class AdminSignInThrottle:
    """Every POST to the Django admin's sign-in counts against the client's address, whatever
    account it names and whether it succeeds (django-axes locks one account per address; this
    stops one address trying many accounts). The limit's window is an hour."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The admin's sign-in is `…/login/` (`AdminSite.get_urls`): any other POST (a session
        # logged, a form saved) is told apart without reversing the URL.
        path = request.path_info
        if request.method == "POST" and path.endswith("/login/") and path == _admin_login_path():
            limit = admin_sign_in_limit()
            if not limit.hit(client_address(request)):
                return refused(request, limit)
        response: HttpResponse = self.get_response(request)
        return response


def _admin_login_path() -> str:
    from django.urls import reverse

    return reverse("admin:login")
