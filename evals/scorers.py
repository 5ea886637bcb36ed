"""Deterministic evaluators: no model, no key, no cost. Each returns a score in 0..1.

Config per type (Evaluator.config):
  exact_match  {"case_sensitive": false, "strip": true}
  contains     {"value": "...", "case_sensitive": false}  (empty value: the expected output)
  regex        {"pattern": "...", "flags": "i"}
  json_schema  {"schema": {...}}                           (1 when the output is JSON valid against it)
  similarity   {"case_sensitive": false}                   (1 - normalised edit distance to expected)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

TYPES = ("exact_match", "contains", "regex", "json_schema", "similarity")
NEEDS_EXPECTED = ("exact_match", "similarity")


class ConfigError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class Score:
    score: float | None
    reasoning: str
    error: str = ""


def validate_config(kind: str, config: dict) -> dict:
    """The config as stored; raises ConfigError naming the field."""
    if kind not in TYPES:
        raise ConfigError("type", f"must be one of {', '.join(TYPES)} or llm_judge")
    clean: dict = {}
    if kind in ("exact_match", "contains", "similarity"):
        clean["case_sensitive"] = bool(config.get("case_sensitive", False))
    if kind == "exact_match":
        clean["strip"] = bool(config.get("strip", True))
    if kind == "contains":
        value = config.get("value", "")
        if not isinstance(value, str):
            raise ConfigError("config.value", "must be text")
        clean["value"] = value
    if kind == "regex":
        pattern = config.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError("config.pattern", "is required")
        flags = str(config.get("flags", ""))
        if set(flags) - set("ims"):
            raise ConfigError("config.flags", "may contain only i, m and s")
        try:
            re.compile(pattern, _flags(flags))
        except re.error as exc:
            raise ConfigError("config.pattern", f"is not a valid regular expression: {exc}") from None
        clean.update(pattern=pattern, flags=flags)
    if kind == "json_schema":
        schema = config.get("schema")
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError:
                raise ConfigError("config.schema", "is not valid JSON") from None
        if not isinstance(schema, dict):
            raise ConfigError("config.schema", "must be a JSON Schema object")
        import jsonschema  # here, not at the top: the pages importing this module need not hold it

        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ConfigError("config.schema", f"is not a valid JSON Schema: {exc.message}") from None
        clean["schema"] = schema
    return clean


def _flags(text: str) -> int:
    return (re.I if "i" in text else 0) | (re.M if "m" in text else 0) | (re.S if "s" in text else 0)


def score(kind: str, config: dict, output: str, expected: str | None) -> Score:
    output = output or ""
    if kind in NEEDS_EXPECTED and expected is None:
        return Score(None, "", error="this sample has no expected output to compare with")
    if kind == "exact_match":
        a, b = output, expected or ""
        if config.get("strip", True):
            a, b = a.strip(), b.strip()
        if not config.get("case_sensitive"):
            a, b = a.casefold(), b.casefold()
        return Score(1.0 if a == b else 0.0, "matches the expected output" if a == b else "differs from the expected output")
    if kind == "contains":
        needle = config.get("value") or expected or ""
        if not needle:
            return Score(None, "", error="nothing to look for: set a value or give the sample an expected output")
        hay = output if config.get("case_sensitive") else output.casefold()
        found = (needle if config.get("case_sensitive") else needle.casefold()) in hay
        return Score(1.0 if found else 0.0, f"{'contains' if found else 'does not contain'} {needle!r}")
    if kind == "regex":
        found = re.search(config["pattern"], output, _flags(config.get("flags", "")))
        return Score(1.0 if found else 0.0, f"matched {found.group(0)!r}" if found else "no match")
    if kind == "json_schema":
        try:
            data = json.loads(output)
        except ValueError as exc:
            return Score(0.0, f"not JSON: {exc}")
        import jsonschema

        errors = sorted(jsonschema.validators.validator_for(config["schema"])(config["schema"]).iter_errors(data),
                        key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            return Score(0.0, f"{len(errors)} schema error(s); first at {where}: {errors[0].message}")
        return Score(1.0, "valid against the schema")
    if kind == "similarity":
        a, b = output, expected or ""
        if not config.get("case_sensitive"):
            a, b = a.casefold(), b.casefold()
        value = Levenshtein.normalized_similarity(a, b)
        return Score(round(value, 6), f"edit-distance similarity {value:.3f}")
    raise ValueError(f"unknown deterministic evaluator {kind}")
