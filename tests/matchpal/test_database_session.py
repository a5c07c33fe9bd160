"""What every connection to PostgreSQL sets for itself (matchpal/settings.py)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return str(cursor.fetchone()[0])


def test_queries_are_never_jit_compiled() -> None:
    # Compiling a per-student aggregate of the admin home took 1.4 s of its 1.9 s.
    assert _setting("jit") == "off"


def test_the_tests_keep_their_own_setting_beside_it() -> None:
    assert _setting("synchronous_commit") == "off"
