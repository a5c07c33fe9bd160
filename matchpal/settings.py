"""Matchpal settings.

Everything comes from the environment (see `.env.example`). With nothing set the app runs on
embedded defaults: SQLite under `var/` and Kombu's filesystem broker, so `make run` works on a
bare machine. PostgreSQL and Redis are the production setup and what the test suite uses.
"""

import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from matchpal.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MATCHPAL_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("MATCHPAL_REQUIRE_SECRET_KEY", True):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_filters",
    "axes",
    "matchpal",
    "notifications",
    "students",
    "providers",
    "grants",
    "relationships",
    "sessions_app",
    "integrations",
    "reports",
    "reports.export_jobs",
    "privacy",
    "demo",
]

MIDDLEWARE = [
    # First: its line times the whole request and carries the request id (docs/deploy.md, "Logs").
    "matchpal.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "matchpal.throttle.AdminSignInThrottle",
    # AxesMiddleware last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "matchpal.urls"
WSGI_APPLICATION = "matchpal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "matchpal.context_processors.tenancy",
            ],
            # Django's `date` filter, written without its per-call formatter, and `{% url %}`
            # with its results kept per process (issue 11).
            "builtins": ["matchpal.templatetags.dates", "matchpal.templatetags.urls"],
        },
    },
]

# Django's form renderer, with the common widgets and labels written in Python (issue 11).
FORM_RENDERER = "matchpal.form_renderer.Renderer"

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # No JIT compilation: a page's queries are short, and compiling one whose estimated cost
        # crosses PostgreSQL's threshold (a per-student aggregate at 10,000 students) took 1.4 s
        # of a 1.9 s query (docs/indexes.md).
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "matchpal.sqlite3"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        }
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The ledger's roll-ups (reports.LedgerDay, StudentLedgerPeriod) key their rows with NULLs
    # counted as equal, a PostgreSQL constraint. SQLite creates the tables without it, and they
    # stay empty there: PostgreSQL's triggers fill them, and on SQLite the reports read the
    # ledger itself (docs/reports.md, "Roll-ups of the ledger").
    # The covering indexes' included columns (`include=`, docs/indexes.md) are PostgreSQL's
    # too: SQLite builds the index on its key columns alone, which serves the same queries.
    SILENCED_SYSTEM_CHECKS = ["models.W047", "models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "matchpal.User"

AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out login before any other backend is asked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Report exports' files (reports/export_jobs/), served only through a view that checks who
    # asks. Any Django storage works here, e.g. an S3-compatible one (docs/exports.md).
    "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env_str("MATCHPAL_EXPORTS_DIR", str(VAR_DIR / "exports")),
        },
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("MATCHPAL_PLAIN_STATIC", False)
            # WhiteNoise's compressed manifest, each URL worked out once (static_storage.py).
            else "matchpal.static_storage.StaticFilesStorage"
        )
    },
}
# Several machines: exports in an S3-compatible bucket (the `s3` extra, django-storages) that
# every web process and worker reaches; never public, always downloaded through the view.
_exports_bucket = env_str("MATCHPAL_EXPORTS_S3_BUCKET")
if _exports_bucket:
    STORAGES["exports"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _exports_bucket,
            # Unset: AWS itself; set for MinIO, Ceph, R2… (https://s3.example.org).
            "endpoint_url": env_str("MATCHPAL_EXPORTS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("MATCHPAL_EXPORTS_S3_REGION") or None,
            # Unset: boto3's own chain (AWS_* variables, an instance role).
            "access_key": env_str("MATCHPAL_EXPORTS_S3_ACCESS_KEY") or None,
            "secret_key": env_str("MATCHPAL_EXPORTS_S3_SECRET_KEY") or None,
            "location": "exports",
            "file_overwrite": False,
        },
    }
WHITENOISE_USE_FINDERS = DEBUG

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# --- Cache (allauth's rate limits count here) --------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # Django's Redis cache with one client per connection pool, read as empty while Redis cannot
    # be reached (matchpal/cache.py; docs/deploy.md, "When Redis is down"). Redis is on the
    # local network: a second is ample to connect or answer, and bounds what an unreachable one
    # costs a request (redis-py waits 5 s).
    CACHES = {
        "default": {
            "BACKEND": "matchpal.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Sessions are read from the cache and written through to the database (Django's cached_db,
# matchpal/sessions.py): a signed-in request reads no session row, one query fewer on every
# page; a cache miss or an unreachable cache falls back to the database (docs/performance.md,
# "Per-request cost"; docs/deploy.md, "When Redis is down").
SESSION_ENGINE = "matchpal.sessions"

# --- Email (Django 6.1 mailers) ---------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Matchpal <no-reply@matchpal.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email_host = env_str("EMAIL_HOST")
# With DEBUG off an SMTP server is required: a deployment that silently prints its invitations
# and password resets to a log is broken. Printing is a choice made explicitly (EMAIL_CONSOLE),
# for trials; with DEBUG on it is the default.
_email_console = env_bool("EMAIL_CONSOLE", DEBUG and not _email_host)
if _email_host and not _email_console:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env_int("EMAIL_PORT", 587),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 20,
            },
        }
    }
elif _email_console:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    raise ImproperlyConfigured(
        "EMAIL_HOST must be set when DEBUG is off (an SMTP server to send email through), "
        "or EMAIL_CONSOLE=true to print emails instead of sending them (trials only)."
    )

# --- Accounts (django-allauth) ------------------------------------------------------------
ACCOUNT_ADAPTER = "matchpal.accounts.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Matchpal] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env_str(
    "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http" if DEBUG else "https"
)
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    # 60 an hour per address: one address trying many accounts is stopped within the hour.
    "login_failed": "10/m/ip,60/h/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "request_login_code": "20/m/ip,3/m/key",
}
if not env_bool("ACCOUNT_RATE_LIMITS_ENABLED", True):
    ACCOUNT_RATE_LIMITS = False  # type: ignore[assignment]  # allauth's switch for "no limits"

# --- Brute-force protection of every login, the Django admin's included (django-axes) ----
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
# The "username" axes counts is the account's email, read from whichever form signed in:
# allauth's (`login`, authenticated as `email`) or the admin's (`username`).
AXES_USERNAME_CALLABLE = "matchpal.accounts.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("AXES_ENABLED", True)

# --- Matchpal -------------------------------------------------------------------------------
# Operators of a hosted deployment may stop signed-in users from creating organizations.
MATCHPAL_ALLOW_ORG_CREATION = env_bool("MATCHPAL_ALLOW_ORG_CREATION", True)
MATCHPAL_INVITATION_DAYS = env_int("MATCHPAL_INVITATION_DAYS", 7)
MATCHPAL_PAGE_SIZE = env_int("MATCHPAL_PAGE_SIZE", 25)
# A CSV downloaded directly reads at most this many rows (sessions, or ledger entries for the
# reports over the ledger); a larger one is offered as a background export (docs/reports.md).
MATCHPAL_CSV_DIRECT_MAX_ROWS = env_int("MATCHPAL_CSV_DIRECT_MAX_ROWS", 5000)
# The address people reach the app at: emails are read far from any request, so their links are
# made absolute from this (docs/notifications.md).
MATCHPAL_SITE_URL = env_str("MATCHPAL_SITE_URL", "http://localhost:8000").rstrip("/")
# The shop's REST API is fetched at the store URL an admin typed: only public addresses, unless
# a self-hosted center whose shop runs on its own network allows loopback and private ones
# (never link-local, multicast or reserved ones; see matchpal/outbound.py).
MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES = env_bool("MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES", False)

# --- Celery -------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = None
    if REDIS_URL.startswith("redis://"):
        # kombu's own transport, keeping one client per channel (matchpal/broker.py). Only for
        # plain redis://: naming a transport turns off what kombu infers from rediss:// (TLS).
        CELERY_BROKER_TRANSPORT = "matchpal.broker:RedisTransport"
else:
    # Kombu's filesystem transport: a broker that needs no server, for `make run`.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Security (docs/deploy.md, "Security") --------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The Content-Security-Policy of every answer, with DEBUG on as well so a page that needs an
# inline script or style fails in development, not first in production. Nothing inline: every
# script and stylesheet is a file under static/ (tests/test_inline_code.py keeps it so), and
# htmx is told not to insert its own <style> (the htmx-config meta tag in base.html). Bootstrap's
# stylesheet draws a few icons as data: SVG images.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if not DEBUG:
    # One switch for "this deployment is reached over HTTPS": secure-only cookies and the
    # redirect of plain HTTP to HTTPS; false only for a plain-HTTP trial.
    _https = env_bool("SECURE_COOKIES", True)
    SESSION_COOKIE_SECURE = _https
    CSRF_COOKIE_SECURE = _https
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _https)
    # Load balancers probe the health URLs over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _https else 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # The header a TLS-terminating proxy sets (and overwrites when a client sends it) to say
    # the request came over HTTPS. Empty: no proxy is trusted (the app terminates TLS itself).
    _proxy_header = env_str("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto").strip()
    if _proxy_header:
        if not re.fullmatch(r"[A-Za-z0-9-]+", _proxy_header):
            raise ImproperlyConfigured(
                f"SECURE_PROXY_SSL_HEADER={_proxy_header!r} is not a header name "
                "(e.g. X-Forwarded-Proto; empty to trust no proxy)."
            )
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

# --- Logs and errors (docs/deploy.md, "Logs") ---------------------------------------------
# One JSON object per line (a request, a task, any record), each with the request id; `text`
# for people reading a terminal (the default with DEBUG).
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "matchpal.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "matchpal.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The request line replaces Django's own line for 4xx and 5xx answers (the traceback
        # of a 500 still comes from django.request's ERROR record).
        "django.request": {"level": "ERROR"},
    },
}
# The worker logs through the same handler instead of installing its own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    try:
        import sentry_sdk
        from sentry_sdk.integrations.celery import CeleryIntegration
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError as error:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: install the `sentry` extra."
        ) from error
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # Errors only; no performance tracing, no personal data beyond the user's id.
        traces_sample_rate=0.0,
        send_default_pii=False,
    )
AXES_VERBOSE = False

# --- Throttles (matchpal/throttle.py; docs/deploy.md, "Throttles") --------------------------
# Sign-in attempts on the Django admin per client address and hour, whatever account they name.
MATCHPAL_ADMIN_SIGN_IN_LIMIT = env_int("MATCHPAL_ADMIN_SIGN_IN_LIMIT", 60)
# Unsigned or rejected webhook requests per store URL and hour; signed ones are never limited.
MATCHPAL_WEBHOOK_REJECTED_LIMIT = env_int("MATCHPAL_WEBHOOK_REJECTED_LIMIT", 60)
# Behind proxies that append to X-Forwarded-For: how many to skip to find the client's address
# (allauth's rate limits and the admin's sign-in limit). 0: the connecting address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
