"""Helpers shared by the ledger service tests."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from grants import services
from tests.factories import SessionFactory

DAY = timedelta(days=1)


def refused(exc_type: type[Exception], message: str):  # type: ignore[no-untyped-def]
    """The exact message, not a fragment of it."""
    return pytest.raises(exc_type, match=f"^{re.escape(message)}$")


def consume(rel, quantity, *, at=None, draw_shortfall=False, **kwargs):  # type: ignore[no-untyped-def]
    session = SessionFactory(
        relationship=rel, duration_minutes=quantity, starts_at=at or timezone.now()
    )
    result = services.consume(
        actor=None,
        relationship=rel,
        session=session,
        quantity=quantity,
        at=session.starts_at,
        draw_shortfall=draw_shortfall,
        **kwargs,
    )
    return session, result
