"""Row level security on Supabase, whichever way the schema got there.

Supabase publishes the public schema through its Data API to the `anon` and
`authenticated` roles. Spanlens never uses that API, so every table gets RLS
with no policies: the API sees nothing, while the role Spanlens connects as
owns the tables and is not restricted by RLS. On a PostgreSQL without those
roles nothing changes (there an app role that does not own the tables would
otherwise be locked out).
"""
from __future__ import annotations

SUPABASE_ROLES_SQL = "SELECT 1 FROM pg_roles WHERE rolname IN ('anon', 'authenticated') LIMIT 1"


def is_supabase(connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(SUPABASE_ROLES_SQL)
        return cursor.fetchone() is not None


def lock_down(connection) -> list[str]:
    """Enable RLS on every table of this schema that lacks it; returns their names."""
    if not is_supabase(connection):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity "
            "AND pg_get_userbyid(c.relowner) = current_user"
        )
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(f"ALTER TABLE {connection.ops.quote_name(table)} ENABLE ROW LEVEL SECURITY")
    return tables


def after_migrate(sender, using="default", **kwargs) -> None:
    # post_migrate is sent once per app after all migrations ran: act once.
    if sender.name != "spanlens.core":
        return
    from django.db import connections

    lock_down(connections[using])
