"""A trigger that refuses any change to a prompt version's content (PostgreSQL only).

The model and its queryset refuse it in Python; this also stops raw SQL and the
base manager. Allowed: archiving (archived_at) and the author becoming NULL
when their user is deleted. SQLite relies on the Python guard alone.
"""
from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION evals_promptversion_immutable() RETURNS trigger AS $$
BEGIN
    IF (NEW.id, NEW.organization_id, NEW.prompt_id, NEW.version, NEW.kind, NEW.template, NEW.messages::text,
        NEW.variables::text, NEW.model_config::text, NEW.commit_note, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.organization_id, OLD.prompt_id, OLD.version, OLD.kind, OLD.template, OLD.messages::text,
        OLD.variables::text, OLD.model_config::text, OLD.commit_note, OLD.created_at)
       OR (NEW.author_id IS DISTINCT FROM OLD.author_id AND NEW.author_id IS NOT NULL) THEN
        RAISE EXCEPTION 'prompt versions are immutable; create a new version instead'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS evals_promptversion_immutable ON evals_promptversion;
CREATE TRIGGER evals_promptversion_immutable BEFORE UPDATE ON evals_promptversion
    FOR EACH ROW EXECUTE FUNCTION evals_promptversion_immutable();
"""

DROP = r"""
DROP TRIGGER IF EXISTS evals_promptversion_immutable ON evals_promptversion;
DROP FUNCTION IF EXISTS evals_promptversion_immutable();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("evals", "0002_prompts")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
