"""docs/notifications.md lists every kind of notice, with what it is, who gets it and when: the
kinds declared in `notifications/kinds.py` and those other apps register at start-up."""

import re
from pathlib import Path

from django.conf import settings

from notifications import kinds

ROW = re.compile(r"^\| `(?P<kind>[a-z_]+)` \|(?P<cells>.*)\|$", re.MULTILINE)


def documented() -> dict[str, list[str]]:
    text = (Path(settings.BASE_DIR) / "docs" / "notifications.md").read_text()
    return {m["kind"]: [c.strip() for c in m["cells"].split(" | ")] for m in ROW.finditer(text)}


def test_every_kind_has_its_row_with_what_who_and_when() -> None:
    rows = documented()

    assert sorted(set(kinds.KINDS) - set(rows)) == []
    assert sorted(set(rows) - set(kinds.KINDS)) == []
    incomplete = {kind: cells for kind, cells in rows.items() if len(cells) != 3 or not all(cells)}
    assert incomplete == {}


def test_the_scheduling_kinds_are_among_them() -> None:
    assert {"session_booked", "session_message", "no_show_warning", "calendar_invite"} <= set(
        kinds.KINDS
    )
