"""A side-by-side, line-by-line diff of two prompt versions (difflib)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from evals.models import PromptVersion


@dataclass(frozen=True)
class DiffRow:
    kind: str  # equal | replace | delete | insert
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def version_lines(version: PromptVersion) -> list[str]:
    """What a reader compares: the template (each chat message under its role), then the model config."""
    lines: list[str] = []
    if version.kind == "chat":
        for message in version.messages:
            lines.append(f"[{message['role']}]")
            lines.extend(message["content"].splitlines() or [""])
    else:
        lines.extend(version.template.splitlines())
    if version.model_config:
        lines.append("")
        lines.extend(f"# {key}: {value}" for key, value in sorted(version.model_config.items()))
    return lines


def side_by_side(old: list[str], new: list[str]) -> list[DiffRow]:
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(DiffRow("equal", i1 + k + 1, old[i1 + k], j1 + k + 1, new[j1 + k]) for k in range(i2 - i1))
            continue
        # A replaced block pairs its lines up; the longer side's extra lines stand alone.
        for k in range(max(i2 - i1, j2 - j1)):
            left = i1 + k if i1 + k < i2 else None
            right = j1 + k if j1 + k < j2 else None
            kind = "replace" if left is not None and right is not None else ("delete" if right is None else "insert")
            rows.append(DiffRow(kind, left + 1 if left is not None else None, old[left] if left is not None else "",
                                right + 1 if right is not None else None, new[right] if right is not None else ""))
    return rows


def diff_versions(old: PromptVersion, new: PromptVersion) -> list[DiffRow]:
    return side_by_side(version_lines(old), version_lines(new))
