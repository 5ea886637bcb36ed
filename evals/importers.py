"""Reading dataset files: CSV with a column mapping, JSON arrays and JSON Lines.

Parsing never writes: it returns the items it could read and every bad row with
its line number and reason, so the caller can preview, refuse the whole file, or
import the good rows when the user chose to skip the bad ones.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("csv", "json", "jsonl")
# What a CSV column can be.
ROLES = ("variable", "expected_output", "metadata", "messages", "input", "output", "ignore")
MAX_BYTES = 10 * 1024 * 1024
csv.field_size_limit(MAX_BYTES)


class ImportError_(ValueError):
    """The file as a whole cannot be read (not per-row); names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class Row:
    line: int
    input: dict
    expected_output: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class BadRow:
    line: int
    reason: str


@dataclass
class Parsed:
    format: str
    columns: list[str]
    rows: list[Row]
    errors: list[BadRow]
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.errors)


def detect_format(filename: str, text: str) -> str:
    name = filename.lower()
    for fmt in ("jsonl", "json", "csv"):
        if name.endswith("." + fmt) or (fmt == "jsonl" and name.endswith(".ndjson")):
            return fmt
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    return "csv"


def decode(data: bytes) -> str:
    """UTF-8, with or without a byte-order mark."""
    if len(data) > MAX_BYTES:
        raise ImportError_("file", f"is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportError_("file", f"is not UTF-8 text (byte {exc.start}); save it as UTF-8 and upload again") from None


def parse(text: str, fmt: str, mapping: dict[str, str] | None = None) -> Parsed:
    text = text.lstrip("\ufeff")
    if fmt == "csv":
        return parse_csv(text, mapping)
    if fmt == "json":
        return parse_json(text)
    if fmt == "jsonl":
        return parse_jsonl(text)
    raise ImportError_("format", f"must be one of {', '.join(FORMATS)}")


# --- CSV -------------------------------------------------------------------------------

def default_mapping(columns: list[str]) -> dict[str, str]:
    """A first guess the preview shows: well-known names get their role, the rest are variables."""
    guesses = {"expected_output": "expected_output", "expected": "expected_output", "answer": "expected_output",
               "messages": "messages", "input": "input", "output": "output", "metadata": "metadata"}
    return {c: guesses.get(c.strip().lower(), "variable") for c in columns}


def parse_csv(text: str, mapping: dict[str, str] | None = None) -> Parsed:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportError_("file", "is empty") from None
    except csv.Error as exc:
        raise ImportError_("file", f"line 1: {exc}") from None
    columns = [c.strip() for c in header]
    if not any(columns):
        raise ImportError_("file", "line 1 must be a header row naming the columns")
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise ImportError_("file", f"the header repeats column names: {', '.join(dupes)}")
    mapping = dict(mapping) if mapping else default_mapping(columns)
    unknown = [c for c in mapping if c not in columns]
    if unknown:
        raise ImportError_("mapping", f"names columns the file does not have: {', '.join(unknown)}")
    for column, role in mapping.items():
        if role not in ROLES:
            raise ImportError_("mapping", f"{column}: role must be one of {', '.join(ROLES)}")
    for column in columns:
        mapping.setdefault(column, "ignore")
    for single in ("expected_output", "messages", "input", "output"):
        if sum(1 for r in mapping.values() if r == single) > 1:
            raise ImportError_("mapping", f"only one column can be the {single.replace('_', ' ')}")
    if not any(r in ("variable", "messages", "input") for r in mapping.values()):
        raise ImportError_("mapping", "choose at least one input column (a variable, messages or input)")

    rows, errors = [], []
    line = reader.line_num + 1  # the physical line the next record starts on
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(BadRow(line, f"unreadable CSV: {exc}"))
            break
        start, line = line, reader.line_num + 1
        if not record or all(not cell.strip() for cell in record):
            continue  # blank lines are not rows
        if len(record) != len(columns):
            errors.append(BadRow(start, f"has {len(record)} fields, the header has {len(columns)}"))
            continue
        try:
            rows.append(_csv_row(start, dict(zip(columns, record)), mapping))
        except ValueError as exc:
            errors.append(BadRow(start, str(exc)))
    return Parsed("csv", columns, rows, errors, mapping)


def _csv_row(line: int, record: dict[str, str], mapping: dict[str, str]) -> Row:
    variables, metadata, expected, input_value, messages = {}, {}, None, None, None
    for column, value in record.items():
        role = mapping[column]
        if role == "variable":
            variables[column] = value
        elif role == "expected_output":
            expected = value if value != "" else None
        elif role == "metadata":
            metadata[column] = value
        elif role == "output":
            if value != "":
                metadata["output"] = value
        elif role == "messages":
            if value.strip():
                try:
                    messages = json.loads(value)
                except ValueError:
                    raise ValueError(f"column {column!r} is not valid JSON (expected a list of messages)") from None
        elif role == "input":
            input_value = value
    if messages is not None:
        item_input = normalise_input({"messages": messages}, f"column {_first(mapping, 'messages')!r}")
    elif input_value is not None and input_value.strip():
        item_input = {"messages": [{"role": "user", "content": input_value}]}
        if variables:
            item_input["variables"] = variables
    elif variables and any(v.strip() for v in variables.values()):
        item_input = {"variables": variables}
    else:
        raise ValueError("has no input: every input column is empty")
    return Row(line, item_input, expected, metadata)


def _first(mapping: dict[str, str], role: str) -> str:
    return next(c for c, r in mapping.items() if r == role)


# --- JSON / JSONL ----------------------------------------------------------------------

def normalise_input(value: Any, where: str = "input") -> dict:
    """{"variables": {...}} or {"messages": [...]}; a bare string is one user message and a
    bare object of names is taken as variables."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"{where} is empty")
        return {"messages": [{"role": "user", "content": value}]}
    if isinstance(value, list):
        value = {"messages": value}
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{where} must be text, {{\"variables\": {{…}}}} or {{\"messages\": […]}}")
    if "messages" in value:
        messages = value["messages"]
        if not isinstance(messages, list) or not messages:
            raise ValueError(f"{where}.messages must be a non-empty list")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str) or "content" not in message:
                raise ValueError(f"{where}.messages[{i}] must be an object with role and content")
        clean = {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
        if isinstance(value.get("variables"), dict):
            clean["variables"] = value["variables"]
        return clean
    if "variables" in value:
        if not isinstance(value["variables"], dict) or not value["variables"]:
            raise ValueError(f"{where}.variables must be a non-empty object")
        return {"variables": value["variables"]}
    return {"variables": value}


def item_from_object(obj: Any) -> tuple[dict, str | None, dict]:
    """(input, expected_output, metadata) of one JSON item, or ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("must be a JSON object")
    if "input" not in obj:
        raise ValueError("has no \"input\"")
    item_input = normalise_input(obj["input"])
    expected = obj.get("expected_output", obj.get("expected"))
    if expected is not None and not isinstance(expected, str):
        expected = json.dumps(expected, ensure_ascii=False)
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError("\"metadata\" must be an object")
    if isinstance(obj.get("output"), str):
        metadata = {**metadata, "output": obj["output"]}
    return item_input, expected, metadata


def parse_jsonl(text: str) -> Parsed:
    rows, errors = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            errors.append(BadRow(number, f"is not valid JSON: {exc.msg} (column {exc.colno})"))
            continue
        try:
            rows.append(Row(number, *item_from_object(obj)))
        except ValueError as exc:
            errors.append(BadRow(number, str(exc)))
    return Parsed("jsonl", [], rows, errors)


def parse_json(text: str) -> Parsed:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImportError_("file", f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise ImportError_("file", "must be a JSON array of items (or {\"items\": [...]})")
    # A JSON array's rows are reported by the line their object starts on.
    starts = _object_lines(text)
    rows, errors = [], []
    for index, obj in enumerate(data):
        line = starts[index] if index < len(starts) else index + 1
        try:
            rows.append(Row(line, *item_from_object(obj)))
        except ValueError as exc:
            errors.append(BadRow(line, f"item {index + 1} {exc}"))
    return Parsed("json", [], rows, errors)


def _object_lines(text: str) -> list[int]:
    """The line on which each top-level element of a JSON array starts."""
    lines, depth, line, in_string, escaped = [], 0, 1, False, False
    expecting = False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if depth == 1 and expecting and not ch.isspace() and ch not in ",]":
            lines.append(line)
            expecting = False
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth == 1:
                expecting = True
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 1:
            expecting = True
    return lines
