"""POST /v1/traces: the OTLP/HTTP trace receiver.

Exporters point at the server root (OTEL_EXPORTER_OTLP_ENDPOINT=https://spanlens…)
and append /v1/traces themselves. Success answers in OTLP's own shape
(ExportTraceServiceResponse, protobuf or JSON like the request), with spans that
could not be used counted in partial_success; refusals (key, media type, body)
are the API's JSON errors.
"""
from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse

from spanlens.core.access import Access, api_auth, api_error
from spanlens.otel import decode, mapping
from spanlens.traces import payloads, services
from spanlens.traces.api import _allow

# Well under the ingest API's batch limit, so one big export never trips it.
CHUNK = 400


@_allow("POST")
@api_auth
def receive_traces(request, access: Access):
    if access.api_key is None:
        return api_error("sending spans needs a Spanlens API key (Authorization: Bearer sl_live_...)", 401)
    try:
        kind = decode.media_type(request.content_type)
        body = decode.inflate(request.body, request.headers.get("Content-Encoding", ""))
        message = decode.parse_request(body, kind)
    except RequestDataTooBig:
        return api_error("body: too large; send smaller batches", 413)
    except decode.OtlpError as exc:
        return api_error(str(exc), exc.status)
    mapped = mapping.map_request(message)
    try:
        for start in range(0, max(len(mapped.spans), len(mapped.traces)), CHUNK):
            traces, spans = payloads.parse_batch(
                {"traces": mapped.traces[start:start + CHUNK], "spans": mapped.spans[start:start + CHUNK]}
            )
            services.ingest(
                organization_id=access.organization.id, project_id=access.api_key.project_id,
                traces=traces, spans=spans,
            )
    except payloads.PayloadError as exc:
        return api_error(str(exc), 400)
    except services.IdConflict as exc:
        return api_error(str(exc), 409)
    content = decode.encode_response(kind, mapped.rejected, "; ".join(mapped.reasons))
    return HttpResponse(content, content_type=kind)
