"""The session store: Django's `cached_db` (sessions read from the cache, written through to the
database), which spares every signed-in request its session query, made safe to sign out of
while the cache cannot be reached.

With Redis down the cache reads as empty and drops writes (matchpal/cache.py): a session is read
from and saved to the database, as with the plain database store, and a new session's key is
checked against the database alone. Signing out is the one step that needs the cache: it must
remove the session's copy there, and a copy left behind comes back with Redis (its append-only
file keeps it across a restart), where its cookie, had someone copied it, would be read from
the cache without the database and be signed in again. So a sign-out that could not reach the
cache ends every session of the person instead: their `session_generation` goes up, which
changes the hash every signed-in session must carry and every request already compares with
the user row it reads (`User._get_session_auth_hash`). Signed out everywhere, but only while
Redis is down; the happy path is Django's.
"""

import logging

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends import cached_db
from django.db.models import F
from django.utils.crypto import constant_time_compare

from matchpal.cache import unreachable

logger = logging.getLogger(__name__)


class SessionStore(cached_db.SessionStore):
    def flush(self) -> None:
        user_id = self.get(SESSION_KEY)
        session_hash = self.get(HASH_SESSION_KEY)
        super().flush()
        if user_id is not None and session_hash and unreachable(self._cache):  # type: ignore[attr-defined]
            _end_every_session(user_id, session_hash)


def _end_every_session(user_id: str, session_hash: str) -> None:
    """Raise the person's session generation, if the session that could not leave the cache was
    still signed in: a session refused already (its hash no longer the person's, as after an
    earlier sign-out here) is flushed by the request that finds it, which must not sign out the
    session the person has opened since."""
    from matchpal.models import User

    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(session_hash, known) for known in hashes):
        return
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    logger.warning(
        "Signed out with the cache unreachable: every session of user %s was ended.", user.pk
    )
