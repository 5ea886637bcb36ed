"""The fake provider: nginx on 127.0.0.1 answering with fixed OpenAI / Anthropic bodies.

It must never be the bottleneck, so it is nginx with a few lines of Lua (the
Lua only looks at the request body to pick JSON or SSE, as the real APIs do
on `"stream": true`). A request whose body carries `"user":"bench-paced"`
gets its stream one event at a time, PACE_MS apart, so chunk gaps added by a
proxy can be measured against real gaps.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson

from bench.procs import free_port, wait_http

MODULES = Path("/usr/lib/nginx/modules")
PACE_MS = 2
PACED_MARKER = "bench-paced"

OPENAI_JSON = {
    "id": "chatcmpl-bench0001",
    "object": "chat.completion",
    "created": 1732350000,
    "model": "gpt-4o-mini-2024-07-18",
    "system_fingerprint": "fp_bench",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 21,
        "completion_tokens": 9,
        "total_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}

WORDS = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]


def openai_sse_events() -> list[bytes]:
    base = {
        "id": "chatcmpl-bench0002",
        "object": "chat.completion.chunk",
        "created": 1732350000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_bench",
    }
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in WORDS]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30}})
    return [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


ANTHROPIC_JSON = {
    "id": "msg_bench0001",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 21, "output_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
}


def anthropic_sse_events() -> list[bytes]:
    def event(name: str, data: dict) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    message = {**ANTHROPIC_JSON, "content": [], "stop_reason": None, "usage": {"input_tokens": 21, "output_tokens": 1}}
    events = [
        event("message_start", {"type": "message_start", "message": message}),
        event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    events += [
        event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}})
        for w in WORDS
    ]
    events += [
        event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                "usage": {"output_tokens": 9}}),
        event("message_stop", {"type": "message_stop"}),
    ]
    return events


def _lua_string(data: bytes) -> str:
    # A Lua long string whose level cannot clash with the JSON inside.
    return "[==[" + data.decode() + "]==]"


def _lua_list(events: list[bytes]) -> str:
    return "{" + ", ".join(_lua_string(e) for e in events) + "}"


HANDLER = """
local b = BODIES
ngx.req.read_body()
local req = ngx.req.get_body_data() or ""
local kind = ngx.var.uri:find("/messages", 1, true) and b.anthropic or b.openai
if req:find('"stream"%s*:%s*true') then
  ngx.header["Content-Type"] = "text/event-stream; charset=utf-8"
  ngx.header["Cache-Control"] = "no-cache"
  if req:find(MARKER, 1, true) then
    for _, event in ipairs(kind.events) do
      ngx.print(event)
      ngx.flush(true)
      ngx.sleep(PACE)
    end
  else
    ngx.print(kind.sse)
  end
else
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Content-Length"] = #kind.json
  ngx.print(kind.json)
end
"""


def render(tmp: Path, port: int) -> Path:
    oa_events, an_events = openai_sse_events(), anthropic_sse_events()
    bodies = (
        "BODIES = {\n"
        f"  openai = {{json = {_lua_string(orjson.dumps(OPENAI_JSON))}, sse = {_lua_string(b''.join(oa_events))},"
        f" events = {_lua_list(oa_events)}}},\n"
        f"  anthropic = {{json = {_lua_string(orjson.dumps(ANTHROPIC_JSON))}, sse = {_lua_string(b''.join(an_events))},"
        f" events = {_lua_list(an_events)}}},\n"
        "}\n"
        f"MARKER = {_lua_string(PACED_MARKER.encode())}\n"
        f"PACE = {PACE_MS / 1000}\n"
    )
    (tmp / "bodies.lua").write_text(bodies)
    # nginx started as root serves from unprivileged workers: they must reach these.
    for d in (tmp, *tmp.parents):
        if str(d) in ("/", "/tmp"):
            break
        d.chmod(0o755)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir(exist_ok=True)
        (tmp / sub).chmod(0o777)
    conf = f"""
load_module {MODULES}/ndk_http_module.so;
load_module {MODULES}/ngx_http_lua_module.so;
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  client_body_buffer_size 64k;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  lua_code_cache on;
  init_by_lua_file {tmp}/bodies.lua;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ content_by_lua_block {{ {HANDLER} }} }}
  }}
}}
"""
    path = tmp / "nginx.conf"
    path.write_text(conf)
    return path


def missing_tools() -> list[str]:
    missing = [t for t in ("nginx", "wrk") if not shutil.which(t) and not Path(f"/usr/sbin/{t}").exists()]
    if not (MODULES / "ngx_http_lua_module.so").exists():
        missing.append("libnginx-mod-http-lua")
    return missing


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Upstream:
    def __init__(self, tmp: Path):
        self.tmp = tmp / "nginx"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Upstream":
        conf = render(self.tmp, self.port)
        self.proc = subprocess.Popen(
            [nginx_binary(), "-c", str(conf), "-p", str(self.tmp), "-e", str(self.tmp / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / "stderr.log", "wb"),
            start_new_session=True,
        )
        if not wait_http(f"{self.url}/v1/chat/completions", method="POST", body=b"{}", timeout=10):
            raise RuntimeError("nginx did not start: " + (self.tmp / "stderr.log").read_text()[-2000:])
        return self

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
