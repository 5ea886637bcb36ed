"""Encoders for request exports (CSV and JSON Lines) and the file they are spooled to."""
from __future__ import annotations

import csv
import io
from typing import Iterable, Iterator

import orjson


def csv_lines(rows: Iterable[dict], columns: tuple[str, ...]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
        # Flush every row so memory stays flat however long the export is.
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


# A spreadsheet runs a cell that starts with one of these as a formula
# (=HYPERLINK(...) from a caller-chosen user id); a leading apostrophe makes it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if isinstance(value, (int, float)):
        return str(value)  # numbers, negative ones too, stay numbers
    text = orjson.dumps(value).decode() if isinstance(value, (list, dict)) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def jsonl_lines(rows: Iterable[dict]) -> Iterator[bytes]:
    for row in rows:
        yield orjson.dumps(row) + b"\n"


def spool(lines: Iterable, memory_limit: int = 8 * 1024 * 1024):
    """Every line into a temporary file (in memory up to memory_limit), rewound."""
    import tempfile

    out = tempfile.SpooledTemporaryFile(max_size=memory_limit)
    for line in lines:
        out.write(line.encode() if isinstance(line, str) else line)
    out.seek(0)
    return out

