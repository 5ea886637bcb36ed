"""supabase/init.sql: current with the migrations, and safe to apply twice on
a fresh PostgreSQL schema, after which Django sees nothing left to migrate."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.db import connection

from tests.procs import ROOT, base_env

INIT_SQL = ROOT / "supabase" / "init.sql"
REGENERATE = "make schema"  # = DATABASE_URL=postgresql://… python manage.py export_schema


@pytest.fixture
def pg_url(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    return os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test")


@pytest.fixture
def supabase_roles(pg_url):
    """Supabase's Data API roles, as a Supabase project has them (cluster-wide, kept:
    NOLOGIN roles that own and can do nothing)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE anon NOLOGIN; EXCEPTION WHEN duplicate_object "
                     "OR unique_violation THEN NULL; END $$")


@pytest.fixture
def fresh_schema(pg_url):
    """A throwaway schema in the PostgreSQL the tests use, dropped afterwards."""
    name = f"initsql_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def test_init_sql_is_current_with_the_migrations(tmp_path, pg_url):
    out = tmp_path / "init.sql"
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "export_schema", "--output", str(out)],
        env=base_env(tmp_path, DATABASE_URL=pg_url), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text() == INIT_SQL.read_text(), (
        f"supabase/init.sql is stale: regenerate it with `{REGENERATE}` and commit it"
    )


def test_init_sql_applies_twice_and_leaves_nothing_to_migrate(tmp_path, pg_url, supabase_roles, fresh_schema):
    sql = INIT_SQL.read_text()
    with psycopg.connect(pg_url, autocommit=True, options=f"-c search_path={fresh_schema}") as conn:
        conn.execute(sql)
        conn.execute(sql)
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [fresh_schema])}
        prices = conn.execute("SELECT count(*) FROM core_modelprice").fetchone()[0]
        recorded = conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0]
        without_rls = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' AND NOT c.relrowsecurity", [fresh_schema])]
        # The owner (the role Spanlens connects as) still reads and writes.
        conn.execute("INSERT INTO core_organization (id, name, plan, created_at) "
                     "VALUES (gen_random_uuid(), 'Acme', 'team', now())")
    assert {"core_organization", "core_membership", "core_invitation", "core_auditevent"} <= tables
    assert prices > 100, "the seeded model prices come along"
    assert recorded == INIT_SQL.read_text().count('INSERT INTO "django_migrations"')
    assert without_rls == [], "Supabase's Data API would expose these tables"
    # Django, pointed at that schema, finds every migration applied.
    url = f"{pg_url}?options=-c%20search_path%3D{fresh_schema}"
    check = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--check"],
        env=base_env(tmp_path, DATABASE_URL=url), capture_output=True, text=True, timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_it_refuses_anything_but_postgresql(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "export_schema", "--output", "-"],
        env=base_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "needs PostgreSQL" in result.stderr


def test_migrate_on_supabase_turns_on_row_level_security_too(tmp_path, pg_url, supabase_roles, fresh_schema):
    url = f"{pg_url}?options=-c%20search_path%3D{fresh_schema}"
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=base_env(tmp_path, DATABASE_URL=url), capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'", [fresh_schema]).fetchall()
    assert rows and all(rls for _, rls in rows), [name for name, rls in rows if not rls]
