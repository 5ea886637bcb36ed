"""Streams as real clients end them: hanging up right after the terminal event, errors
sent inside a 200 stream, and tool calls reassembled into the stored body."""
import json
import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from spanlens.requestlog import queries
from tests import mock_upstream as mock
from tests.costs import cost_of, usd

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [{"type": "function", "function": {"name": mock.TOOL_NAME, "parameters": {"type": "object"}}}]


# --- a terminal event makes a stream complete, whatever the client does next -------

def test_openai_sdk_hanging_up_after_done_leaves_a_clean_row(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    # The SDK closes the connection at [DONE]; upstream holds it open a moment longer.
    chunks = list(openai_client.chat.completions.create(model="gpt-4o-mini+linger", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == mock.REPLY

    [row] = read_rows(org.id, expect=1)
    assert row["error_message"] == ""
    assert row["status_code"] == 200
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)
    assert cost_of(row) == usd((1200, "0.15"), (300, "0.6"))
    assert row["cost_source"] == "reported"
    assert queries.get_request_stats(organization_id=org.id)["errors"] == 0


def test_responses_stream_closed_after_response_completed_is_complete(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    with openai_client.responses.create(model="gpt-4o-mini+linger", input="Hi", stream=True) as stream:
        for event in stream:
            if event.type == "response.completed":
                break

    [row] = read_rows(org.id, expect=1)
    assert row["error_message"] == ""
    assert row["cost_source"] == "reported"
    assert json.loads(row["response_body"])["status"] == "completed"


def test_anthropic_stream_closed_after_message_stop_is_complete(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    with anthropic_client.messages.stream(model="claude-haiku-4-5+linger", max_tokens=64, messages=MESSAGES) as stream:
        for event in stream:
            if event.type == "message_stop":
                break

    [row] = read_rows(org.id, expect=1)
    assert row["error_message"] == ""
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)
    assert cost_of(row) == usd((1200, "1"), (300, "5"))


def test_gemini_stream_closed_after_the_chunk_with_finish_reason_is_complete(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    client = genai.Client(api_key=sl_key, http_options=types.HttpOptions(base_url=f"{spanlens_server.url}/proxy/gemini"))
    for chunk in client.models.generate_content_stream(model="gemini-2.5-flash+linger", contents="Hi"):
        if chunk.candidates and chunk.candidates[0].finish_reason:
            break

    [row] = read_rows(org.id, expect=1)
    assert row["error_message"] == ""
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)


def test_a_stream_abandoned_before_its_end_still_says_so(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    stream = openai_client.chat.completions.create(model="gpt-4o-mini+slow-stream", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()

    [row] = read_rows(org.id, expect=1)
    assert row["error_message"] == "Client disconnected before the stream ended."


# --- errors inside a 200 stream ------------------------------------------------------

def test_openai_error_inside_a_stream_is_logged_as_the_providers_error(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    with pytest.raises(openai.APIError) as caught:
        list(openai_client.chat.completions.create(model="gpt-4o-mini+stream-error", messages=MESSAGES, stream=True))
    assert "The server had an error" in str(caught.value)

    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 200  # what upstream sent
    assert row["error_message"] == f"server_error: {mock.STREAM_ERROR_OPENAI['message']}"
    stored = json.loads(row["response_body"])
    assert stored["choices"][0]["message"]["content"] == "".join(mock.reply_pieces(set())[:2])


def test_anthropic_overloaded_error_inside_a_stream_is_logged_as_an_error(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    with pytest.raises(anthropic.APIStatusError) as caught:
        with anthropic_client.messages.stream(model="claude-haiku-4-5+stream-error", max_tokens=64,
                                              messages=MESSAGES) as stream:
            for _ in stream:
                pass
    assert "Overloaded" in str(caught.value)

    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 200
    assert row["error_message"] == "overloaded_error: Overloaded"
    # The stat strip's error rate counts it.
    assert queries.get_request_stats(organization_id=org.id)["errors"] == 1


# --- tool calls survive reassembly -----------------------------------------------------

def test_openai_streamed_tool_call_is_stored_whole_with_usage_details(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    chunks = list(openai_client.chat.completions.create(
        model="gpt-4o-mini+tools+cached", messages=MESSAGES, tools=TOOLS, stream=True,
        stream_options={"include_usage": True},
    ))
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                   for c in chunks if c.choices and c.choices[0].delta.tool_calls)
    assert json.loads(args) == mock.TOOL_ARGS

    [row] = read_rows(org.id, expect=1)
    stored = json.loads(row["response_body"])
    message = stored["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [{
        "id": mock.TOOL_CALL_ID, "type": "function",
        "function": {"name": mock.TOOL_NAME, "arguments": json.dumps(mock.TOOL_ARGS)},
    }]
    assert stored["choices"][0]["finish_reason"] == "tool_calls"
    assert stored["usage"]["prompt_tokens_details"]["cached_tokens"] == mock.OPENAI_CACHED_TOKENS
    assert row["error_message"] == ""


def test_responses_api_streamed_function_call_is_stored(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    events = list(openai_client.responses.create(model="gpt-4o-mini+tools", input="Weather?", stream=True))
    assert events[-1].type == "response.completed"

    [row] = read_rows(org.id, expect=1)
    [item] = json.loads(row["response_body"])["output"]
    assert (item["type"], item["name"], json.loads(item["arguments"])) == ("function_call", mock.TOOL_NAME, mock.TOOL_ARGS)


def test_anthropic_streamed_tool_use_is_stored_with_its_parsed_input(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    with anthropic_client.messages.stream(model="claude-haiku-4-5+tools", max_tokens=256, messages=MESSAGES,
                                          tools=[{"name": mock.TOOL_NAME, "input_schema": {"type": "object"}}]) as s:
        final = s.get_final_message()
    assert final.content[1].input == mock.TOOL_ARGS

    [row] = read_rows(org.id, expect=1)
    stored = json.loads(row["response_body"])
    assert stored["content"] == [
        {"type": "text", "text": "Let me check the weather."},
        {"type": "tool_use", "id": "toolu_mock0001", "name": mock.TOOL_NAME, "input": mock.TOOL_ARGS},
    ]
    assert stored["stop_reason"] == "tool_use"


def test_gemini_streamed_function_call_part_is_stored(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    client = genai.Client(api_key=sl_key, http_options=types.HttpOptions(base_url=f"{spanlens_server.url}/proxy/gemini"))
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash+tools", contents="Weather?"))
    assert chunks[-1].function_calls[0].name == mock.TOOL_NAME

    [row] = read_rows(org.id, expect=1)
    parts = json.loads(row["response_body"])["candidates"][0]["content"]["parts"]
    assert parts == [{"text": mock.REPLY}, {"functionCall": {"name": mock.TOOL_NAME, "args": mock.TOOL_ARGS}}]


# --- the drawer shows tool calls as such ----------------------------------------------

def test_the_drawer_shows_a_streamed_tool_call_with_pretty_arguments(
    live_db, owner, upstream, provider_keys, anthropic_client, org, read_rows
):
    from django.test import Client

    history = MESSAGES + [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup_city",
                                           "input": {"name": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "FR"}]},
    ]
    with anthropic_client.messages.stream(model="claude-haiku-4-5+tools", max_tokens=256, messages=history) as s:
        s.get_final_message()
    [row] = read_rows(org.id, expect=1)

    client = Client()
    client.force_login(owner)
    html = client.get(f"/requests/{row['id']}/drawer/", headers={"HX-Request": "true"}).content.decode()
    assert html.count("data-tool-call") == 2  # the one in the conversation, the one in the response
    assert "lookup_city" in html and mock.TOOL_NAME in html
    assert "&quot;city&quot;: &quot;Paris&quot;" in html  # indented JSON, not one line
    assert "[tool result] FR" in html
    assert 'data-error-badge' not in html


def test_a_langchain_agent_streaming_tool_calls_leaves_clean_exact_rows(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    langchain_openai = pytest.importorskip("langchain_openai")
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str, unit: str, days: list[int]) -> str:
        """The forecast for a city."""
        return "sunny"

    llm = langchain_openai.ChatOpenAI(
        model="gpt-4o-mini+tools+linger", base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key=sl_key,
        streaming=True, max_retries=0,
    ).bind_tools([get_weather])
    message = None
    for chunk in llm.stream("What is the weather in Paris?"):
        message = chunk if message is None else message + chunk
    assert message.tool_calls[0]["name"] == mock.TOOL_NAME
    assert message.tool_calls[0]["args"] == mock.TOOL_ARGS

    [row] = read_rows(org.id, expect=1)
    assert row["error_message"] == ""
    assert row["cost_source"] == "reported"
    assert cost_of(row) == usd((1200, "0.15"), (300, "0.6"))
    [call] = json.loads(row["response_body"])["choices"][0]["message"]["tool_calls"]
    assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == (mock.TOOL_NAME, mock.TOOL_ARGS)
