"""The `spanlens` command.

    spanlens init --server-url http://localhost:8000   # connect this project to Spanlens
    spanlens test                                      # one call through the proxy, and its link

With the server installed (spanlens-server), every other command is one of its
management commands under a nicer name: `spanlens serve web --migrate`,
`spanlens check-env --json`.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

SDK_COMMANDS = ("init", "test")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SDK_COMMANDS:
        return _sdk(argv)
    if argv and not argv[0].startswith("-") and _server_installed():
        return _server(argv)
    _parser().print_help()
    if argv and argv[0] not in ("-h", "--help"):
        print(f"\nunknown command {argv[0]!r}" + ("" if _server_installed() else
              " (server commands need the Spanlens server installed)"), file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spanlens", description="Spanlens for Python.")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="connect this project to a Spanlens server",
                               description="Check the key, point OpenAI / Anthropic clients at the proxy "
                                           "(shows the diff and asks first), and write .env.")
    init.add_argument("--server-url", required=True, help="the Spanlens server, e.g. http://localhost:8000")
    init.add_argument("--api-key", help="a Spanlens API key (default: SPANLENS_API_KEY, or asked)")
    init.add_argument("--path", default=".", help="the project folder (default: here)")
    init.add_argument("--yes", "-y", action="store_true", help="write without asking")
    test = commands.add_parser("test", help="send one call through the proxy and print the link to its row")
    test.add_argument("--provider", choices=("openai", "anthropic"), default="openai")
    test.add_argument("--model", help="the model to call (default: a small one of the provider's)")
    test.add_argument("--server-url", help="default: SPANLENS_BASE_URL (from the environment or .env)")
    test.add_argument("--api-key", help="default: SPANLENS_API_KEY (from the environment or .env)")
    return parser


def _sdk(argv: list[str]) -> int:
    from spanlens.wizard.server import SetupError

    args = _parser().parse_args(argv)
    try:
        return _init(args) if args.command == "init" else _test(args)
    except SetupError as exc:
        print(f"spanlens {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _init(args: argparse.Namespace) -> int:
    from spanlens.wizard import envfile, server

    base_url = args.server_url.rstrip("/")
    project = Path(args.path).resolve()
    api_key = args.api_key or os.environ.get("SPANLENS_API_KEY") or _ask_key()
    check = server.check_key(base_url, api_key)
    print(f"✓ {base_url} accepts the key")
    if check.note:
        print(f"! {check.note}")

    try:
        from spanlens.wizard import rewrite
    except ImportError as exc:
        changes, unreadable = [], []
        print(f"! {exc}; skipping the code rewrite")
    else:
        changes, unreadable = rewrite.plan(project)
    for path, reason in unreadable:
        print(f"! skipped {path}: {reason}")

    env_path = project / ".env"
    before = env_path.read_text(encoding="utf-8") if env_path.exists() else ""
    after = envfile.updated(before, {"SPANLENS_BASE_URL": base_url, "SPANLENS_API_KEY": api_key})

    for change in changes:
        sys.stdout.write(change.diff(project))
    if after != before:
        import difflib

        sys.stdout.write(envfile.masked("".join(difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), fromfile="a/.env", tofile="b/.env")),
            api_key))
    if not changes and after == before:
        print("Nothing to change: the project already goes through Spanlens.")
        return 0
    calls = sum(c.calls for c in changes)
    summary = f"{calls} client constructor(s) in {len(changes)} file(s)" if changes else "no client constructors"
    if not args.yes and not _confirm(f"Apply: {summary}, and .env? [y/N] "):
        print("Nothing written.")
        return 1
    for change in changes:
        change.path.write_text(change.after, encoding="utf-8")
    env_path.write_text(after, encoding="utf-8")
    print(f"✓ wrote {summary}" + (", .env" if after != before else ""))
    if not envfile.ignored_by_git(project):
        print("! add .env to .gitignore: it holds your Spanlens key")
    if changes:
        print("  The rewritten code reads SPANLENS_BASE_URL and SPANLENS_API_KEY from the environment:"
              " load .env at start (python-dotenv) or export them.")
    print("Next: spanlens test")
    return 0


def _test(args: argparse.Namespace) -> int:
    from spanlens.wizard import server

    dotenv = _read_dotenv(Path(".env"))
    base_url = (args.server_url or os.environ.get("SPANLENS_BASE_URL") or dotenv.get("SPANLENS_BASE_URL")
                or "http://localhost:8000").rstrip("/")
    api_key = args.api_key or os.environ.get("SPANLENS_API_KEY") or dotenv.get("SPANLENS_API_KEY")
    if not api_key:
        raise server.SetupError("no key: run spanlens init, set SPANLENS_API_KEY, or pass --api-key")
    result = server.send_test_call(base_url, api_key, provider=args.provider, model=args.model)
    mark = "✓" if result.status < 400 else "✗"
    print(f"{mark} {args.provider} answered {result.status}" + (f": {result.reply}" if result.reply else ""))
    print(f"  {result.link}")
    return 0 if result.status < 400 else 1


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        name, eq, value = line.strip().removeprefix("export ").partition("=")
        if eq and name and not name.startswith("#"):
            values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def _ask_key() -> str:
    if not sys.stdin.isatty():
        from spanlens.wizard.server import SetupError

        raise SetupError("no key: pass --api-key or set SPANLENS_API_KEY")
    return getpass.getpass("Spanlens API key (sl_live_…, Settings → API keys): ").strip()


def _confirm(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:  # no terminal (CI, a pipe): never write without an answer
        return False


def _server_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("spanlens.settings") is not None and find_spec("django") is not None


def _server(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
    # Dashes read better on a command line; Django command names use underscores.
    # Rewritten in sys.argv itself because settings look at it (check_env).
    sys.argv = ["spanlens", argv[0].replace("-", "_"), *argv[1:]]
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
