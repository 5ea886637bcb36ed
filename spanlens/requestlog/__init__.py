"""The request log in ClickHouse. The only package that talks to ClickHouse.

engine.py picks chDB (embedded) or a ClickHouse server and runs SQL on it;
queries.py holds every statement, each scoped by organization_id;
writer.py batches rows off the proxy's hot path; migrate.py applies clickhouse/*.sql.
"""
