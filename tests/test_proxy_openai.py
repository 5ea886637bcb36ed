"""OpenAI through the proxy with the official SDK: what the user gets back, what
reaches OpenAI, and the request-log row it leaves behind."""
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openai

from spanlens.core import services
from tests import mock_upstream as mock
from tests.costs import cost_of, usd

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]




def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def created_at(row) -> datetime:
    return datetime.strptime(row["created_at"], "%Y-%m-%d %H:%M:%S.%f")


def test_chat_completion_is_logged_with_dated_model_tokens_and_cost(
    live_db, upstream, provider_keys, openai_client, api_key, org, project, read_rows
):
    before = utcnow() - timedelta(seconds=1)
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_headers={"x-spanlens-user": "user-42", "x-spanlens-session": "checkout-7"},
    )
    after = utcnow() + timedelta(seconds=1)

    assert completion.choices[0].message.content == mock.REPLY
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.usage.prompt_tokens == mock.PROMPT_TOKENS

    sent = upstream.last()
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {mock.OPENAI_KEY}"
    assert sent.json["messages"] == MESSAGES

    [row] = read_rows(org.id, expect=1)
    assert row["organization_id"] == str(org.id)
    assert row["project_id"] == str(project.id)
    assert row["api_key_id"] == str(api_key[0].id)
    assert row["provider_key_id"] == str(provider_keys["openai"].id)
    assert row["provider"] == "openai"
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert row["endpoint"].endswith("chat/completions")
    assert row["method"] == "POST"
    assert row["stream"] is False
    assert row["status_code"] == 200
    assert row["prompt_tokens"] == 1200
    assert row["completion_tokens"] == 300
    assert row["total_tokens"] == 1500
    assert row["cache_read_tokens"] == 0
    assert row["cache_write_tokens"] == 0
    # gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens.
    assert cost_of(row) == usd((1200, "0.15"), (300, "0.6")) == Decimal("0.00036")
    assert 0 <= row["proxy_overhead_ms"] <= row["latency_ms"]
    assert row["user_id"] == "user-42"
    assert row["session_id"] == "checkout-7"
    assert row["log_body"] == "full"
    assert row["truncated"] is False
    assert row["error_message"] == ""
    assert row["trace_id"] is None and row["span_id"] is None and row["prompt_version_id"] is None
    assert before <= created_at(row) <= after
    assert json.loads(row["request_body"])["messages"] == MESSAGES
    stored = json.loads(row["response_body"])
    assert stored["object"] == "chat.completion"
    assert stored["choices"][0]["message"]["content"] == mock.REPLY
    assert stored["usage"]["prompt_tokens"] == 1200


def test_cached_prompt_tokens_are_billed_at_the_cache_read_rate(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    completion = openai_client.chat.completions.create(model="gpt-4o-mini+cached", messages=MESSAGES)
    assert completion.usage.prompt_tokens_details.cached_tokens == mock.OPENAI_CACHED_TOKENS

    [row] = read_rows(org.id, expect=1)
    assert row["prompt_tokens"] == 1200  # gross: the cached part is included
    assert row["cache_read_tokens"] == 1024
    assert row["cache_write_tokens"] == 0
    assert row["total_tokens"] == 1500
    # 176 uncached at $0.15, 1024 cached at $0.075, 300 out at $0.60.
    assert cost_of(row) == usd((176, "0.15"), (1024, "0.075"), (300, "0.6")) == Decimal("0.0002832")


def test_streaming_call_is_logged_with_usage_it_did_not_ask_for(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    chunks = list(openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    # The client sees exactly what it asked for: no usage-only chunk at the end.
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == mock.REPLY

    [row] = read_rows(org.id, expect=1)
    assert row["stream"] is True
    assert row["status_code"] == 200
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert cost_of(row) == Decimal("0.00036")
    assert row["truncated"] is False
    request = json.loads(row["request_body"])
    assert request["messages"] == MESSAGES and request["stream"] is True
    # Reassembled into the shape a non-streaming call returns.
    stored = json.loads(row["response_body"])
    assert stored["object"] == "chat.completion"
    assert stored["model"] == "gpt-4o-mini-2024-07-18"
    assert stored["choices"][0]["message"] == {"role": "assistant", "content": mock.REPLY}
    assert stored["choices"][0]["finish_reason"] == "stop"


def test_streaming_call_that_asks_for_usage_gets_the_usage_chunk(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    chunks = list(
        openai_client.chat.completions.create(
            model="gpt-4o-mini+cached",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == 1200
    assert last.usage.completion_tokens == 300
    assert last.usage.prompt_tokens_details.cached_tokens == 1024
    assert upstream.last().json["stream_options"] == {"include_usage": True}

    [row] = read_rows(org.id, expect=1)
    assert (row["prompt_tokens"], row["completion_tokens"], row["cache_read_tokens"]) == (1200, 300, 1024)
    assert cost_of(row) == Decimal("0.0002832")
    assert json.loads(row["response_body"])["choices"][0]["message"]["content"] == mock.REPLY


def test_responses_api_call_is_logged_with_input_and_output_tokens(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    response = openai_client.responses.create(model="gpt-4o-mini+cached", input="Why is the sky blue?")
    assert response.output_text == mock.REPLY
    assert upstream.last().path == "/v1/responses"

    [row] = read_rows(org.id, expect=1)
    assert row["provider"] == "openai"
    assert row["endpoint"].endswith("responses")
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert row["stream"] is False
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert row["cache_read_tokens"] == 1024
    assert cost_of(row) == Decimal("0.0002832")
    assert json.loads(row["request_body"])["input"] == "Why is the sky blue?"
    assert json.loads(row["response_body"])["output"][0]["content"][0]["text"] == mock.REPLY


def test_streamed_responses_api_call_is_logged_as_the_completed_response(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    events = list(openai_client.responses.create(model="gpt-4o-mini", input="Why is the sky blue?", stream=True))
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == mock.REPLY

    [row] = read_rows(org.id, expect=1)
    assert row["stream"] is True
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert cost_of(row) == Decimal("0.00036")
    stored = json.loads(row["response_body"])
    assert stored["object"] == "response"
    assert stored["status"] == "completed"
    assert stored["output"][0]["content"][0]["text"] == mock.REPLY


def test_embeddings_call_is_logged_with_prompt_tokens_only(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    result = openai_client.embeddings.create(model="text-embedding-3-small", input="hello world")
    assert len(result.data[0].embedding) == mock.EMBEDDING_DIMENSIONS
    assert result.data[0].embedding[0] == 0.125

    [row] = read_rows(org.id, expect=1)
    assert row["endpoint"].endswith("embeddings")
    assert row["model"] == "text-embedding-3-small"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1000, 0, 1000)
    # text-embedding-3-small: $0.02 per 1M input tokens.
    assert cost_of(row) == usd((1000, "0.02")) == Decimal("0.00002")


def test_model_list_passes_through(live_db, upstream, provider_keys, openai_client):
    ids = [m.id for m in openai_client.models.list()]

    assert "gpt-4o-mini" in ids
    sent = upstream.last()
    assert (sent.method, sent.path) == ("GET", "/v1/models")
    assert sent.headers["authorization"] == f"Bearer {mock.OPENAI_KEY}"


def test_trace_span_and_prompt_version_are_recorded_but_not_sent_to_openai(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    trace_id, span_id, prompt_version = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_headers={
            "x-spanlens-trace-id": trace_id,
            "x-spanlens-span-id": span_id,
            "x-spanlens-prompt-version": prompt_version,
        },
    )

    assert not [name for name in upstream.last().headers if name.startswith("x-spanlens")]
    [row] = read_rows(org.id, expect=1)
    assert row["trace_id"] == trace_id
    assert row["span_id"] == span_id
    assert row["prompt_version_id"] == prompt_version


def test_project_header_logs_the_call_to_that_project_with_its_provider_key(
    live_db, upstream, provider_keys, openai_client, org, project, read_rows
):
    from spanlens.core.models import Project

    staging = Project.objects.create(organization=org, name="Staging")
    staging_key = services.add_provider_key(staging, "openai", "sk-proj-stagingupstreamkey000000", "OpenAI staging")
    upstream.keys["openai"].add("sk-proj-stagingupstreamkey000000")
    try:
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-spanlens-project": str(staging.id)}
        )
    finally:
        upstream.keys["openai"].discard("sk-proj-stagingupstreamkey000000")

    assert upstream.last().headers["authorization"] == "Bearer sk-proj-stagingupstreamkey000000"
    [row] = read_rows(org.id, expect=1)
    assert row["project_id"] == str(staging.id)
    assert row["provider_key_id"] == str(staging_key.id)


def test_latency_runs_to_the_last_byte_of_a_stream(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    started = time.monotonic()
    chunks = list(openai_client.chat.completions.create(model="gpt-4o-mini+slow-stream", messages=MESSAGES, stream=True))
    elapsed_ms = (time.monotonic() - started) * 1000
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == mock.reply_text({"slow-stream"})

    [row] = read_rows(org.id, expect=1)
    stream_ms = (mock.SLOW_CHUNKS - 1) * mock.SLOW_CHUNK_DELAY_S * 1000
    assert stream_ms <= row["latency_ms"] <= elapsed_ms + 50
    # The proxy's own share is small next to the model's time.
    assert row["proxy_overhead_ms"] < row["latency_ms"] / 2


def test_provider_response_headers_reach_the_client(live_db, upstream, provider_keys, openai_client):
    raw = openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)

    assert raw.status_code == 200
    assert raw.headers["x-request-id"].startswith("req_mock_")
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.parse().choices[0].message.content == mock.REPLY


def test_a_rotated_provider_key_is_used_for_the_very_next_call(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    upstream.keys["openai"].add("sk-proj-rotatedupstreamkey0000000")
    try:
        services.rotate_provider_key(provider_keys["openai"], "sk-proj-rotatedupstreamkey0000000")
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        upstream.keys["openai"].discard("sk-proj-rotatedupstreamkey0000000")

    assert [r.headers["authorization"] for r in upstream.requests] == [
        f"Bearer {mock.OPENAI_KEY}",
        "Bearer sk-proj-rotatedupstreamkey0000000",
    ]
    rows = read_rows(org.id, expect=2)
    assert [row["provider_key_id"] for row in rows] == [str(provider_keys["openai"].id)] * 2


def test_concurrent_streams_each_get_their_own_row(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    from concurrent.futures import ThreadPoolExecutor

    def call(n: int) -> str:
        with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key=sl_key, max_retries=0) as client:
            chunks = client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers={"x-spanlens-user": f"user-{n}"}
            )
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    with ThreadPoolExecutor(max_workers=6) as pool:
        texts = list(pool.map(call, range(6)))

    assert texts == [mock.REPLY] * 6
    rows = read_rows(org.id, expect=6)
    assert sorted(row["user_id"] for row in rows) == [f"user-{n}" for n in range(6)]
    for row in rows:
        assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)
        assert json.loads(row["response_body"])["choices"][0]["message"]["content"] == mock.REPLY


def test_a_file_upload_reaches_openai_byte_for_byte(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    audio = bytes(range(256)) * 64  # not text, not UTF-8
    transcript = openai_client.audio.transcriptions.create(model="whisper-1", file=("hello.wav", audio, "audio/wav"))

    assert transcript.text == mock.REPLY
    sent = upstream.last()
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert audio in sent.body
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 200
    assert row["endpoint"].endswith("audio/transcriptions")


def test_a_malformed_trace_id_does_not_cost_the_row(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-spanlens-trace-id": "not-a-uuid"}
    )

    [row] = read_rows(org.id, expect=1)
    assert row["trace_id"] is None
    assert row["total_tokens"] == 1500


def test_a_prompt_version_named_as_name_at_version_gets_one_stable_id(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    from proxy.logentry import prompt_version_uuid

    for _ in range(2):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES,
            extra_headers={"x-spanlens-prompt-version": "support-reply@3"},
        )
    rows = read_rows(org.id, expect=2)
    ids = {row["prompt_version_id"] for row in rows}
    assert ids == {prompt_version_uuid("support-reply@3", str(org.id))}
    assert None not in ids
    assert "x-spanlens-prompt-version" not in upstream.last().headers
