"""The CSV exports stream (docs/reports.md, "Exports"): the rows are read from a server-side
cursor a chunk at a time while the first lines are already sent, so an export's memory does not
grow with its rows. PostgreSQL only (its `pg_cursors` shows the open cursor; SQLite has none)."""

import pytest
from django.db import connection
from django.urls import reverse

from reports import exports
from tests.reports.history import JUNE, build
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db]


def test_the_session_rows_are_read_from_a_server_side_cursor_a_chunk_at_a_time(
    clock: object, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(tenant_a)
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    monkeypatch.setattr(exports, "PIECE_BYTES", 1)  # each line its own piece
    url = reverse("reports:session_rows_csv", args=[tenant_a.organization.slug])
    response = client_for(tenant_a.admin).get(url, JUNE)
    chunks = iter(response.streaming_content)
    first = [next(chunks) for _ in range(3)]  # the header and two sessions
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_cursors")
        open_cursors = [row[0] for row in cursor.fetchall()]
    rest = list(chunks)

    assert any("sessions_app_session" in statement for statement in open_cursors), open_cursors
    assert len(first) + len(rest) == 1 + 8  # the header, then one line per session
