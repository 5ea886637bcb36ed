"""Newest-first lists look at the last day first and widen: the pages must be exactly the
pages of the whole list, however the rows are spread over time."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from spanlens.requestlog import queries
from spanlens.requestlog.engine import get_engine
from tests.test_requestlog_insert import _full_row


def _reference(org: str, offset: int, limit: int, **filters) -> list[str]:
    where, params = queries._request_filters(org, 365, **filters)
    rows = get_engine().select(
        f"SELECT toString(id) AS id FROM requests WHERE {where} ORDER BY created_at DESC, id DESC "
        "LIMIT {limit:UInt32} OFFSET {offset:UInt64}", {**params, "limit": limit, "offset": offset})
    return [r["id"] for r in rows]


@pytest.mark.parametrize("recent,week,old", [(0, 0, 30), (5, 0, 30), (12, 9, 30), (40, 0, 0), (3, 25, 0)])
def test_every_page_newest_first_is_the_page_of_the_whole_list(recent, week, old):
    org = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    ages = ([timedelta(minutes=5 * i) for i in range(recent)]
            + [timedelta(days=2, minutes=7 * i) for i in range(week)]
            + [timedelta(days=20, minutes=11 * i) for i in range(old)])
    rows = [_full_row(org, created_at=queries.format_ts(now - age), user_id="u-even" if i % 2 else "u-odd")
            for i, age in enumerate(ages)]
    queries.insert_requests(rows)
    total = len(rows)
    for limit in (1, 7, 10):
        for offset in range(0, total + limit, limit):
            got = [r["id"] for r in queries.list_request_window(organization_id=org, offset=offset, limit=limit)]
            assert got == _reference(org, offset, limit), (limit, offset)
    page = queries.list_requests(organization_id=org, page=2, limit=10, user_id="u-even")
    assert [r["id"] for r in page["rows"]] == _reference(org, 10, 10, user_id="u-even")
    assert page["total"] == total // 2
    recent_rows = queries.list_recent_requests(organization_id=org, limit=20)
    assert [r["id"] for r in recent_rows] == _reference(org, 0, 20)
    # Oldest first is not windowed, and still right.
    asc = queries.list_request_window(organization_id=org, sort_dir="asc", offset=0, limit=5)
    assert [r["id"] for r in asc] == list(reversed(_reference(org, 0, total)))[:5]


@pytest.mark.parametrize("sort_by", ["latency_ms", "cost_usd", "total_tokens"])
@pytest.mark.parametrize("sort_dir", ["desc", "asc"])
def test_every_page_sorted_by_a_value_is_the_page_of_the_whole_list(sort_by, sort_dir):
    """Sorted by latency, cost or tokens, with many ties (and calls without a cost), every page
    is the page of the whole list, ties broken newest first."""
    import random

    rng, org, now = random.Random(5), str(uuid.uuid4()), datetime.now(timezone.utc)
    rows = []
    for i in range(57):
        row = _full_row(org, created_at=queries.format_ts(now - timedelta(minutes=rng.randint(0, 40 * 24 * 60))),
                        latency_ms=rng.choice([5, 80, 80, 80, 300]), total_tokens=rng.choice([0, 10, 10, 99]),
                        cost_usd=rng.choice([None, "0.00000000", "0.00012345", "0.00012345", "1.5"]))
        rows.append(row)
    queries.insert_requests(rows)
    column = queries.SORT_COLUMNS[sort_by]
    where, params = queries._request_filters(org, 365)
    direction = "ASC" if sort_dir == "asc" else "DESC"
    whole = [r["id"] for r in get_engine().select(
        f"SELECT toString(id) AS id FROM requests WHERE {where} ORDER BY {column} {direction}, created_at DESC, id DESC",
        params)]
    for limit in (1, 8, 50):
        for offset in range(0, len(rows) + limit, limit):
            got = [r["id"] for r in queries.list_request_window(organization_id=org, sort_by=sort_by,
                                                                  sort_dir=sort_dir, offset=offset, limit=limit)]
            assert got == whole[offset:offset + limit], (limit, offset)


def test_list_pages_counted_first_are_the_pages_of_the_whole_list():
    """list_requests counts first, then reads a page past the end as nothing and a short list
    whole: with a body search too, every page is the list's."""
    org, now = str(uuid.uuid4()), datetime.now(timezone.utc)
    rows = [_full_row(org, created_at=queries.format_ts(now - timedelta(days=i % 30, minutes=i)),
                      request_body=f'{{"messages": ["needle {i % 3}"]}}') for i in range(40)]
    queries.insert_requests(rows)
    for filters in ({}, {"search": "NEEDLE 1"}, {"search": "no such text"}):
        total = len(_reference(org, 0, 100, **filters))
        for limit in (1, 8):  # the first pages of one a page are read in windows, later ones whole
            for page in range(1, 48 // limit):
                got = queries.list_requests(organization_id=org, page=page, limit=limit, **filters)
                assert got["total"] == total, filters
                assert [r["id"] for r in got["rows"]] == _reference(org, (page - 1) * limit, limit, **filters), \
                    (filters, limit, page)
