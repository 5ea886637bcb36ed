"""`manage.py check_env`: is this environment ready to run Spanlens?

settings.py raises ConfigError at import when ENCRYPTION_KEY is missing outside
the embedded default. For this one command settings defer that error (see
CHECKING_ENV there), and the checks read os.environ (plus a .env file)
themselves, so the report lists every problem, that one included.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand

from spanlens.core import envcheck

MARKS = {envcheck.OK: "✓", envcheck.WARN: "!", envcheck.ERROR: "✗"}


class Command(BaseCommand):
    help = "Check every required variable (present, valid, reachable). Exit 0 when all is well, 1 otherwise."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable report (CI)")
        parser.add_argument("--quiet", action="store_true", help="show warnings and errors only")
        parser.add_argument(
            "--env-file", default=None,
            help="read variables from this file too (default: ./.env when present; the process environment wins)",
        )

    def handle(self, *args, json: bool, quiet: bool, env_file: str | None, **options):
        env, source = _environment(env_file)
        checks = envcheck.run_all(env)
        errors = sum(c.status == envcheck.ERROR for c in checks)
        warnings = sum(c.status == envcheck.WARN for c in checks)
        if json:
            self.stdout.write(_dumps({
                "ok": errors == 0, "errors": errors, "warnings": warnings,
                "mode": "embedded" if envcheck.is_embedded(env) else "production",
                "env_file": source, "checks": [c.as_dict() for c in checks],
            }))
        else:
            self._print(checks, env, source, quiet, errors, warnings)
        if errors:
            raise SystemExit(1)

    def _print(self, checks, env, source, quiet, errors, warnings) -> None:
        if not quiet:
            mode = "embedded default" if envcheck.is_embedded(env) else "production (DATABASE_URL / CLICKHOUSE_URL set)"
            self.stdout.write(f"Spanlens environment check: {mode}" + (f", read {source}" if source else ""))
        width = max(len(c.name) for c in checks)
        for check in checks:
            if quiet and check.status == envcheck.OK:
                continue
            latency = f" ({check.latency_ms:g} ms)" if check.latency_ms is not None else ""
            line = f"  {MARKS[check.status]} {check.name.ljust(width)}  {check.message}{latency}"
            style = {envcheck.OK: self.style.SUCCESS, envcheck.WARN: self.style.WARNING}.get(check.status, self.style.ERROR)
            self.stdout.write(style(line))
            if check.fix and check.status != envcheck.OK:
                self.stdout.write(f"    {' ' * width}  fix: {check.fix}")
        if errors:
            self.stdout.write(self.style.ERROR(
                f"{errors} error(s), {warnings} warning(s). Fix the errors and run `python manage.py check_env` again."
            ))
        elif not quiet or warnings:
            self.stdout.write(self.style.SUCCESS(f"All required settings are valid ({warnings} warning(s))."))


def _environment(env_file: str | None) -> tuple[dict[str, str], str | None]:
    path = Path(env_file) if env_file else Path(".env")
    if not path.exists():
        if env_file:
            raise SystemExit(f"--env-file {env_file}: no such file")
        return dict(os.environ), None
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None}
    return {**values, **os.environ}, str(path)


def _dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
