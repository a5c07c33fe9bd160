"""A page of a student's ledger history (the hours pages), read by two statements built once.

Through the ORM a page cost three statements that Django built and compiled on every request
(the capped count, the page's rows joined to six tables by the ids of the page, and, past the
first page, a grouped sum of the entries before it), and PostgreSQL planned the six-table join
each time, 3 to 15 ms on the large center; each page number was a statement of its own, its
offset written into the SQL (docs/performance.md, "The student's pages within 15×").

Here the count and the page are SQL written once per process from the models' metadata, every
value a bound parameter (the page's `LIMIT` and `OFFSET` too), and the page:

- cuts the student's entries to the page first, in a derived table over the entries and their
  grants alone (the sort walks narrow rows; only the page's 25 are joined to the others);
- reads of the relationship, its provider, the session and the actor only what a row shows,
  and takes each entry's grant from the grants the page has already read;
- sums, in the same pass, what the entries newer than each one changed in its unit's usable
  balance (a window over the student's narrow rows, which the offset's sort reads anyway), so
  "free to book after" needs no statement of its own on any page.

PostgreSQL only (`matchpal.prebuilt.available`): elsewhere the hours pages page
`selectors.history` with `selectors.page_with_running`, which give the same rows
(tests/grants/test_history_page.py compares the two on every page).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, overload

from django.db.models import ForeignKey, Model

from grants.models import Grant, GrantEntry
from matchpal import prebuilt
from matchpal.models import Organization
from matchpal.pagination import COUNT_CAP
from students.models import Student

# What a history row shows of each (grants/templatetags/hours_tags.py, `history_row`).
ENTRY_FIELDS = (
    "id",
    "organization",
    "grant",
    "kind",
    "total_delta",
    "used_delta",
    "held_delta",
    "usable_delta",
    "relationship",
    "session",
    "actor",
    "reason",
    "created_at",
)


def available() -> bool:
    return prebuilt.available()


@functools.cache
def _key(model: type[Model], name: str) -> ForeignKey[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, ForeignKey)
    return field


def _related(name: str) -> type[Model]:
    """The model behind one of the entry's lazy references (the ledger never imports the apps
    of relationships and sessions)."""
    model = _key(GrantEntry, name).related_model
    assert isinstance(model, type)
    return model


@functools.cache
def _statements() -> tuple[str, str, prebuilt.Rows, str]:
    """The count's SQL, the page's SQL, the page row's readers and the first page's SQL."""
    q = prebuilt.quote
    relationship, session, actor = _related("relationship"), _related("session"), _related("actor")
    provider = _key(relationship, "provider").related_model
    assert isinstance(provider, type)
    entry = prebuilt.Part(GrantEntry, "e", ENTRY_FIELDS)
    parts = [
        entry,
        prebuilt.Part(relationship, "r", ("id", "public_id", "provider")),
        prebuilt.Part(provider, "p", ("id", "name")),
        prebuilt.Part(session, "s", ("id", "public_id", "starts_at")),
        prebuilt.Part(actor, "u", ("id", "email", "name")),
    ]
    column = {f.name: q(str(f.column)) for f in GrantEntry._meta.concrete_fields}
    student_id = q(str(Grant._meta.get_field("student").column))
    unit = q(str(Grant._meta.get_field("unit").column))
    pk = q("id")
    of_student = (
        f"FROM {prebuilt.table(GrantEntry)} e JOIN {prebuilt.table(Grant)} g"
        f" ON g.{pk} = e.{column['grant']}"
        f" WHERE e.{column['organization']} = %s AND g.{student_id} = %s"
    )
    newest_first = f"ORDER BY e.{column['created_at']} DESC, e.{pk} DESC"
    # Only the models' own table and column names are interpolated; every value is bound.
    count = f"SELECT COUNT(*) FROM (SELECT 1 {of_student} LIMIT %s) entries"  # noqa: S608
    inner = ", ".join(f"e.{q(str(f.column))}" for f in entry.fields)
    page = (
        f"SELECT {', '.join(part.columns() for part in parts)}, e.newer"  # noqa: S608
        f" FROM (SELECT {inner}, SUM(e.{column['usable_delta']}) OVER"
        f" (PARTITION BY g.{unit} {newest_first} ROWS UNBOUNDED PRECEDING)"
        f" - e.{column['usable_delta']} AS newer"
        f" {of_student} {newest_first} LIMIT %s OFFSET %s) e"
        f" LEFT JOIN {prebuilt.table(relationship)} r ON r.{pk} = e.{column['relationship']}"
        f" LEFT JOIN {prebuilt.table(provider)} p"
        f" ON p.{pk} = r.{q(str(_key(relationship, 'provider').column))}"
        f" LEFT JOIN {prebuilt.table(session)} s ON s.{pk} = e.{column['session']}"
        f" LEFT JOIN {prebuilt.table(actor)} u ON u.{pk} = e.{column['actor']}"
        f" {newest_first}"
    )
    # The first page alone (the student home's newest entries): no entry is newer than the
    # page's own rows, so the window runs over those rows only, after the cut, where the
    # page's runs over every entry of the student before it (docs/performance.md, "The student
    # home's running total from a kept sum").
    first = page.replace(
        f" FROM (SELECT {inner}, SUM(e.{column['usable_delta']}) OVER"
        f" (PARTITION BY g.{unit} {newest_first} ROWS UNBOUNDED PRECEDING)"
        f" - e.{column['usable_delta']} AS newer"
        f" {of_student} {newest_first} LIMIT %s OFFSET %s) e",
        f" FROM (SELECT e.*, SUM(e.{column['usable_delta']}) OVER"  # noqa: S608
        f" (PARTITION BY e.grant_unit {newest_first} ROWS UNBOUNDED PRECEDING)"
        f" - e.{column['usable_delta']} AS newer"
        f" FROM (SELECT {inner}, g.{unit} AS grant_unit"
        f" {of_student} {newest_first} LIMIT %s) e) e",
    )
    assert first != page
    return count, page, prebuilt.Rows(parts), first


def first_page_statement(*, organization: int, student: int, limit: int) -> tuple[str, list[Any]]:
    """`page_statement` of the first page (offset 0), the window over the page's rows only:
    the same rows."""
    _, _, _, sql = _statements()
    return sql, [organization, student, limit]


def page_statement(
    *, organization: int, student: int, offset: int, limit: int
) -> tuple[str, list[Any]]:
    """The statement of a page of the student's history (its SQL and values), for a caller
    that sends it with others (`matchpal.compiled.together`) before it has read the grants
    that a `History` needs; `History.entries` reads its rows."""
    _, sql, _, _ = _statements()
    return sql, [organization, student, limit, offset]


def count_statement(*, organization: int, student: int) -> tuple[str, list[Any]]:
    """The statement of the history's capped count (its SQL and values), for a caller that
    sends it with others (`matchpal.compiled.together`); `History.prime` takes its answer."""
    sql, _, _, _ = _statements()
    return sql, [organization, student, COUNT_CAP + 1]


class History(Sequence[GrantEntry]):
    """The student's ledger, newest first, as `CappedPaginator` pages it: its length is the
    capped count (`COUNT_CAP` and one more at most), a slice is a page of entries with their
    `running` column ("free to book after") set, each a `GrantEntry` whose grant is one of
    `grants` (every grant of the student, `selectors.grants_of_student`) and whose
    relationship, provider, session and actor hold what the row shows (their other fields are
    deferred)."""

    def __init__(self, *, organization: Organization, student: Student, grants: Sequence[Grant]):
        self.keys = (organization.pk, student.pk)
        self.grants = {grant.pk: grant for grant in grants}
        self.usable: dict[str, int] = {}
        for grant in grants:
            self.usable[grant.unit] = self.usable.get(grant.unit, 0) + grant.usable_now
        self._primed: tuple[int, Sequence[Sequence[Any]]] | None = None

    def prime(self, *, count: int, offset: int, rows: Sequence[Sequence[Any]]) -> None:
        """Take the capped count and one page's rows already read (`count_statement` and
        `page_statement` of `offset`, sent with the page's other statements): the paginator's
        count and that page, when it asks for it, then cost no round trip of their own. A
        page at another offset (a number past the last page) is read as before."""
        self.__dict__["_count"] = count
        self._primed = (offset, rows)

    @functools.cached_property
    def _count(self) -> int:
        sql, _, _, _ = _statements()
        ((count,),) = prebuilt.fetch(sql, [*self.keys, COUNT_CAP + 1])
        return int(count)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> GrantEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[GrantEntry]: ...
    def __getitem__(self, index: int | slice) -> GrantEntry | list[GrantEntry]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start, stop, step = index.indices(10**12)
        assert step == 1, "a page is a contiguous slice"
        if stop <= start:
            return []
        return self._page(offset=start, limit=stop - start)

    def _page(self, *, offset: int, limit: int) -> list[GrantEntry]:
        if self._primed is not None:
            at, rows = self._primed
            # The rows read from `at`, as many as a page holds: those of any shorter slice
            # from there too (a last page asks for what the count leaves).
            if at == offset and limit <= len(rows):
                return self.entries(rows[:limit])
        return self.entries(prebuilt.fetch(*self.page_statement(offset=offset, limit=limit)))

    def page_statement(self, *, offset: int, limit: int) -> tuple[str, list[Any]]:
        return page_statement(
            organization=self.keys[0], student=self.keys[1], offset=offset, limit=limit
        )

    def entries(self, found: Sequence[Sequence[Any]]) -> list[GrantEntry]:
        """The entries of a page's rows, as a slice returns them."""
        _, _, rows, _ = _statements()
        return [self._entry(row, rows) for row in found]

    def _entry(self, row: Sequence[Any], rows: prebuilt.Rows) -> GrantEntry:
        entry = rows.instance(row, 0)
        assert isinstance(entry, GrantEntry)
        grant = self.grants.get(entry.grant_id)
        if grant is None:  # a grant made since the page's grants were read
            grant = Grant.objects.get(pk=entry.grant_id)
        _key(GrantEntry, "grant").set_cached_value(entry, grant)
        # Only the related rows the entry has are made (most entries name no session or no
        # relationship): the others are None, as the left joins found nothing.
        relationship = None
        if entry.relationship_id is not None:
            relationship = rows.instance(row, 1)
            provider = rows.instance(row, 2)
            _key(type(relationship), "provider").set_cached_value(relationship, provider)
        session = rows.instance(row, 3) if entry.session_id is not None else None
        actor = rows.instance(row, 4) if entry.actor_id is not None else None
        for name, instance in (
            ("relationship", relationship),
            ("session", session),
            ("actor", actor),
        ):
            _key(GrantEntry, name).set_cached_value(entry, instance)
        newer = row[-1]
        entry.running = self.usable.get(grant.unit, 0) - int(newer)
        return entry
