"""The code blocks of the documentation, as a reader would copy them.

Every ```python and ```bash block in docs/ and the README is an example. A block is run unless the HTML
comment right above it says why it cannot be here:

    <!-- example: not run (needs Docker) -->

A block marked `<!-- example: continues -->` runs after the page's previous Python block,
in the same script, as a reader pasting both would.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"(?P<before>(?:<!--[^\n]*-->\n)?)^```(?P<lang>python|bash)[^\n]*\n(?P<code>.*?)^```",
                    re.S | re.M)
_NOT_RUN = re.compile(r"<!-- example: not run \((?P<why>[^)]+)\) -->")


@dataclass
class Example:
    page: str
    line: int
    lang: str
    code: str
    not_run: str | None  # the reason, when the block cannot run here
    continues: bool

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def examples() -> list[Example]:
    found: list[Example] = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        text = page.read_text()
        for match in _BLOCK.finditer(text):
            before = match.group("before")
            why = _NOT_RUN.search(before)
            found.append(Example(
                page=str(page.relative_to(DOCS if page.parent != ROOT else ROOT)), line=text.count("\n", 0, match.start("code")), lang=match.group("lang"),
                code=match.group("code"), not_run=why.group("why") if why else None,
                continues="example: continues" in before,
            ))
    return found


def scripts(page_examples: list[Example]) -> list[Example]:
    """The page's Python blocks with each `continues` block joined onto the one before it."""
    out: list[Example] = []
    for example in page_examples:
        if example.continues and out and out[-1].lang == example.lang == "python":
            previous = out[-1]
            out[-1] = Example(previous.page, previous.line, "python", previous.code + "\n" + example.code,
                              previous.not_run or example.not_run, False)
        else:
            out.append(example)
    return out


def substitute(code: str, values: dict[str, str]) -> str:
    """The placeholders a reader replaces by hand, replaced the same way."""
    for placeholder, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
        code = code.replace(placeholder, value)
    return code
