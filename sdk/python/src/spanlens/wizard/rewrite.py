"""The code change `spanlens init` proposes: provider client constructors pointed at the proxy.

A syntax-tree rewrite (libcst), so comments, formatting and every other argument stay as
they were, and only calls that really construct the provider's client are touched: the
name is resolved through the file's imports (`from openai import OpenAI as Client` counts,
a local class that happens to be called OpenAI does not).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

try:
    import libcst as cst
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor
    from libcst.metadata import MetadataWrapper, QualifiedNameProvider
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("spanlens init rewrites code with libcst: pip install 'spanlens-sdk[cli]'") from exc

# Qualified constructor name -> the proxy path under SPANLENS_BASE_URL.
CONSTRUCTORS = {
    "openai.OpenAI": "/proxy/openai/v1",
    "openai.AsyncOpenAI": "/proxy/openai/v1",
    "anthropic.Anthropic": "/proxy/anthropic",
    "anthropic.AsyncAnthropic": "/proxy/anthropic",
}
# Folders that hold someone else's code or build output, never the project's own.
SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", ".env", "node_modules", "site-packages", "__pycache__",
             "build", "dist", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
MARKER = "SPANLENS_BASE_URL"


@dataclass(frozen=True)
class FileChange:
    path: Path
    before: str
    after: str
    calls: int

    def diff(self, root: Path) -> str:
        name = str(self.path.relative_to(root)) if self.path.is_relative_to(root) else str(self.path)
        return "".join(difflib.unified_diff(
            self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
            fromfile=f"a/{name}", tofile=f"b/{name}"))


class _PointAtProxy(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        names = {q.name for q in self.get_metadata(QualifiedNameProvider, original.func, set())}
        path = next((CONSTRUCTORS[n] for n in names if n in CONSTRUCTORS), None)
        if path is None or _already_proxied(updated):
            return updated
        self.calls += 1
        base_url = cst.parse_expression(f'os.environ["{MARKER}"] + "{path}"')
        api_key = cst.parse_expression('os.environ["SPANLENS_API_KEY"]')
        kept = [a for a in updated.args if not (a.keyword and a.keyword.value in ("base_url", "api_key"))]
        # New arguments take the call's own separator, so a call written one argument a
        # line stays that way; the last argument keeps the call's trailing comma, if any.
        first = updated.args[0].comma if updated.args else cst.MaybeSentinel.DEFAULT
        separator = first if isinstance(first, cst.Comma) else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        trailing = updated.args[-1].comma if updated.args else cst.MaybeSentinel.DEFAULT
        args = [_keyword("base_url", base_url), _keyword("api_key", api_key), *kept]
        for i, arg in enumerate(args):
            if i == len(args) - 1:
                args[i] = arg.with_changes(comma=trailing)
            elif not isinstance(arg.comma, cst.Comma):
                args[i] = arg.with_changes(comma=separator)
        return updated.with_changes(args=args)


def _keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    no_space = cst.SimpleWhitespace("")
    return cst.Arg(value=value, keyword=cst.Name(name),
                   equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space))


def _already_proxied(call: cst.Call) -> bool:
    for arg in call.args:
        if arg.keyword and arg.keyword.value == "base_url":
            return MARKER in cst.Module([]).code_for_node(arg.value)
    return False


def rewrite_source(source: str) -> tuple[str, int]:
    """The source with every provider client constructor pointed at the proxy, and how many."""
    module = cst.parse_module(source)
    transformer = _PointAtProxy()
    changed = MetadataWrapper(module).visit(transformer)
    if transformer.calls == 0:
        return source, 0
    context = CodemodContext()
    AddImportsVisitor.add_needed_import(context, "os")
    changed = AddImportsVisitor(context).transform_module(changed)
    return changed.code, transformer.calls


def python_files(root: Path):
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts[:-1]):
            yield path


def plan(root: Path) -> tuple[list[FileChange], list[tuple[Path, str]]]:
    """Changes for every file that constructs a provider client, and the files that would not parse."""
    changes, unreadable = [], []
    for path in python_files(root):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            unreadable.append((path, str(exc)))
            continue
        if "OpenAI" not in source and "Anthropic" not in source:  # cheap skip before parsing
            continue
        try:
            after, calls = rewrite_source(source)
        except cst.ParserSyntaxError as exc:
            unreadable.append((path, f"not valid Python: {exc.message} (line {exc.raw_line})"))
            continue
        if calls:
            changes.append(FileChange(path, source, after, calls))
    return changes, unreadable
