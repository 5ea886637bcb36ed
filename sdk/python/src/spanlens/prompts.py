"""Prompts from Spanlens, for the app that uses them.

    from spanlens import prompts
    prompt = prompts.get("support-reply", label="production", user_id=user.id)
    client.chat.completions.create(model=prompt.model or "gpt-4o-mini",
                                   messages=prompt.messages(customer=name),
                                   extra_headers=prompt.headers)

Fetched over the Spanlens API key and cached in-process for 60 s. After that the
cached version is still returned at once while a background thread fetches a
fresh one (stale-while-revalidate); when the server cannot be reached the
cached version (or the `fallback=` template) is served instead of failing.
While an A/B experiment runs on the label, the answer carries both arms and
the arm is chosen here, deterministically from the assignment key, so a user
keeps their arm even with the server down.

Template rules (shared with the server): `{{name}}` placeholders; every
placeholder is a variable; missing required variables raise one error naming
them all. This module never imports Django.
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from typing import TYPE_CHECKING
from urllib.parse import quote

from spanlens.sdk import config

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("spanlens")

__all__ = [
    "MissingVariablesError", "Prompt", "PromptClient", "PromptNotFound", "PromptUnavailable", "assign_arm",
    "find_variables", "get", "get_prompt", "render_template",
]

CACHE_TTL_S = 60.0
FETCH_TIMEOUT_S = 5.0
# Variable names: letters, digits, _ . and -; whitespace inside the braces is ignored.
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


# --- templates -----------------------------------------------------------------

class MissingVariablesError(KeyError):
    """Raised by render()/messages() when required variables were not given."""

    def __init__(self, prompt: str, missing: list[str]):
        self.missing = missing
        super().__init__(f"prompt {prompt!r} needs {', '.join(missing)} (missing variable"
                         f"{'s' if len(missing) > 1 else ''})")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


def find_variables(*texts: str) -> list[str]:
    """Placeholder names in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in VARIABLE.finditer(text or ""):
            seen.setdefault(match.group(1))
    return list(seen)


def render_template(text: str, values: dict[str, Any]) -> str:
    return VARIABLE.sub(lambda m: _value(values.get(m.group(1), "")), text or "")


def _value(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def missing_variables(variables: list[dict], placeholders: list[str], values: dict[str, Any]) -> list[str]:
    """Required variables without a value: declared required ones, and any placeholder not declared."""
    declared = {v["name"]: v for v in variables}
    required = [v["name"] for v in variables if v.get("required", True)]
    required += [name for name in placeholders if name not in declared]
    return [name for name in dict.fromkeys(required) if values.get(name) is None]


def assign_arm(experiment_id: str, key: str, split_b: int) -> str:
    """"A" or "B" for an assignment key: a hash, so the same key always gets the same arm.

    The server uses this very function, so SDK and API agree.
    """
    digest = hashlib.sha256(f"{experiment_id}:{key}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64 * 100
    return "B" if position < split_b else "A"


# --- the prompt -------------------------------------------------------------------

@dataclass(frozen=True)
class Prompt:
    name: str
    version: int | None
    id: str | None
    kind: str = "text"
    template: str = ""
    chat: list[dict] = field(default_factory=list)
    variables: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    arm: str | None = None  # "A" / "B" while an experiment runs on the label fetched
    experiment_id: str | None = None
    is_fallback: bool = False
    assignment_headers: dict = field(default_factory=dict)

    @property
    def header(self) -> str | None:
        """The x-spanlens-prompt-version value for the call made with this prompt."""
        return self.id

    @property
    def headers(self) -> dict[str, str]:
        """Headers for the provider call: the version (and the assignment key, so the A/B page can count units)."""
        if self.id is None:
            return {}
        return {"x-spanlens-prompt-version": self.id, **self.assignment_headers}

    @property
    def model(self) -> str | None:
        return self.config.get("model")

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}" if self.version is not None else f"{self.name}@fallback"

    def _check(self, values: dict[str, Any]) -> None:
        texts = [self.template] + [str(m.get("content", "")) for m in self.chat]
        missing = missing_variables(self.variables, find_variables(*texts), values)
        if missing:
            raise MissingVariablesError(self.ref, missing)

    def render(self, **values: Any) -> str:
        """The text template filled in (a chat prompt's messages joined, for completions-style use)."""
        self._check(values)
        if self.kind == "chat":
            return "\n\n".join(render_template(str(m.get("content", "")), values) for m in self.chat)
        return render_template(self.template, values)

    def messages(self, **values: Any) -> list[dict[str, str]]:
        """The chat messages filled in; a text prompt becomes one user message."""
        self._check(values)
        if self.kind != "chat":
            return [{"role": "user", "content": render_template(self.template, values)}]
        return [{"role": m.get("role", "user"), "content": render_template(str(m.get("content", "")), values)}
                for m in self.chat]


def _from_payload(data: dict, arm: str | None = None, experiment_id: str | None = None,
                  assignment_headers: dict | None = None) -> Prompt:
    return Prompt(
        name=data["name"], version=data["version"], id=data["id"], kind=data.get("kind", "text"),
        template=data.get("template") or "", chat=list(data.get("messages") or []),
        variables=list(data.get("variables") or []), config=dict(data.get("model_config") or {}),
        labels=list(data.get("labels") or []), arm=arm, experiment_id=experiment_id,
        assignment_headers=dict(assignment_headers or {}),
    )


# --- fetching and caching -----------------------------------------------------------

class PromptNotFound(LookupError):
    """The server answered: no such prompt, version or label."""


class PromptUnavailable(RuntimeError):
    """The server could not be reached, nothing was cached, and no fallback was given."""


@dataclass
class _Entry:
    data: dict
    fetched_at: float


class PromptClient:
    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 cache_ttl: float = CACHE_TTL_S, timeout: float = FETCH_TIMEOUT_S):
        self.api_key = config.api_key(api_key)
        self.base_url = config.base_url(base_url)
        self.cache_ttl = cache_ttl
        self.timeout = timeout
        self._cache: dict[tuple, _Entry] = {}
        self._refreshing: set[tuple] = set()
        self._lock = threading.Lock()

    def get(self, name: str, version: int | None = None, label: str | None = None, *,
            user_id: str | None = None, session_id: str | None = None, trace_id: str | None = None,
            fallback: str | list[dict] | None = None) -> Prompt:
        if version is not None and label is not None:
            raise ValueError("pass version or label, not both")
        key = (name, version, label)
        entry = self._cache.get(key)
        if entry is None:
            try:
                entry = self._fetch(key)
            except PromptNotFound:
                raise
            except Exception as exc:  # unreachable, timeouts, 5xx: serve the fallback if there is one
                if fallback is None:
                    raise PromptUnavailable(f"could not fetch prompt {name!r} from {self.base_url}: {exc}") from exc
                log.warning("spanlens: prompt %r unavailable (%s); serving the fallback", name, exc)
                return _fallback(name, fallback)
        elif time.monotonic() - entry.fetched_at > self.cache_ttl:
            self._revalidate(key)
        return self._choose(entry.data, {"user_id": user_id, "session_id": session_id, "trace_id": trace_id})

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _choose(self, data: dict, keys: dict[str, str | None]) -> Prompt:
        experiment = data.get("experiment")
        if not experiment:
            return _from_payload(data)
        key_kind = experiment["assignment_key"]
        value = keys.get(key_kind)
        if value is None:
            # Without the key there is nothing to stick to; a fresh random key keeps the split honest.
            log.info("spanlens: no %s given for the experiment on %r; assigning at random", key_kind, data["name"])
            value = str(uuid.uuid4())
        arm = assign_arm(experiment["id"], str(value), int(experiment["split_b"]))
        headers = {}
        if keys.get(key_kind) is not None and key_kind in ("user_id", "session_id"):
            headers[{"user_id": "x-spanlens-user", "session_id": "x-spanlens-session"}[key_kind]] = str(value)
        payload = experiment["arm_b"] if arm == "B" else experiment["arm_a"]
        return _from_payload(payload, arm=arm, experiment_id=experiment["id"], assignment_headers=headers)

    def _fetch(self, key: tuple) -> _Entry:
        name, version, label = key
        if not self.api_key:
            raise PromptUnavailable("no Spanlens API key: pass api_key= or set SPANLENS_API_KEY")
        params = {"version": version} if version is not None else ({"label": label} if label else {})
        # Imported on the first fetch: the Spanlens server imports this module for its template
        # rules and would otherwise hold an HTTP client (~12 MB) in every process.
        import httpx

        response = httpx.get(
            f"{self.base_url}/api/v1/prompts/{quote(name, safe='')}",
            params=params,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout,
        )
        if response.status_code == 404:
            raise PromptNotFound(response.json().get("error") if _is_json(response) else f"prompt {name!r} not found")
        response.raise_for_status()
        entry = _Entry(response.json()["data"], time.monotonic())
        with self._lock:
            self._cache[key] = entry
        return entry

    def _revalidate(self, key: tuple) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def run():
            try:
                self._fetch(key)
            except Exception as exc:  # keep serving what we have
                log.debug("spanlens: refreshing prompt %r failed: %s", key[0], exc)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=run, name="spanlens-prompt-refresh", daemon=True).start()


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


def _fallback(name: str, fallback: str | list[dict]) -> Prompt:
    if isinstance(fallback, str):
        return Prompt(name=name, version=None, id=None, kind="text", template=fallback, is_fallback=True)
    return Prompt(name=name, version=None, id=None, kind="chat", chat=list(fallback), is_fallback=True)


_default: PromptClient | None = None
_default_lock = threading.Lock()


def default_client() -> PromptClient:
    global _default
    with _default_lock:
        if _default is None:
            _default = PromptClient()
        return _default


def get(name: str, version: int | None = None, label: str | None = None, **kwargs) -> Prompt:
    """A prompt by name: a version number, a label, or (neither) the latest version.

    Keyword arguments: user_id / session_id / trace_id (the experiment's assignment
    key) and fallback (a template served when Spanlens cannot be reached).
    """
    return default_client().get(name, version, label, **kwargs)


get_prompt = get  # `from spanlens import get_prompt`
