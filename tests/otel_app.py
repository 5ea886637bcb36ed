"""An OpenTelemetry-instrumented openai app, as a user writes one, run in its own process.

    python -m tests.otel_app INSTRUMENTATION OPENAI_BASE_URL OTLP_ENDPOINT SPANLENS_KEY [--json]

INSTRUMENTATION is `openai-v2` (opentelemetry-instrumentation-openai-v2) or
`openinference` (openinference-instrumentation-openai). The openai client talks
to OPENAI_BASE_URL (the mock upstream); spans go with the official OTLP/HTTP
exporter to OTLP_ENDPOINT (protobuf, its default). A process of its own because
OpenTelemetry's tracer provider and semconv mode are set once per process.
Prints the OTel trace id of the call.
"""
from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    instrumentation, openai_url, endpoint, key = argv[:4]
    from openai import OpenAI
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from tests.mock_upstream import OPENAI_KEY

    provider = TracerProvider(resource=Resource.create({"service.name": f"otel-app-{instrumentation}"}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, headers={"Authorization": f"Bearer {key}"}))
    )
    trace.set_tracer_provider(provider)
    if instrumentation == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    else:
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)

    client = OpenAI(base_url=f"{openai_url}/v1", api_key=OPENAI_KEY, max_retries=0)
    tracer = trace.get_tracer("support-agent")
    with tracer.start_as_current_span("answer-question", attributes={"user.id": "cust-42", "session.id": "chat-7"}) as root:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Why is the sky blue?"}]
        )
        print(format(root.get_span_context().trace_id, "032x"), flush=True)
    provider.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
