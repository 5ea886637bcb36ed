"""The request log API in the OpenAPI document (see spanlens.openapi)."""
from __future__ import annotations

from spanlens.openapi.schema import INTEGER, NUMBER, STRING, UUID, array, nullable, obj, op, path, query

TAG = "Requests"
REQUEST = obj({
    "id": UUID, "organization_id": UUID, "project_id": nullable(UUID), "provider": STRING, "model": STRING,
    "status_code": INTEGER, "latency_ms": nullable(NUMBER), "prompt_tokens": nullable(INTEGER),
    "completion_tokens": nullable(INTEGER), "total_tokens": nullable(INTEGER), "cost_usd": nullable(NUMBER),
    "user_id": nullable(STRING), "session_id": nullable(STRING), "created_at": nullable(STRING),
}, required=["id"])
REQUEST_ID = path("request_id", "the request's id (a UUID)")
MODEL_BODY = {"required": False, "content": {
    "application/json": {"schema": obj({"model": nullable({"type": "string", "maxLength": 200})})},
    "application/x-www-form-urlencoded": {"schema": obj({"model": {"type": "string", "maxLength": 200}})},
}}

PATHS = {
    "/api/v1/requests": {
        "get": op("List logged requests, newest first", tag=TAG, data=array(REQUEST),
                  meta=obj({"total": INTEGER, "page": INTEGER, "limit": INTEGER}), params=[
                      query("projectId", "a project of this organization (UUID)"),
                      query("provider", "openai, anthropic, gemini, azure, …"), query("model"),
                      query("providerKeyId", "the provider key (UUID)"),
                      query("promptVersionId", "name@3, name@production or a version id"),
                      query("userId"), query("sessionId"),
                      query("status", "all, ok, 4xx, 5xx or error"), query("flag", "a security flag"),
                      query("cacheHit", "true: answered from the response cache; false: reached the provider"),
                      query("from", "ISO 8601"), query("to", "ISO 8601"), query("q", "text in the bodies"),
                      query("sortBy", "created_at, latency_ms, cost_usd or total_tokens"),
                      query("sortDir", "asc or desc"),
                      query("page", "from 1", {"type": "integer", "minimum": 1}),
                      query("limit", "at most 100", {"type": "integer", "minimum": 1, "maximum": 100}),
                  ]),
    },
    "/api/v1/requests/{request_id}": {
        "get": op("One request, with its bodies", tag=TAG, params=[REQUEST_ID], data=REQUEST),
    },
    "/api/v1/requests/{request_id}/replay": {
        "post": op("A curl snippet that replays the request through the proxy", tag=TAG, params=[REQUEST_ID],
                   body=MODEL_BODY, data=obj({"curl": STRING, "model": nullable(STRING)}, required=["curl"])),
    },
    "/api/v1/requests/{request_id}/replay/run": {
        "post": op("Replay the request now (logged as a new request)", tag=TAG, params=[REQUEST_ID],
                   body=MODEL_BODY, description="Uses the organization's provider key; optionally on another model.",
                   data=obj({"latency_ms": NUMBER, "output": STRING})),
    },
}
