"""OpenAI-compatible providers and custom endpoints through the proxy with the official
openai SDK, and the base URLs a provider key may (not) point at."""
import json
import socket

import openai
import pytest
from django.test import Client

from spanlens.core import endpoints, services
from spanlens.core.models import ModelPrice
from tests import mock_upstream as mock
from tests.costs import cost_of, usd

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
PROVIDERS = ["mistral", "groq", "deepseek", "xai", "openrouter", "together", "fireworks"]


def client_for(server, provider: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/proxy/{provider}/v1", api_key=key, max_retries=0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_call_through_each_openai_compatible_provider_is_logged_and_priced(
    live_db, spanlens_server, upstream, project, sl_key, org, read_rows, provider
):
    key = services.add_provider_key(project, provider, mock.COMPAT_KEYS[provider], f"{provider} prod")
    ModelPrice.objects.update_or_create(provider=provider, model="house-model",
                                        defaults={"input_per_1m": 1, "output_per_1m": 2})
    with client_for(spanlens_server, provider, sl_key) as client:
        reply = client.chat.completions.create(model="house-model", messages=MESSAGES)
        chunks = list(client.chat.completions.create(model="house-model", messages=MESSAGES, stream=True))
    assert reply.choices[0].message.content == mock.REPLY
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == mock.REPLY

    sent = upstream.last()
    assert sent.path == f"/{provider}/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {mock.COMPAT_KEYS[provider]}"
    rows = read_rows(org.id, expect=2)
    for row in rows:
        assert (row["provider"], row["provider_key_id"], row["status_code"]) == (provider, str(key.id), 200)
        assert row["error_message"] == ""
    plain, streamed = rows
    assert (plain["prompt_tokens"], plain["completion_tokens"]) == (1200, 300)
    if provider == "openrouter":
        assert cost_of(plain) == usd((1, str(mock.OPENROUTER_COST * 1_000_000)))  # its usage.cost
    else:
        assert cost_of(plain) == usd((1200, "1"), (300, "2"))
    assert streamed["cost_source"] in ("reported", "estimated")
    assert json.loads(streamed["response_body"])["choices"][0]["message"]["content"] == mock.REPLY


def test_deepseek_cache_hits_are_read_as_cached_tokens(
    live_db, spanlens_server, upstream, project, sl_key, org, read_rows
):
    services.add_provider_key(project, "deepseek", mock.COMPAT_KEYS["deepseek"], "DeepSeek")
    with client_for(spanlens_server, "deepseek", sl_key) as client:
        client.chat.completions.create(model="deepseek-chat+cached", messages=MESSAGES)
    [row] = read_rows(org.id, expect=1)
    assert row["cache_read_tokens"] == mock.OPENAI_CACHED_TOKENS


def test_a_custom_endpoint_gets_its_base_url_headers_and_table_price(
    live_db, spanlens_server, upstream, project, sl_key, org, read_rows
):
    services.add_provider_key(
        project, "custom", mock.COMPAT_KEYS["custom"], "vLLM on the GPU box",
        base_url=f"{upstream.url}/custom/v1", headers={"X-Tenant": "acme", "X-Route": "gpu-2"},
    )
    ModelPrice.objects.create(provider="custom", model="llama-3.1-8b", input_per_1m="0.05", output_per_1m="0.1")
    with client_for(spanlens_server, "custom", sl_key) as client:
        models = [m.id for m in client.models.list()]
        client.chat.completions.create(model="llama-3.1-8b", messages=MESSAGES)
    assert models == ["mock-model"]

    sent = upstream.last()
    assert sent.path == "/custom/v1/chat/completions"
    assert (sent.headers["x-tenant"], sent.headers["x-route"]) == ("acme", "gpu-2")
    assert sent.headers["authorization"] == f"Bearer {mock.COMPAT_KEYS['custom']}"
    rows = read_rows(org.id, expect=2)
    assert cost_of(rows[-1]) == usd((1200, "0.05"), (300, "0.1"))
    assert rows[-1]["cost_source"] == "reported"


def test_a_custom_endpoint_without_a_price_is_unknown_unless_marked_free(
    live_db, spanlens_server, upstream, project, sl_key, org, read_rows
):
    key = services.add_provider_key(project, "custom", mock.COMPAT_KEYS["custom"], "Ollama",
                                    base_url=f"{upstream.url}/custom/v1")
    with client_for(spanlens_server, "custom", sl_key) as client:
        client.chat.completions.create(model="qwen2.5:7b", messages=MESSAGES)
        services.delete_provider_key(key)
        services.add_provider_key(project, "custom", mock.COMPAT_KEYS["custom"], "Ollama (free)",
                                  base_url=f"{upstream.url}/custom/v1", price_free=True)
        client.chat.completions.create(model="qwen2.5:7b", messages=MESSAGES)
    first, second = read_rows(org.id, expect=2)
    assert (first["cost_usd"], first["cost_source"]) == (None, "unknown")
    assert (cost_of(second), second["cost_source"]) == (0, "reported")


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data",
    "http://[fd00:ec2::254]/v1",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://169.254.170.2/v1",
    "http://[::ffff:169.254.169.254]/v1",
    "http://100.100.100.200/v1",
    "http://0.0.0.0:8080/v1",
    "ftp://10.0.0.5/v1",
    "http://user:pw@10.0.0.5/v1",
    "not a url",
])
def test_base_urls_that_reach_cloud_metadata_or_are_malformed_are_refused(live_db, project, url):
    with pytest.raises(ValueError):
        services.add_provider_key(project, "custom", "", "bad", base_url=url)


def test_our_own_host_is_refused_and_private_addresses_are_allowed(live_db, project, settings):
    settings.WEB_URL = "https://spanlens.example.com"
    with pytest.raises(ValueError, match="Spanlens itself"):
        endpoints.check_base_url("https://spanlens.example.com/proxy/openai/v1")
    with pytest.raises(ValueError, match="Spanlens itself"):
        endpoints.check_base_url(f"http://127.0.0.1:{settings.PORT}/v1")
    for url in ("http://10.0.0.5:8000/v1", "http://192.168.1.20:11434/v1", "http://127.0.0.1:11434/v1",
                "http://localhost:1234/v1", "http://[fd12:3456::1]:8000/v1"):
        assert endpoints.check_base_url(url + "/") == url


def test_a_host_that_resolves_to_a_metadata_address_is_refused(live_db, monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "innocent.internal":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(ValueError, match="metadata"):
        endpoints.check_base_url("http://innocent.internal/v1")


def test_headers_the_proxy_owns_cannot_be_set(live_db, project):
    for headers in ({"Host": "x"}, {"Content-Length": "1"}, {"X-Spanlens-User": "u"}, {"X-A": "a\r\nB: b"},
                    {"bad name": "x"}):
        with pytest.raises(ValueError):
            services.add_provider_key(project, "custom", "", "bad", base_url="http://10.0.0.5/v1", headers=headers)
    with pytest.raises(ValueError, match="not both"):
        services.add_provider_key(project, "custom", "tok", "bad", base_url="http://10.0.0.5/v1",
                                  headers={"Authorization": "Basic abc"})
    # A server behind basic auth: the header is the credential, the secret stays empty.
    services.add_provider_key(project, "custom", "", "tgi", base_url="http://10.0.0.5/v1",
                              headers={"Authorization": "Basic abc"})


def test_the_provider_key_form_takes_a_custom_endpoint_and_shows_bad_urls_as_form_errors(live_db, owner, project):
    client = Client()
    client.force_login(owner)
    response = client.post("/settings/provider-keys/", {
        "provider": "custom", "project_id": project.id, "name": "metadata", "secret": "",
        "base_url": "http://169.254.169.254/v1"})
    assert response.status_code == 400
    assert "metadata" in response.content.decode()

    response = client.post("/settings/provider-keys/", {
        "provider": "custom", "project_id": project.id, "name": "vLLM", "secret": "",
        "base_url": "http://10.0.0.5:8000/v1", "headers": "X-Tenant: acme", "price_free": "on"})
    assert response.status_code == 302
    key = project.provider_keys.get(name="vLLM")
    assert (key.base_url, key.price_free, services.provider_key_headers(key)) == (
        "http://10.0.0.5:8000/v1", True, {"X-Tenant": "acme"})
    assert "acme" not in key.encrypted_headers  # stored encrypted


def test_the_sdk_factory_points_the_openai_client_at_any_compatible_provider(
    live_db, spanlens_server, upstream, project, sl_key, org, read_rows
):
    from spanlens.openai import create_openai

    services.add_provider_key(project, "xai", mock.COMPAT_KEYS["xai"], "xAI")
    with create_openai(api_key=sl_key, base_url=spanlens_server.url, provider="xai", max_retries=0) as client:
        assert client.chat.completions.create(model="grok-4", messages=MESSAGES).choices[0].message.content == mock.REPLY
    [row] = read_rows(org.id, expect=1)
    assert row["provider"] == "xai"
    with pytest.raises(ValueError, match="provider must be one of"):
        create_openai(api_key=sl_key, provider="anthropic")


def test_an_openai_key_with_a_base_url_goes_to_that_gateway(
    live_db, upstream, project, openai_client, org, read_rows
):
    services.add_provider_key(project, "openai", mock.COMPAT_KEYS["custom"], "Corporate gateway",
                              base_url=f"{upstream.url}/custom/v1")
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert upstream.last().path == "/custom/v1/chat/completions"
    [row] = read_rows(org.id, expect=1)
    assert (row["provider"], cost_of(row)) == ("openai", usd((1200, "0.15"), (300, "0.6")))


def test_azure_and_anthropic_keys_take_no_base_url(live_db, project):
    for provider in ("azure", "anthropic", "gemini"):
        with pytest.raises(ValueError, match="base URL can only be set"):
            services.add_provider_key(project, provider, "k", "x", base_url="http://10.0.0.5/v1")


def test_a_name_re_pointed_at_a_metadata_address_after_saving_is_refused_at_connect(
    live_db, spanlens_server, upstream, project, sl_key, org, read_rows, monkeypatch
):
    port = int(upstream.url.rsplit(":", 1)[1])
    target = {"ip": "127.0.0.1"}
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "models.rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (target["ip"], port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    services.add_provider_key(project, "custom", mock.COMPAT_KEYS["custom"], "rebinding",
                              base_url=f"http://models.rebind.test:{port}/custom/v1")
    target["ip"] = "169.254.169.254"
    upstream.clear()
    with client_for(spanlens_server, "custom", sl_key) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert upstream.requests == []
    [row] = read_rows(org.id, expect=1)
    assert "metadata" in row["error_message"]
