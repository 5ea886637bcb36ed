"""Spanlens: the server (settings, ASGI entry, shared core) and the Python SDK.

Nothing here imports Django, so apps can `import spanlens.openai` without it.
"""
