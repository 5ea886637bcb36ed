"""supabase/init.sql from the Django migrations: one idempotent SQL file.

The migrations are really applied, into a throwaway PostgreSQL schema, and every
statement they execute is captured with its parameters inlined. That covers
schema changes and data migrations (the seeded model prices) alike, for every
installed app, so re-running the export after new migrations is all it takes.

Re-running the file is safe twice over: each migration's statements sit in a
DO block that runs only when django_migrations does not list it yet (and then
records it, so `manage.py migrate` afterwards has nothing to do), and inside
it CREATE TABLE / INDEX and ADD COLUMN use IF NOT EXISTS, ADD CONSTRAINT
ignores "already exists".
"""
from __future__ import annotations

import re
import secrets
from datetime import date, datetime

from spanlens.core.rls import SUPABASE_ROLES_SQL

HEADER = """\
-- Spanlens PostgreSQL schema (Supabase or any PostgreSQL 13+).
-- Generated from the Django migrations by `python manage.py export_schema`; do not edit.
-- Idempotent: every migration runs once, guarded by django_migrations; re-running is safe.
-- Apply: Supabase → SQL Editor → New query → paste → Run,
--    or: psql "postgresql://postgres:<password>@db.<ref>.supabase.co:5432/postgres" -f supabase/init.sql
"""
TAG = "$spanlens$"
NOW = "'__spanlens_now__'"
_KEEP = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "COMMENT")
_RETURNING = re.compile(r"\s+RETURNING\s+[\w\".,\s]+$", re.S)


class Migration:
    def __init__(self, app: str, name: str):
        self.app, self.name = app, name
        self.statements: list[str] = []


def export(connection) -> str:
    """Apply every migration into a fresh schema of `connection` (PostgreSQL) and
    return the SQL that did it. The schema is dropped afterwards."""
    if connection.vendor != "postgresql":
        raise RuntimeError("export_schema needs PostgreSQL: set DATABASE_URL=postgresql://…")
    schema = f"spanlens_export_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
        cursor.execute(f'SET search_path TO "{schema}"')
    try:
        prelude, migrations = _capture(connection)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET search_path TO DEFAULT")
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return render(prelude, migrations)


def _capture(connection) -> tuple[list[str], list[Migration]]:
    from django.db.migrations.executor import MigrationExecutor

    prelude: list[str] = []
    migrations: list[Migration] = []
    current: list[Migration | None] = [None]

    def progress(action, migration=None, fake=False):
        if action == "apply_start":
            current[0] = Migration(migration.app_label, migration.name)
            migrations.append(current[0])
        elif action == "apply_success":
            current[0] = None

    import psycopg

    # A cursor of its own: mogrify on Django's would drop the results it is about to fetch.
    mogrifier = psycopg.ClientCursor(connection.connection)

    def capture(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        for one in (params if many else [params]):
            statement = _inline(mogrifier, sql, one)
            if statement is None:
                continue
            (current[0].statements if current[0] else prelude).append(statement)
        return result

    connection.ensure_connection()
    executor = MigrationExecutor(connection, progress)
    targets = executor.loader.graph.leaf_nodes()
    with connection.execute_wrapper(capture):
        executor.migrate(targets)
    return prelude, migrations


def _inline(cursor, sql: str, params) -> str | None:
    text = sql.strip().rstrip(";")
    first = text.split(None, 1)[0].upper() if text else ""
    if first not in _KEEP or '"django_migrations"' in text and first == "INSERT":
        return None
    if params:
        # Timestamps (auto_now, defaults) would change the file on every export:
        # they become now(), or PostgreSQL's 'now' input inside arrays (bulk inserts).
        params = [_timeless(p) for p in params] if isinstance(params, (list, tuple)) else params
        text = cursor.mogrify(text, params)
        text = text.replace(f"'{NOW}'", "now()").replace(NOW, "now()")
    return text


def _timeless(value):
    if isinstance(value, (datetime, date)):
        return NOW
    if isinstance(value, list):
        return ["now" if isinstance(v, (datetime, date)) else v for v in value]
    return value


def idempotent(statement: str) -> str:
    s = re.sub(r"^CREATE TABLE (?!IF NOT EXISTS)", "CREATE TABLE IF NOT EXISTS ", statement)
    s = re.sub(r"^CREATE (UNIQUE )?INDEX (?!IF NOT EXISTS)", r"CREATE \1INDEX IF NOT EXISTS ", s)
    s = re.sub(r"^CREATE EXTENSION (?!IF NOT EXISTS)", "CREATE EXTENSION IF NOT EXISTS ", s)
    s = re.sub(r'^(ALTER TABLE "[^"]+" ADD COLUMN) (?!IF NOT EXISTS)', r"\1 IF NOT EXISTS ", s)
    if s.startswith("INSERT"):
        s = _RETURNING.sub("", s)
    if re.match(r'^ALTER TABLE "[^"]+" ADD CONSTRAINT', s):
        return (f"BEGIN\n    {s};\n  EXCEPTION WHEN duplicate_object OR duplicate_table "
                "OR invalid_table_definition THEN NULL;\n  END;")
    return s + ";"


RLS_NOTE = """
-- Supabase publishes the public schema through its Data API to the anon and
-- authenticated roles. Row level security without policies closes that door;
-- the role Spanlens connects as owns these tables, and owners bypass RLS.
-- Only where those roles exist (see spanlens/core/rls.py).
"""


def _tables(prelude: list[str], migrations: list[Migration]) -> list[str]:
    statements = prelude + [st for m in migrations for st in m.statements]
    names = []
    for statement in statements:
        match = re.match(r'^CREATE TABLE (?:IF NOT EXISTS )?"([^"]+)"', statement)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def render(prelude: list[str], migrations: list[Migration]) -> str:
    out = [HEADER]
    for statement in prelude:
        if statement.upper().startswith("CREATE"):
            out.append(idempotent(statement) + "\n")
    for migration in migrations:
        app, name = _quote(migration.app), _quote(migration.name)
        out.append(f"\n-- {migration.app}.{migration.name}\nDO {TAG}\nBEGIN\n"
                   f'IF NOT EXISTS (SELECT 1 FROM "django_migrations" WHERE "app" = {app} AND "name" = {name}) THEN\n')
        for statement in migration.statements:
            if TAG in statement:
                raise RuntimeError(f"{migration.app}.{migration.name} contains {TAG}; pick another tag")
            out.append("  " + idempotent(statement).replace("\n", "\n  ") + "\n")
        out.append(f'  INSERT INTO "django_migrations" ("app", "name", "applied") VALUES ({app}, {name}, now());\n'
                   f"END IF;\nEND\n{TAG};\n")
    tables = ", ".join(_quote(t) for t in _tables(prelude, migrations))
    out.append(f"{RLS_NOTE}DO {TAG}\nDECLARE t text;\nBEGIN\n"
               f"IF EXISTS ({SUPABASE_ROLES_SQL}) THEN\n"
               f"  FOREACH t IN ARRAY ARRAY[{tables}] LOOP\n"
               "    IF to_regclass(format('%I', t)) IS NOT NULL THEN\n"
               "      EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);\n"
               f"    END IF;\n  END LOOP;\nEND IF;\nEND\n{TAG};\n")
    return "".join(out)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
