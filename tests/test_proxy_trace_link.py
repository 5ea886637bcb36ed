"""A proxied call made inside a trace is linked to its span both ways."""
import time
import uuid

from spanlens.traces.models import Span, Trace


def test_a_call_with_trace_headers_fills_its_llm_span_with_request_tokens_and_cost(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    trace_id, span_id = uuid.uuid4(), uuid.uuid4()
    openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-spanlens-trace-id": str(trace_id), "x-spanlens-span-id": str(span_id)},
    )
    [row] = read_rows(org.id, expect=1)
    assert row["trace_id"] == str(trace_id) and row["span_id"] == str(span_id)

    deadline = time.monotonic() + 5  # the link is written right after the row, by the same thread
    while not Span.objects.filter(id=span_id, request_id__isnull=False).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    span = Span.objects.get(id=span_id)
    assert str(span.request_id) == row["id"]
    assert span.span_type == "llm"
    assert (span.prompt_tokens, span.completion_tokens, span.total_tokens) == (
        row["prompt_tokens"], row["completion_tokens"], row["total_tokens"])
    assert span.cost_usd is not None and float(span.cost_usd) == float(row["cost_usd"])
    trace = Trace.objects.get(id=trace_id)
    assert trace.organization_id == org.id
    assert trace.total_tokens == row["total_tokens"]
