"""OTLP/HTTP request bodies (protobuf or JSON, optionally gzip) into the generated message.

The classes come from opentelemetry-proto, the same ones the official exporters
encode with, so every field and enum matches the wire format exactly.
"""
from __future__ import annotations

import base64
import json
import zlib

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# A gzip body may inflate far beyond the upload limit; stop inflating past this.
MAX_INFLATED_BYTES = 64 * 1024 * 1024


class OtlpError(ValueError):
    status = 400


class UnsupportedMediaType(OtlpError):
    status = 415


def media_type(content_type: str) -> str:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if kind == JSON:
        return JSON
    raise UnsupportedMediaType(
        f"Content-Type: send {PROTOBUF} (the exporters' default) or {JSON}, not {kind or 'nothing'}"
    )


def inflate(body: bytes, encoding: str) -> bytes:
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"Content-Encoding: gzip, deflate or none, not {encoding}")
    inflater = zlib.decompressobj(wbits=47 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(body, MAX_INFLATED_BYTES)
    except zlib.error:
        raise OtlpError(f"body: not valid {encoding} data") from None
    if inflater.unconsumed_tail:
        raise OtlpError(f"body: inflates to more than {MAX_INFLATED_BYTES // (1024 * 1024)} MB; send smaller batches")
    return data


def parse_request(body: bytes, kind: str) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError):
            raise OtlpError("body: not a valid OTLP ExportTraceServiceRequest protobuf") from None
        return message
    try:
        raw = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise OtlpError("body: not valid JSON") from None
    if not isinstance(raw, dict):
        raise OtlpError("body: must be an OTLP ExportTraceServiceRequest object with resourceSpans")
    _hex_ids_to_base64(raw)
    try:
        json_format.ParseDict(raw, message, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise OtlpError(f"body: not an OTLP ExportTraceServiceRequest ({_first_line(exc)})") from None
    return message


def _hex_ids_to_base64(raw: dict) -> None:
    """OTLP/JSON writes traceId and spanId as hex, where protobuf's JSON mapping expects base64."""
    for resource in _items(raw, "resourceSpans", "resource_spans"):
        for scope in _items(resource, "scopeSpans", "scope_spans"):
            for span in _items(scope, "spans"):
                _convert(span)
                for link in _items(span, "links"):
                    _convert(link)


def _items(obj, *names) -> list:
    if not isinstance(obj, dict):
        return []
    for name in names:
        value = obj.get(name)
        if isinstance(value, list):
            return value
    return []


_ID_FIELDS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")


def _convert(obj) -> None:
    if not isinstance(obj, dict):
        return
    for field in _ID_FIELDS:
        value = obj.get(field)
        if isinstance(value, str) and value:
            try:
                obj[field] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise OtlpError(f"{field}: must be hex (OTLP/JSON), got {value[:40]!r}") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def encode_response(kind: str, rejected: int, message: str) -> bytes:
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=rejected, error_message=message))
    if kind == PROTOBUF:
        return response.SerializeToString()
    return json.dumps(json_format.MessageToDict(response)).encode()
