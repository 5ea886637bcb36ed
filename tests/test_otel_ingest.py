"""POST /v1/traces: spans from real OpenTelemetry instrumentations, exported by the
official OTLP/HTTP exporter, become traces with tokens and cost; OTLP/JSON and gzip;
refusals are JSON errors."""
import gzip
import json
import re
import subprocess
import sys
import uuid
from decimal import Decimal

import httpx
import pytest
from django.test import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from spanlens.core import services as core_services
from spanlens.otel.mapping import span_uuid
from spanlens.traces.models import Span, Trace
from spanlens.core.formatting import usd as usd_text
from tests import mock_upstream as mock
from tests.costs import usd
from tests.procs import ROOT

# gpt-4o-mini's list price: $0.15 in, $0.60 out per 1M tokens.
EXPECTED_COST = usd((mock.PROMPT_TOKENS, "0.15"), (mock.COMPLETION_TOKENS, "0.60"))


def run_app(instrumentation: str, mock_upstream, spanlens_server, key: str, **env) -> uuid.UUID:
    done = subprocess.run(
        [sys.executable, "-m", "tests.otel_app", instrumentation, mock_upstream.url,
         f"{spanlens_server.url}/v1/traces", key],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "OTEL_SDK_DISABLED": "false", **env},
    )
    assert done.returncode == 0, done.stderr
    return uuid.UUID(done.stdout.strip().splitlines()[-1])


def llm_span(trace_id) -> Span:
    return Span.objects.get(trace_id=trace_id, span_type="llm")


def test_openai_v2_instrumentation_shows_in_traces_with_tokens_and_cost(
    live_db, owner, org, sl_key, mock_upstream, spanlens_server
):
    trace_id = run_app(
        "openai-v2", mock_upstream, spanlens_server, sl_key,
        OTEL_SEMCONV_STABILITY_OPT_IN="gen_ai_latest_experimental",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="span_only",
    )

    trace = Trace.objects.get(id=trace_id)
    assert (trace.organization_id, trace.name, trace.status) == (org.id, "answer-question", "completed")
    assert (trace.user_id, trace.session_id) == ("cust-42", "chat-7")
    assert trace.span_count == 2
    assert trace.total_tokens == mock.PROMPT_TOKENS + mock.COMPLETION_TOKENS
    assert trace.total_cost_usd == EXPECTED_COST
    span = llm_span(trace_id)
    assert span.model == mock.DATED_MODELS["gpt-4o-mini"]
    assert (span.prompt_tokens, span.completion_tokens) == (mock.PROMPT_TOKENS, mock.COMPLETION_TOKENS)
    assert span.cost_usd == EXPECTED_COST
    assert span.parent_span_id == Span.objects.get(trace_id=trace_id, parent_span_id=None).id
    assert "Why is the sky blue?" in json.dumps(span.input)
    assert mock.REPLY in json.dumps(span.output)
    assert span.metadata["gen_ai.operation.name"] == "chat"
    assert span.metadata["service.name"] == "otel-app-openai-v2"

    client = Client()
    client.force_login(owner)
    page = client.get("/traces").content.decode()
    row = page[page.index("answer-question"):]
    row = row[:row.index("</tr>")]
    assert re.search(r">1,?500<", row), row
    assert usd_text(EXPECTED_COST) in row
    detail = client.get(f"/traces/{trace_id}").content.decode()
    assert "chat gpt-4o-mini" in detail and usd_text(EXPECTED_COST) in detail


def test_openinference_instrumentation_shows_in_traces_with_tokens_and_cost(
    live_db, org, sl_key, mock_upstream, spanlens_server
):
    trace_id = run_app("openinference", mock_upstream, spanlens_server, sl_key)

    trace = Trace.objects.get(id=trace_id)
    assert (trace.name, trace.status, trace.user_id) == ("answer-question", "completed", "cust-42")
    assert trace.total_tokens == mock.PROMPT_TOKENS + mock.COMPLETION_TOKENS
    assert trace.total_cost_usd == EXPECTED_COST
    span = llm_span(trace_id)
    assert span.model == mock.DATED_MODELS["gpt-4o-mini"]
    assert span.cost_usd == EXPECTED_COST
    assert span.input["messages"][0] == {"role": "user", "content": "Why is the sky blue?"}
    assert span.output["messages"][0]["content"] == mock.REPLY
    assert span.metadata["openinference.span.kind"] == "LLM"


def otlp_json(trace_hex: str, spans: list[dict]) -> dict:
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "billing"}}]},
        "scopeSpans": [{"scope": {"name": "hand-made"}, "spans": [
            {"traceId": trace_hex, "startTimeUnixNano": "1764590000000000000",
             "endTimeUnixNano": "1764590001500000000", **span} for span in spans
        ]}],
    }]}


def post(spanlens_server, key, body: bytes, content_type="application/json", **headers):
    return httpx.post(f"{spanlens_server.url}/v1/traces", content=body, timeout=10,
                      headers={"Authorization": f"Bearer {key}", "Content-Type": content_type, **headers})


GENAI_ATTRS = [
    {"key": "gen_ai.system", "value": {"stringValue": "anthropic"}},
    {"key": "gen_ai.request.model", "value": {"stringValue": "claude-haiku-4-5"}},
    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1000"}},
    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 200}},
]


def test_otlp_json_with_gzip_maps_genai_attributes_and_errors(live_db, org, sl_key, spanlens_server):
    trace_hex = uuid.uuid4().hex
    body = otlp_json(trace_hex, [
        {"spanId": "00000000000000a1", "name": "agent"},
        {"spanId": "00000000000000b2", "parentSpanId": "00000000000000a1", "name": "chat claude",
         "attributes": GENAI_ATTRS,
         "events": [{"name": "gen_ai.user.message", "timeUnixNano": "1764590000100000000",
                     "attributes": [{"key": "content", "value": {"stringValue": "Refund order A-1"}}]}]},
        {"spanId": "00000000000000c3", "parentSpanId": "00000000000000a1", "name": "lookup_order",
         "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}}],
         "status": {"code": 2, "message": "order not found"}},
    ])
    response = post(spanlens_server, sl_key, gzip.compress(json.dumps(body).encode()), **{"Content-Encoding": "gzip"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    trace = Trace.objects.get(id=uuid.UUID(trace_hex))
    assert (trace.name, trace.span_count, trace.duration_ms) == ("agent", 3, 1500)
    assert trace.metadata == {"source": "otlp", "service.name": "billing"}
    chat = Span.objects.get(id=span_uuid(bytes.fromhex(trace_hex), bytes.fromhex("00000000000000b2")))
    # claude-haiku-4-5: $1 in, $5 out per 1M.
    assert (chat.span_type, chat.total_tokens, chat.cost_usd) == ("llm", 1200, usd((1000, "1"), (200, "5")))
    assert chat.input == {"messages": [{"content": "Refund order A-1", "role": "user"}]}
    tool = Span.objects.get(name="lookup_order", trace_id=trace.id)
    assert (tool.span_type, tool.status, tool.error) == ("tool", "error", "order not found")

    # A retried export changes nothing.
    assert post(spanlens_server, sl_key, json.dumps(body).encode()).status_code == 200
    assert Span.objects.filter(trace_id=trace.id).count() == 3


def test_protobuf_answer_counts_spans_it_could_not_use(live_db, sl_key, spanlens_server):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan

    # An all-zero parent id, as some SDKs write for a root span.
    good = OtlpSpan(trace_id=uuid.uuid4().bytes, span_id=b"\x01" * 8, parent_span_id=bytes(8), name="ok",
                    start_time_unix_nano=1764590000000000000)
    bad = OtlpSpan(trace_id=b"\x00" * 16, span_id=b"\x02" * 8, name="zero", start_time_unix_nano=1)
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[good, bad])])])

    response = post(spanlens_server, sl_key, request.SerializeToString(), "application/x-protobuf")

    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "traceId" in answer.partial_success.error_message
    trace = Trace.objects.get(id=uuid.UUID(bytes=good.trace_id))
    assert (trace.name, trace.status) == ("ok", "running")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"\xff\xfe not protobuf", "application/x-protobuf", 400, "protobuf"),
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[]", "application/json", 400, "resourceSpans"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "application/json", 400, "hex"),
        (b"x", "text/plain", 415, "application/x-protobuf"),
    ],
)
def test_bad_bodies_are_json_errors(live_db, sl_key, spanlens_server, body, content_type, status, error):
    response = post(spanlens_server, sl_key, body, content_type)
    assert response.status_code == status
    assert response.json()["success"] is False and error in response.json()["error"]


def test_it_needs_a_spanlens_key_with_the_ingest_scope(live_db, project, spanlens_server):
    body = json.dumps(otlp_json(uuid.uuid4().hex, [{"spanId": "00000000000000a1", "name": "x"}])).encode()
    assert httpx.post(f"{spanlens_server.url}/v1/traces", content=body,
                      headers={"Content-Type": "application/json"}).status_code == 401
    assert post(spanlens_server, "sl_live_nope", body).status_code == 401
    read_only = core_services.create_api_key(project, scopes=["read"]).raw_key
    refused = post(spanlens_server, read_only, body)
    assert refused.status_code == 403 and refused.json()["missing_scope"] == "ingest"


def test_it_checks_ownership_of_trace_ids(live_db, sl_key, outsider, spanlens_server):
    _, other_project = core_services.create_organization("Other Inc", outsider)
    other_key = core_services.create_api_key(other_project).raw_key
    trace_hex = uuid.uuid4().hex
    body = json.dumps(otlp_json(trace_hex, [{"spanId": "00000000000000a1", "name": "mine"}])).encode()
    assert post(spanlens_server, other_key, body).status_code == 200

    taken = post(spanlens_server, sl_key, body)

    assert taken.status_code == 409
    assert Trace.objects.get(id=uuid.UUID(trace_hex)).organization.name == "Other Inc"
    assert Decimal(0) == Trace.objects.get(id=uuid.UUID(trace_hex)).total_cost_usd
