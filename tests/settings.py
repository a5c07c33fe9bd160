"""Test settings: the real settings, with PostgreSQL and Redis (Celery's broker) from the
environment (see the Makefile's `test` target), an in-memory cache and a few speed-ups."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("MATCHPAL_PLAIN_STATIC", "true")
# The test client speaks plain HTTP and mail goes to Django's outbox: no redirect to HTTPS, and
# no SMTP server required (a subprocess started by a test inherits both).
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("EMAIL_CONSOLE", "true")

from matchpal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
# The tests that start a real worker (tests/integrations/test_worker.py,
# tests/reports/export_jobs/test_export_worker.py) share the Redis broker with the other xdist
# worker's: a queue per xdist worker, so no worker thread takes a task of another process, which
# would run it against the wrong test database.
CELERY_TASK_DEFAULT_QUEUE = "tests-" + os.environ.get("PYTEST_XDIST_WORKER", "main")
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
# The cache (allauth's rate-limit counters) is this process's memory, emptied before every test
# (tests/conftest.py): nothing to scan, nothing shared between xdist workers. A test about the
# Redis cache itself asks for the `redis_cache` fixture. Celery's broker stays on Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "matchpal-tests",
    }
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
# A transactional test's flush deletes rows rather than truncating tables (tests/postgresql/).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
    # Commits return before the WAL reaches the disk: a crash loses the last commits, which for
    # a test database made and emptied by the tests themselves costs nothing.
    database_options = DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
    database_options["options"] = (
        database_options.get("options", "") + " -c synchronous_commit=off"
    ).strip()
# Report exports' files go to a folder of this run's own, removed at exit.
_exports_dir = tempfile.mkdtemp(prefix="matchpal-test-exports-")
atexit.register(shutil.rmtree, _exports_dir, ignore_errors=True)
STORAGES["exports"]["OPTIONS"]["location"] = _exports_dir  # noqa: F405
