"""Real-browser tests: Playwright's sync API driving Debian's Chromium against `live_server`.

Playwright never downloads a browser here: it launches /usr/bin/chromium (Debian's package,
which `.ci/run` installs). Without it the tests skip locally and fail in CI.
"""

import os
from collections.abc import Iterator
from pathlib import Path

# Playwright's sync API runs an event loop in the test's thread; Django would then refuse ORM
# calls from that thread (the factories, the outbox checks) as "async-unsafe". Set before
# Playwright starts.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from matchpal.models import User

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        reason = (
            f"Debian's chromium is not installed at {CHROMIUM} "
            "(apt-get install chromium; .ci/run installs it)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test; more with `browser.new_context()`."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    yield context
    context.close()


def signed_in_context(
    browser: Browser, live_server_url: str, user: User, **options: object
) -> BrowserContext:
    """A browser context carrying `user`'s session cookie, for tests not about signing in."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server_url,
            }
        ]
    )
    return context
