"""OpenTelemetry in: OTLP/HTTP spans from any instrumentation become Spanlens traces and spans."""
