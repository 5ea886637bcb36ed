"""The OpenAPI document: every /api/v1 route has an entry, the document is valid OpenAPI 3.1,
and the docs page renders it under the Content-Security-Policy."""
from __future__ import annotations

import os
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from spanlens.openapi.spec import document

# Routes that are not endpoints: the JSON 404 for any other /api/ path.
NOT_ENDPOINTS = {"/api/{path}"}


def _routes(patterns=None, prefix: str = "") -> set[str]:
    """Every URL pattern as an OpenAPI path template: <str:trace_id> → {trace_id}."""
    found: set[str] = set()
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        text = prefix + _template(entry.pattern)
        if isinstance(entry, URLResolver):
            found |= _routes(entry.url_patterns, text)
        elif isinstance(entry, URLPattern):
            found.add("/" + text)
    return found


def _template(pattern) -> str:
    text = str(pattern)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)  # regex groups
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)  # path converters
    return text.removeprefix("^").removesuffix("$").replace("/?", "").replace("\\.", ".")


def test_every_api_route_has_a_spec_entry_and_every_entry_a_route():
    routes = {r for r in _routes() if r.startswith("/api/")} - NOT_ENDPOINTS
    documented = set(document()["paths"])
    missing = sorted(routes - documented)
    stale = sorted(documented - routes)
    assert not missing, ("routes without an entry in the OpenAPI document; describe them in the app's "
                         "openapi.py PATHS:\n  " + "\n  ".join(missing))
    assert not stale, "entries without a route:\n  " + "\n  ".join(stale)


def test_every_operation_names_its_parameters_and_answers():
    for route, item in document()["paths"].items():
        placeholders = set(re.findall(r"{(\w+)}", route))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == placeholders, (method, route, declared)
            assert operation["summary"] and operation["tags"], (method, route)
            codes = set(operation["responses"])
            assert codes & {"200", "201"}, (method, route)
            if operation.get("security") != []:
                assert {"401", "403"} <= codes, (method, route)


def test_the_document_is_served_and_is_valid_openapi_3_1(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    spec = response.json()
    assert spec["openapi"] == "3.1.0" and spec["info"]["title"] == "Spanlens API"
    import schemathesis

    schema = schemathesis.openapi.from_dict(spec)  # raises on an invalid document
    assert len(list(schema.get_all_operations())) == sum(len(item) for item in spec["paths"].values())
    error = spec["paths"]["/api/v1/traces/{trace_id}"]["get"]["responses"]["404"]
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_docs_page_loads_only_local_scripts(db):
    response = Client().get("/api/v1/docs")
    html = response.content.decode()
    assert response.status_code == 200
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert "http://" not in html.replace('http://www.w3.org', '') and "https://" not in html


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
def test_the_docs_page_renders_every_endpoint_in_the_browser_without_a_csp_violation(spanlens_server, live_db,
                                                                                   monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    from tests.test_browser_csp import WATCH
    from tests.test_browser_requests import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_init_script(WATCH)
        page = context.new_page()
        page.goto(f"{spanlens_server.url}/api/v1/docs")
        page.wait_for_selector(".opblock-summary-path")
        shown = page.eval_on_selector_all(".opblock", "els => els.length")
        assert shown == sum(len(item) for item in document()["paths"].values())
        page.screenshot(path=str(SHOTS / "api-docs.png"))
        operation = page.locator(".opblock", has_text="A trace with its spans")
        operation.locator(".opblock-summary").click()
        operation.locator(".responses-table").first.wait_for()
        operation.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "api-docs-operation.png"))
        page.set_viewport_size({"width": 375, "height": 800})
        page.screenshot(path=str(SHOTS / "api-docs-375.png"))
        assert page.evaluate("window.__cspViolations") == []
        browser.close()
