"""Writing an export's rows to a file, in constant memory: CSV row by row, Excel through
openpyxl's write-only workbook (rows go to a temporary file as they come, the workbook is
assembled at the end)."""

import csv
import io
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import IO, Any

from django.utils import timezone

from reports.export_jobs.registry import Cell, Row

Progress = Callable[[int], None]
# Progress is reported every this many rows.
PROGRESS_EVERY = 5000
# An Excel sheet holds 1,048,576 rows; a longer export goes on to another sheet.
EXCEL_MAX_ROWS = 1_048_576
# A spreadsheet reads a text cell starting with one of these as a formula: such text is kept as
# text (CSV: a leading apostrophe, as OWASP advises; Excel: a string cell).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_CHARS = frozenset("".join(FORMULA_START))
# Control characters an Excel file cannot hold (openpyxl refuses them).
ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
SHEET_TITLE_ILLEGAL = re.compile(r"[\[\]:*?/\\]")


def local_naive(value: datetime) -> datetime:
    """An aware time as the center's wall clock (the active time zone), without its zone: Excel
    has no time zones."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(tzinfo=None)


def csv_cell(value: Cell) -> object:
    """A cell as the CSV holds it: the center's wall-clock time to the minute, a text that a
    spreadsheet would take for a formula behind an apostrophe; None, numbers and other text as
    the csv module writes them ("", str())."""
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        return "'" + text if text and text[0] in FORMULA_CHARS else text
    if kind is datetime:
        return local_naive(value).isoformat(" ", "minutes")  # type: ignore[arg-type]
    if kind is date:
        return value.isoformat()  # type: ignore[union-attr]
    return value


def write_csv(
    out: IO[bytes], header: list[str], rows: Iterable[Row], progress: Progress | None = None
) -> int:
    """Write UTF-8 CSV to the binary file `out`; return the number of rows written.

    The loop is `csv_cell` written out inline, without a call per cell: the export's Python
    time is a million rows of fourteen cells (docs/exports.md, "Benchmark")."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text)
    if header:
        writer.writerow(header)
    writerow = writer.writerow
    tz = timezone.get_current_timezone()
    every = PROGRESS_EVERY
    count = 0
    for row in rows:
        cells: list[object] = []
        append = cells.append
        for value in row:
            kind = type(value)
            if kind is str:
                if value and value[0] in FORMULA_CHARS:  # type: ignore[index]
                    value = "'" + value  # type: ignore[operator]
            elif kind is datetime:
                # "2025-06-09 09:00-04:00" without its offset: cheaper than replace(tzinfo=None).
                value = value.astimezone(tz).isoformat(" ", "minutes")[:16]  # type: ignore[union-attr]
            elif kind is date:
                value = value.isoformat()  # type: ignore[union-attr]
            append(value)
        writerow(cells)
        count += 1
        if progress and count % every == 0:
            progress(count)
    text.flush()
    text.detach()  # leave `out` open for the caller
    return count


def sheet_title(title: str, number: int) -> str:
    clean = SHEET_TITLE_ILLEGAL.sub(" ", title).strip() or "Export"
    suffix = f" ({number})" if number > 1 else ""
    return clean[: 31 - len(suffix)] + suffix


def write_xlsx(
    out: IO[bytes],
    title: str,
    header: list[str],
    rows: Iterable[Row],
    progress: Progress | None = None,
) -> int:
    """Write an Excel workbook to `out` with openpyxl in write-only mode; return the rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheets = 0

    def new_sheet() -> Any:
        nonlocal sheets
        sheets += 1
        sheet = workbook.create_sheet(sheet_title(title, sheets))
        if header:
            sheet.append(header)
        return sheet

    def xlsx_cell(value: Cell) -> Any:
        if isinstance(value, datetime):
            return local_naive(value)
        if isinstance(value, str):
            value = ILLEGAL.sub("", value)
            if value.startswith("="):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # never a formula
                return cell
        return value

    sheet = new_sheet()
    in_sheet = 1
    count = 0
    for row in rows:
        if in_sheet == EXCEL_MAX_ROWS:
            sheet, in_sheet = new_sheet(), 1
        sheet.append([xlsx_cell(value) for value in row])
        in_sheet += 1
        count += 1
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
    workbook.save(out)
    return count
