"""The spans_refresh_trace_aggregates trigger (PostgreSQL only).

It recomputes a trace's aggregates on every span INSERT / UPDATE / DELETE, so
even writes that bypass the service layer keep traces exact. SQLite has no
equivalent; there services.recompute_trace_aggregates does the same sums (it
runs on both, with the same formula, see services._duration_ms).
"""
from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION spans_refresh_one_trace(tid uuid) RETURNS void AS $$
BEGIN
    -- Lock the trace first: the UPDATE below then runs with a fresh snapshot,
    -- so concurrent span writers to one trace serialise and never miss a row.
    PERFORM 1 FROM traces_trace WHERE id = tid FOR UPDATE;
    UPDATE traces_trace t SET
        span_count = agg.n,
        total_tokens = agg.tokens,
        total_cost_usd = agg.cost,
        duration_ms = CASE
            WHEN GREATEST(t.ended_at, agg.last_end) IS NULL THEN NULL
            ELSE GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (
                GREATEST(t.ended_at, agg.last_end) - LEAST(t.started_at, agg.first_start)
            )) * 1000))::bigint
        END
    FROM (
        SELECT count(s.id) AS n,
               COALESCE(sum(s.total_tokens), 0) AS tokens,
               COALESCE(sum(s.cost_usd), 0) AS cost,
               min(s.started_at) AS first_start,
               max(s.ended_at) AS last_end
        FROM traces_trace tt
        LEFT JOIN traces_span s
               ON s.trace_id = tt.id AND s.organization_id = tt.organization_id
        WHERE tt.id = tid
    ) agg
    WHERE t.id = tid;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION spans_refresh_trace_aggregates() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM spans_refresh_one_trace(OLD.trace_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.trace_id <> OLD.trace_id) THEN
        PERFORM spans_refresh_one_trace(NEW.trace_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS spans_refresh_trace_aggregates ON traces_span;
CREATE TRIGGER spans_refresh_trace_aggregates
    AFTER INSERT OR UPDATE OR DELETE ON traces_span
    FOR EACH ROW EXECUTE FUNCTION spans_refresh_trace_aggregates();
"""

DROP = """
DROP TRIGGER IF EXISTS spans_refresh_trace_aggregates ON traces_span;
DROP FUNCTION IF EXISTS spans_refresh_trace_aggregates();
DROP FUNCTION IF EXISTS spans_refresh_one_trace(uuid);
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
    dependencies = [("traces", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
