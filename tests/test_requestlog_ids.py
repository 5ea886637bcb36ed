"""Row ids carry their call's start (UUIDv7), and get_request finds every row by id:
new v7 ids through the sort key, older random ids and ids whose time is not the row's as before."""
import time
import uuid
from datetime import datetime, timedelta, timezone

from proxy.auth import Tenant
from proxy.logentry import PendingLog
from spanlens.requestlog import ids, queries
from tests.test_requestlog_insert import _full_row


def test_an_id_is_a_version_7_uuid_holding_the_start_millisecond():
    started = 1_764_590_400.1234
    value = ids.new_request_id(started)
    parsed = uuid.UUID(value)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
    assert ids.time_of(value) == datetime.fromtimestamp(1_764_590_400.123, timezone.utc)
    assert ids.new_request_id(started) != value  # 74 random bits
    assert ids.time_of(str(uuid.uuid4())) is None and ids.time_of("not an id") is None
    # A v7 id whose 48 bits are no time a row can have (found by the API fuzz test: a 500).
    assert ids.time_of("fc969a33-7379-7831-b5a6-17ffce26c5be") is None
    assert ids.time_of("00000000-0000-7000-8000-000000000000") is None
    # Ids of later calls sort later (the millisecond leads).
    assert ids.new_request_id(started) < ids.new_request_id(started + 0.002)


def test_a_logged_call_gets_an_id_made_of_its_start_time():
    tenant = Tenant(str(uuid.uuid4()), str(uuid.uuid4()), None, {})
    entry = PendingLog(created_at=time.time(), tenant=tenant, provider="openai", endpoint="v1/chat/completions",
                       method="POST", meta={})
    entry.request_body, entry.status_code = b"{}", 200
    row = entry.to_row()
    stored_at = datetime.strptime(row["created_at"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    assert abs(ids.time_of(row["id"]) - stored_at) <= timedelta(milliseconds=1)


def test_get_request_finds_new_ids_old_random_ids_and_ids_whose_time_is_not_the_rows():
    org = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    v7 = _full_row(org, id=ids.new_request_id(now.timestamp()), created_at=queries.format_ts(now))
    v4 = _full_row(org, created_at=queries.format_ts(now - timedelta(days=3)))
    # A client's own v7 id, from a time an hour away from the row's.
    foreign = _full_row(org, id=ids.new_request_id((now - timedelta(hours=1)).timestamp()),
                        created_at=queries.format_ts(now))
    queries.insert_requests([v7, v4, foreign])
    for row in (v7, v4, foreign):
        found = queries.get_request(organization_id=org, request_id=row["id"])
        assert found is not None and found["id"] == row["id"]
    assert queries.get_request(organization_id=org, request_id=ids.new_request_id(now.timestamp())) is None
    assert queries.get_request(organization_id=org, request_id="fc969a33-7379-7831-b5a6-17ffce26c5be") is None
    # Still tenant-scoped.
    assert queries.get_request(organization_id=str(uuid.uuid4()), request_id=v7["id"]) is None


def test_generated_benchmark_rows_carry_v7_ids_of_their_own_time():
    org, project = str(uuid.uuid4()), str(uuid.uuid4())
    queries.generate_bench_rows(organization_id=org, project_id=project, count=50, days=1)
    rows = queries.list_recent_requests(organization_id=org, limit=50)
    assert len(rows) == 50
    for row in rows:
        stored_at = datetime.strptime(row["created_at"][:23], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
        assert ids.time_of(row["id"]) == stored_at
    assert queries.get_request(organization_id=org, request_id=rows[25]["id"])["id"] == rows[25]["id"]
