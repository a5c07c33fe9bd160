"""The production settings pass `manage.py check --deploy` without one warning, and the
settings refuse a production configuration that would quietly be unsafe.

"The production settings" are `.env.example`, the file the README and docker compose start
from, with a real secret key in place of its placeholder. Each check runs the settings in a
process of its own: they are read once, from the environment, at start-up.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def documented_environment() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def run(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """manage.py with only the given environment (plus the test database and PATH)."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "matchpal.settings",
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "MATCHPAL_VAR_DIR": os.environ.get("TMPDIR", "/tmp") + "/matchpal-deploy-check",
        **environment,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**overrides: str) -> dict[str, str]:
    return documented_environment() | {"SECRET_KEY": secrets.token_urlsafe(50)} | overrides


def test_check_deploy_is_clean_on_the_documented_production_settings() -> None:
    result = run("check", "--deploy", "--fail-level", "WARNING", **production())

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_documented_settings_turn_every_protection_on() -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.MAILERS['default']['BACKEND'], *s.SECURE_CSP['script-src'], "
        "*s.SECURE_CSP['style-src'])"
    )
    result = run("shell", "--no-imports", "-c", code, **production())

    assert result.stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
        "True",
        "django.core.mail.backends.smtp.EmailBackend",
        "'self'",
        "'self'",
    ], result.stderr


def test_hsts_and_the_proxy_header_follow_their_variables() -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER)"
    )
    result = run(
        "shell",
        "--no-imports",
        "-c",
        code,
        **production(
            SECURE_HSTS_SECONDS="300",
            SECURE_HSTS_PRELOAD="false",
            SECURE_PROXY_SSL_HEADER="X-Scheme",
        ),
    )

    assert result.stdout.split() == ["300", "False", "('HTTP_X_SCHEME',", "'https')"], result.stderr


def test_no_proxy_header_is_trusted_when_it_is_empty() -> None:
    code = "from django.conf import settings as s; print(s.SECURE_PROXY_SSL_HEADER)"
    result = run("shell", "--no-imports", "-c", code, **production(SECURE_PROXY_SSL_HEADER=""))

    assert result.stdout.split() == ["None"], result.stderr


def test_a_malformed_proxy_header_stops_the_app() -> None:
    result = run("check", **production(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https"))

    assert result.returncode == 1
    message = "SECURE_PROXY_SSL_HEADER='X-Forwarded-Proto: https' is not a header name"
    assert message in result.stderr


def test_without_an_smtp_server_the_app_does_not_start() -> None:
    environment = production()
    del environment["EMAIL_HOST"]

    result = run("check", **environment)

    assert result.returncode == 1
    assert (
        "EMAIL_HOST must be set when DEBUG is off (an SMTP server to send email through), "
        "or EMAIL_CONSOLE=true to print emails instead of sending them (trials only)."
    ) in result.stderr


def test_printing_emails_is_an_explicit_choice_that_check_deploy_reports() -> None:
    environment = production(EMAIL_CONSOLE="true")
    del environment["EMAIL_HOST"]

    result = run("check", "--deploy", **environment)

    assert result.returncode == 1
    assert "(mail.E001)" in result.stderr
    assert "console.EmailBackend" in result.stderr


def test_a_plain_http_trial_turns_the_https_protections_off_together() -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE)"
    )
    result = run("shell", "--no-imports", "-c", code, **production(SECURE_COOKIES="false"))

    assert result.stdout.split() == ["False", "0", "False"], result.stderr
