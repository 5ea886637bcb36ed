"""CSV / JSON / JSONL dataset imports on fixture files: BOM, quoted newlines, bad rows by line."""
from __future__ import annotations

from pathlib import Path

import pytest

from evals import dataset_services, importers

FIXTURES = Path(__file__).parent / "fixtures" / "datasets"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_csv_with_bom_crlf_and_quoted_multiline_fields():
    parsed, _ = dataset_services.parse_upload(read("bom_multiline.csv"), filename="bom_multiline.csv")
    assert parsed.columns == ["question", "tone", "expected_output", "source"]  # no BOM in the first name
    assert parsed.errors == []
    assert [r.line for r in parsed.rows] == [2, 3]
    haiku = parsed.rows[1]
    assert haiku.input == {"variables": {"question": "Write a haiku\nabout the sea", "tone": "poetic",
                                         "source": "manual"}}
    assert haiku.expected_output == 'Waves fold into foam,\nsalt wind, "quiet" gulls'


def test_csv_column_mapping_chooses_variables_expected_and_metadata():
    mapping = {"question": "variable", "tone": "ignore", "expected_output": "expected_output", "source": "metadata"}
    parsed, _ = dataset_services.parse_upload(read("bom_multiline.csv"), filename="x.csv", mapping=mapping)
    assert parsed.rows[0].input == {"variables": {"question": "What is 2+2?"}}
    assert parsed.rows[0].expected_output == "4"
    assert parsed.rows[0].metadata == {"source": "manual"}


def test_a_mapping_naming_unknown_columns_is_refused():
    with pytest.raises(dataset_services.DatasetError) as err:
        dataset_services.parse_upload(read("bom_multiline.csv"), filename="x.csv", mapping={"nope": "variable"})
    assert err.value.field == "mapping"


def test_bad_csv_rows_are_reported_by_line_and_reason():
    mapping = {"question": "variable", "expected_output": "expected_output", "source": "metadata"}
    parsed, _ = dataset_services.parse_upload(read("ten_rows_two_bad.csv"), filename="t.csv", mapping=mapping)
    assert parsed.total == 10
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (5, "has no input: every input column is empty"),
        (7, "has 4 fields, the header has 3"),
    ]


def test_a_file_with_bad_rows_imports_nothing_until_they_are_skipped_on_purpose(org):
    dataset = dataset_services.create_dataset(org, name="capitals")
    mapping = {"question": "variable", "expected_output": "expected_output", "source": "metadata"}
    with pytest.raises(dataset_services.DatasetError) as err:
        dataset_services.import_file(dataset, read("ten_rows_two_bad.csv"), filename="t.csv", mapping=mapping)
    assert "line 5" in str(err.value) and "line 7" in str(err.value)
    assert dataset.items.count() == 0
    result = dataset_services.import_file(dataset, read("ten_rows_two_bad.csv"), filename="t.csv",
                                          mapping=mapping, skip_invalid=True)
    assert result.imported == 8 and [s.line for s in result.skipped] == [5, 7]
    assert dataset.items.count() == 8
    assert dataset.items.first().input == {"variables": {"question": "Capital of France?"}}


def test_jsonl_rows_are_read_and_bad_lines_named():
    parsed, _ = dataset_services.parse_upload(read("items.jsonl"), filename="items.jsonl")
    assert [r.line for r in parsed.rows] == [1, 2, 3]
    assert parsed.rows[0].input == {"variables": {"city": "Paris"}}
    assert parsed.rows[1].metadata == {"tag": "greeting"}
    assert parsed.rows[2].input == {"messages": [{"role": "user", "content": "Plain text question"}]}
    assert parsed.rows[2].metadata == {"output": "An answer to score"}
    assert [e.line for e in parsed.errors] == [4, 5, 7]
    assert "not valid JSON" in parsed.errors[0].reason
    assert 'no "input"' in parsed.errors[1].reason
    assert "role and content" in parsed.errors[2].reason


def test_a_json_array_reports_bad_items_by_the_line_they_start_on():
    parsed, _ = dataset_services.parse_upload(read("items.json"), filename="items.json")
    assert [r.line for r in parsed.rows] == [2, 6]
    assert [(e.line, e.reason) for e in parsed.errors] == [(3, "item 2 input.messages must be a non-empty list")]


def test_not_utf8_is_a_file_error():
    with pytest.raises(dataset_services.DatasetError) as err:
        dataset_services.parse_upload("naïve,x\n".encode("latin-1"), filename="x.csv")
    assert err.value.field == "file" and "UTF-8" in err.value.message


def test_export_reads_back_through_the_jsonl_import(org):
    dataset = dataset_services.create_dataset(org, name="round trip")
    dataset_services.import_file(dataset, read("bom_multiline.csv"), filename="x.csv")
    text = "".join(dataset_services.export_jsonl(dataset))
    again = importers.parse(text, "jsonl")
    assert again.errors == []
    assert [r.input for r in again.rows] == [i.input for i in dataset.items.all()]


def test_any_text_survives_a_csv_round_trip():
    """Whatever the cells hold (quotes, commas, newlines, unicode), a file written by a CSV
    writer reads back cell for cell."""
    import csv
    import io

    from hypothesis import given, settings
    from hypothesis import strategies as st

    cell = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), min_size=1,
                   max_size=40).filter(lambda s: s.strip())

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(cell, cell), min_size=1, max_size=8), st.booleans())
    def check(rows, bom):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["question", "expected_output"])
        writer.writerows(rows)
        data = (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()
        parsed, _ = dataset_services.parse_upload(data, filename="x.csv")
        assert parsed.errors == []
        assert [(r.input["variables"]["question"], r.expected_output) for r in parsed.rows] == rows

    check()
