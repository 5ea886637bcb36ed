"""The `.env` lines `spanlens init` writes: SPANLENS_BASE_URL and SPANLENS_API_KEY.

Other lines (comments, blank lines, other variables) are kept as they are; a variable
that is already there is replaced in place rather than added twice.
"""
from __future__ import annotations

import re
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def updated(text: str, values: dict[str, str]) -> str:
    """`text` (a .env file's content) with each of `values` set."""
    lines = text.splitlines()
    pending = dict(values)
    for i, line in enumerate(lines):
        match = _LINE.match(line)
        if match and match.group(1) in pending:
            name = match.group(1)
            lines[i] = f"{name}={_quoted(pending.pop(name))}"
    lines.extend(f"{name}={_quoted(value)}" for name, value in pending.items())
    return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_./:@+-]*", value) else '"' + value.replace('"', '\\"') + '"'


def masked(text: str, secret: str) -> str:
    """The same text with the key shortened, for showing on screen."""
    return text.replace(secret, secret[:12] + "…") if secret else text


def ignored_by_git(project: Path) -> bool:
    """Whether the project's .gitignore lists .env (keys do not belong in the repository)."""
    gitignore = project / ".gitignore"
    if not gitignore.exists():
        return False
    patterns = {line.strip() for line in gitignore.read_text(encoding="utf-8", errors="replace").splitlines()}
    return bool(patterns & {".env", "/.env", ".env*", "*.env", ".env.*"})
