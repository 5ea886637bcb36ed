"""Azure OpenAI through the proxy with the official AzureOpenAI client."""
import json
from decimal import Decimal

import openai
import pytest

from tests import mock_upstream as mock
from tests.costs import cost_of, usd

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]




def test_deployment_call_is_logged_with_the_model_azure_ran(
    live_db, upstream, provider_keys, azure_client, api_key, org, project, read_rows
):
    completion = azure_client.chat.completions.create(
        model="prod-chat", messages=MESSAGES, extra_headers={"x-spanlens-user": "user-42"}
    )
    assert completion.choices[0].message.content == mock.REPLY

    sent = upstream.last()
    assert sent.path == "/openai/deployments/prod-chat/chat/completions"
    assert sent.query["api-version"] == "2024-10-21"
    assert sent.headers["api-key"] == mock.AZURE_KEY
    assert "sl_live_" not in json.dumps(sent.headers)

    [row] = read_rows(org.id, expect=1)
    assert row["provider"] == "azure"
    assert row["project_id"] == str(project.id)
    assert row["api_key_id"] == str(api_key[0].id)
    assert row["provider_key_id"] == str(provider_keys["azure"].id)
    # The deployment is named prod-chat; the row names the model that answered.
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert row["stream"] is False
    assert row["status_code"] == 200
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    # Azure gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens.
    assert cost_of(row) == usd((1200, "0.15"), (300, "0.6")) == Decimal("0.00036")
    assert row["user_id"] == "user-42"
    assert json.loads(row["request_body"])["messages"] == MESSAGES
    assert json.loads(row["response_body"])["choices"][0]["message"]["content"] == mock.REPLY


def test_streamed_deployment_call_is_logged_with_usage_it_did_not_ask_for(
    live_db, upstream, provider_keys, azure_client, org, read_rows
):
    chunks = list(azure_client.chat.completions.create(model="prod-chat+cached", messages=MESSAGES, stream=True))

    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == mock.REPLY

    [row] = read_rows(org.id, expect=1)
    assert row["stream"] is True
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert (row["prompt_tokens"], row["completion_tokens"], row["cache_read_tokens"]) == (1200, 300, 1024)
    assert cost_of(row) == usd((176, "0.15"), (1024, "0.075"), (300, "0.6"))
    assert json.loads(row["response_body"])["choices"][0]["message"]["content"] == mock.REPLY


def test_azure_embeddings_are_priced_at_azure_rates(
    live_db, upstream, provider_keys, azure_client, org, read_rows
):
    result = azure_client.embeddings.create(model="prod-embed", input="hello world")
    assert len(result.data[0].embedding) == mock.EMBEDDING_DIMENSIONS

    [row] = read_rows(org.id, expect=1)
    assert row["provider"] == "azure"
    assert row["model"] == "text-embedding-3-small"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1000, 0)
    # Azure lists text-embedding-3-small at $0.022 per 1M (OpenAI: $0.02).
    assert cost_of(row) == usd((1000, "0.022")) == Decimal("0.000022")


def test_unknown_deployment_gets_azures_404_and_is_logged(
    live_db, upstream, provider_keys, azure_client, org, read_rows
):
    with pytest.raises(openai.NotFoundError) as caught:
        azure_client.chat.completions.create(model="no-such-deployment", messages=MESSAGES)

    assert caught.value.response.json()["error"]["code"] == "DeploymentNotFound"
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 404
    assert "deployment for this resource does not exist" in row["error_message"]


def test_calls_go_to_the_endpoint_stored_with_the_azure_key(
    live_db, upstream, provider_keys, azure_client, org, read_rows, monkeypatch
):
    from django.conf import settings

    # No global override: the key's own endpoint (the mock's URL) is the resource.
    monkeypatch.setitem(settings.UPSTREAM_BASE_URLS, "azure", None)
    completion = azure_client.chat.completions.create(model="prod-chat", messages=MESSAGES)

    assert completion.choices[0].message.content == mock.REPLY
    assert upstream.last().path == "/openai/deployments/prod-chat/chat/completions"
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 200
    assert row["model"] == "gpt-4o-mini-2024-07-18"
