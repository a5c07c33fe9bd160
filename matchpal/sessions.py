"""The session store: Django's `cached_db` (sessions read from the cache, written through to the
database), which spares every signed-in request its session query, made to survive a cache it
cannot reach.

Django's store already ignores a cache error when it reads and when it saves, but not when it
fills the cache after a miss: with Redis down, every signed-in page would fail. Here that fill is
skipped when the cache cannot take it, and the session read from the database serves, as with
the plain database store. Deleting (signing out) still
fails with the cache: a session removed from the database but left in a cache that comes back
would sign its cookie in again.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.models import Session
from django.core.cache.backends.base import BaseCache

logger = logging.getLogger(__name__)


class SessionStore(cached_db.SessionStore):
    # Set and defined by Django's stores; the type stubs leave them out.
    _cache: BaseCache
    _get_session_from_db: Callable[[], Session | None]

    def load(self) -> dict[str, Any]:
        """Django's `cached_db` load, with the cache filled after a miss only if it can be."""
        try:
            data = self._cache.get(self.cache_key)
        except Exception:
            data = None
        if data is not None:
            return data  # type: ignore[no-any-return]
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception:
            logger.warning("Session cache unreachable: the session was read from the database.")
        return data
