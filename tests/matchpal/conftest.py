import uuid

import pytest


@pytest.fixture(autouse=True)
def _private_cache(settings) -> None:  # type: ignore[no-untyped-def]
    """A cache of this test's own for allauth's rate-limit counters.

    The shared Redis database is flushed by every other test's `cache.clear()` (other xdist
    workers, other runs on the same machine), which would reset or inflate the counters in the
    middle of a test that counts failed sign-ins.
    """
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"matchpal-tests-{uuid.uuid4()}",
        }
    }
