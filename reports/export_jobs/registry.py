"""What can be exported: a registry of sources, filled by the report modules.

A source is a name and a function `(organization, membership, params) -> ExportData`:

- `params` are the report's filters as the page's query string gave them (`dict[str, str]`);
  the function validates them and raises `ExportParamsError` (a DomainError, shown to the
  person) for a bad one;
- it scopes what it reads to what the membership may see (an admin the whole center, a
  provider their own, a student their own);
- `ExportData.rows` is a lazy iterator of rows (lists of cells: str, int, float, Decimal, date,
  datetime or None) read through a server-side cursor (`QuerySet.iterator(chunk_size=…)`,
  `values_list`), so that memory stays flat whatever the row count; nothing is read before the
  worker iterates it. `ExportData.count` gives the number of rows (or an estimate) for the
  progress bar; it is called once, by the worker.

Register with the decorator:

    @export_source("sessions", label="Sessions", roles=ALL_ROLES)
    def sessions(organization, membership, params):
        ...
        return ExportData(title=..., header=[...], rows=qs.values_list(...).iterator(2000),
                          count=qs.count)

Calling the function must cost no query beyond validating its params: the view calls it when
a job is started, to refuse bad filters at once.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from matchpal.errors import DomainError
from matchpal.models import Membership, Organization, Role

Cell = str | int | float | Decimal | date | datetime | None
Row = Sequence[Cell]
ALL_ROLES = frozenset(Role.values)


class ExportParamsError(DomainError):
    """A filter of the export is not valid."""


class UnknownSourceError(DomainError):
    pass


@dataclass
class ExportData:
    title: str
    header: list[str]
    rows: Iterable[Row]
    count: Callable[[], int | None] = field(default=lambda: None)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


SourceFunction = Callable[[Organization, Membership, dict[str, str]], ExportData]


@dataclass(frozen=True)
class ExportSource:
    name: str
    label: str
    roles: frozenset[str]
    build: SourceFunction

    def allows(self, membership: Membership) -> bool:
        return membership.role in self.roles


SOURCES: dict[str, ExportSource] = {}


def export_source(
    name: str, *, label: str, roles: Iterable[str] = ALL_ROLES
) -> Callable[[SourceFunction], SourceFunction]:
    """Register the decorated function as the export source `name`."""

    def register(function: SourceFunction) -> SourceFunction:
        if name in SOURCES and SOURCES[name].build is not function:
            raise ValueError(f"The export source {name!r} is already registered.")
        SOURCES[name] = ExportSource(name, label, frozenset(roles), function)
        return function

    return register


def source_get(name: str) -> ExportSource:
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownSourceError("There is no such report to export.") from None
