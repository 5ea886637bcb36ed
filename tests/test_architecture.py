"""Guards for the boundaries: only spanlens/requestlog talks to ClickHouse."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["spanlens", "proxy", "dashboard", "evals"]
CLICKHOUSE_CLIENTS = re.compile(r"^\s*(import|from)\s+(chdb|clickhouse_connect)\b", re.M)
REQUESTS_SQL = re.compile(r"\b(FROM|INTO|TABLE)\s+`?requests\b", re.I)


def _sources():
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "requestlog" in path.parts or "migrations" in path.parts:
                continue
            yield path


def test_no_module_outside_requestlog_imports_a_clickhouse_client():
    offenders = [str(p.relative_to(ROOT)) for p in _sources() if CLICKHOUSE_CLIENTS.search(p.read_text())]
    assert offenders == []


def test_no_module_outside_requestlog_writes_sql_for_the_request_log():
    offenders = [str(p.relative_to(ROOT)) for p in _sources() if REQUESTS_SQL.search(p.read_text())]
    assert offenders == []


READ_MODULES = ("queries.py", "overview.py", "sessions.py", "insights.py", "alert_queries.py")


@pytest.mark.parametrize("module", READ_MODULES)
def test_every_request_log_read_is_scoped_by_organization(module):
    source = (ROOT / "spanlens" / "requestlog" / module).read_text()
    for match in re.finditer(r"^def ((list|get|count)_\w+)\((.*?)\)", source, re.M | re.S):
        name, _, params = match.groups()
        if name == "count_rows_since":  # health check across tenants, returns a number only
            continue
        assert "*" in params and "organization_id" in params, f"{name} must take organization_id keyword-only"
