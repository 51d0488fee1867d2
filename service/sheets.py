"""Spreadsheets the service hands out (CSV and XLSX), safe to open: no cell a spreadsheet program would run as a
formula (OWASP's CSV-injection advice). Ids, names and skills come from people's records and may be anything."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """A text cell a spreadsheet will not run: one starting like a formula (``=``, ``+``, ``-``, ``@``, tab, CR) gets
    a leading ``'`` (OWASP's CSV-injection advice). Ids come from the caller's files and may be anything."""
    return "'" + value if value.startswith(FORMULA_START) else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV with a byte-order mark (so spreadsheet programs read Chinese right), every text cell through
    ``csv_cell``; ``None`` is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else csv_cell(v) if isinstance(v, str) else v for v in row])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[object]], *, title: str) -> bytes:
    """One worksheet ``title`` with a bold header row. Text cells are stored as text, never as formulas (openpyxl
    would store ``=…`` as one), without the control characters XLSX cannot hold."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            if isinstance(value, str):
                cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
                cell.data_type = "s"  # text, even when it starts with "="
            else:
                cell.value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
