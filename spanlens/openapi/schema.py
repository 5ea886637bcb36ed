"""Small builders for OpenAPI path items, so each app's openapi.py reads like a table.

    PATHS = {
        "/api/v1/things/{thing_id}": {
            "get": op("One thing", tag="Things", params=[path("thing_id")], data=THING),
        },
    }
"""
from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# --- schemas ----------------------------------------------------------------------------------

ANY: Schema = {}
STRING: Schema = {"type": "string"}
UUID: Schema = {"type": "string", "format": "uuid"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
DATETIME: Schema = {"type": "string", "format": "date-time"}
OBJECT: Schema = {"type": "object"}


def nullable(schema: Schema) -> Schema:
    """The schema, or null (3.1: a list of types; anything without a type already allows null)."""
    if "type" not in schema:
        return schema
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*types, "null"]}


def obj(properties: dict[str, Schema] | None = None, required: list[str] | tuple[str, ...] = (), **extra) -> Schema:
    """An object with these properties; more properties may appear (answers grow over time)."""
    schema: Schema = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = list(required)
    return {**schema, **extra}


def array(items: Schema, **extra) -> Schema:
    return {"type": "array", "items": items, **extra}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


# --- parameters -------------------------------------------------------------------------------

def path(name: str, description: str = "", schema: Schema = STRING) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def query(name: str, description: str = "", schema: Schema = STRING) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


PAGE = [query("page", "page number, from 1", {"type": "integer", "minimum": 1}),
        query("limit", "items per page", {"type": "integer", "minimum": 1})]
PAGE_META = obj({"total": INTEGER, "page": INTEGER, "limit": INTEGER, "pages": INTEGER})


# --- responses ----------------------------------------------------------------------------------

ERROR_TEXT = {
    400: "Bad input: `error` names the parameter or field (and `field`, when there is one).",
    401: "No credentials, or an invalid, revoked or expired API key.",
    403: "Not allowed: a viewer writing, a key without the scope (`missing_scope`), an address the key refuses.",
    404: "Not found, or not this organization's.",
    405: "The method is not one this endpoint takes.",
    409: "The id belongs to another organization.",
    413: "The body is over the upload limit.",
    503: "The request log (ClickHouse) is unreachable; rows wait in the spool.",
}


def error(status: int) -> dict:
    return {"description": ERROR_TEXT[status], "content": {"application/json": {"schema": ref("Error")}}}


def envelope(data: Schema = ANY, meta: Schema | None = None) -> Schema:
    """The API's success shape: {"success": true, "data": ..., "meta": {...}}."""
    properties = {"success": {"const": True}, "data": data}
    if meta is not None:
        properties["meta"] = meta
    return obj(properties, required=["success", "data"])


def json_body(schema: Schema, *, required: bool = True, description: str = "") -> dict:
    return {"required": required, "description": description, "content": {"application/json": {"schema": schema}}}


def op(
    summary: str,
    *,
    tag: str,
    params: list[dict] = (),
    body: dict | Schema | None = None,
    status: int = 200,
    data: Schema = ANY,
    meta: Schema | None = None,
    response: Schema | None = None,
    errors: tuple[int, ...] = (400, 401, 403, 404),
    description: str = "",
    security: list | None = None,
) -> dict:
    """One operation. The success answer is the envelope around `data` (or `response` whole);
    every operation behind authentication can also answer 401 and 403, and any can answer 503
    while the request log is down."""
    if body is not None and "content" not in body:
        body = json_body(body)
    codes = set(errors) | ({401, 403} if security is None else set())
    responses: dict[str, Any] = {
        str(status): {"description": "OK" if status == 200 else "Created",
                      "content": {"application/json": {"schema": response or envelope(data, meta)}}},
    }
    for code in sorted(codes | {503}):
        responses[str(code)] = error(code)
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        operation["requestBody"] = body
    if security is not None:
        operation["security"] = security
    return operation
