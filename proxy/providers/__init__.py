"""One module per provider family: key location, upstream URL and auth, usage parsing, stream reassembly."""
from proxy.providers import anthropic, azure, compat, gemini, openai

ADAPTERS = {**{m.name: m for m in (openai, anthropic, gemini, azure)}, **compat.ADAPTERS}
