"""One module per provider: key location, upstream URL and auth, usage parsing, stream reassembly."""
from proxy.providers import anthropic, azure, gemini, openai

ADAPTERS = {m.name: m for m in (openai, anthropic, gemini, azure)}
