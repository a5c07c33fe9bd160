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

from reports.exports.registry import Cell, Row

Progress = Callable[[int], None]
# Progress is reported every this many rows.
PROGRESS_EVERY = 5000
# An Excel sheet holds 1,048,576 rows; a longer export goes on to another sheet.
EXCEL_MAX_ROWS = 1_048_576
# A spreadsheet reads a text cell starting with one of these as a formula: such text is kept as
# text (CSV: a leading apostrophe, as OWASP advises; Excel: a string cell).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Control characters an Excel file cannot hold (openpyxl refuses them).
ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
SHEET_TITLE_ILLEGAL = re.compile(r"[\[\]:*?/\\]")


def local_naive(value: datetime) -> datetime:
    """An aware time as the center's wall clock (the active time zone), without its zone: Excel
    has no time zones."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(tzinfo=None)


def csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_naive(value).isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return str(value)


def write_csv(
    out: IO[bytes], header: list[str], rows: Iterable[Row], progress: Progress | None = None
) -> int:
    """Write UTF-8 CSV to the binary file `out`; return the number of rows written."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        count += 1
        if progress and count % PROGRESS_EVERY == 0:
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
