"""The clustered form of our ClickHouse DDL, for CLICKHOUSE_CLUSTER.

The migrations in clickhouse/ are written for one node. On a cluster each table
becomes two: `<name>_local`, a ReplicatedMergeTree on every node (replicas of a
shard keep each other's copies), and `<name>`, a Distributed table over them, so
every query and insert keeps using the plain name. Everything runs ON CLUSTER, so
one `clickhouse_migrate` from any node sets up all of them.

Rows are sharded by organization: one tenant's reads hit one shard, and tenants
spread across shards.
"""
from __future__ import annotations

import re

# `CREATE TABLE [IF NOT EXISTS] name` … `ENGINE = [Replacing|Summing|…]MergeTree[(args)]`
_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?", re.I)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*)MergeTree(?:\s*\(([^)]*)\))?", re.I)
_ALTER = re.compile(r"^\s*ALTER\s+TABLE\s+`?(\w+)`?", re.I)
# `CREATE MATERIALIZED VIEW [IF NOT EXISTS] name TO target AS … FROM source …`
_VIEW = re.compile(r"^\s*CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?\s+TO\s+`?(\w+)`?\s+AS\b", re.I)
_DROP_VIEW = re.compile(r"^\s*DROP\s+VIEW\s+(IF\s+EXISTS\s+)?`?(\w+)`?\s*$", re.I)
_FROM = re.compile(r"\bFROM\s+`?(\w+)`?", re.I)
# Column changes must reach the Distributed table too; index / projection / TTL
# changes concern only the tables that hold data.
_COLUMN_CHANGE = re.compile(r"\b(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)


def shard_key(create_statement: str) -> str:
    return "cityHash64(organization_id)" if re.search(r"\borganization_id\b", create_statement) else "rand()"


def clustered(statement: str, *, cluster: str, database: str) -> list[str]:
    """The statements that do on a cluster what `statement` does on one node."""
    on = f"ON CLUSTER '{cluster}'"
    view = _VIEW.match(statement)
    if view:
        # Every node sums the rows its own shard receives into its own part of the target:
        # the view reads and writes the local tables, and reads go through the Distributed one.
        select = _FROM.sub(lambda m: f"FROM {m.group(1)}_local", statement[view.end():], count=1)
        return [f"CREATE MATERIALIZED VIEW {view.group(1) or ''}{view.group(2)} {on} TO {view.group(3)}_local AS{select}"]
    drop = _DROP_VIEW.match(statement)
    if drop:  # a materialized view is one object on every node
        return [f"DROP VIEW {drop.group(1) or ''}{drop.group(2)} {on}"]
    create = _CREATE.match(statement)
    if create:
        name = create.group(2)
        engine = _ENGINE.search(statement)
        if engine is None:  # e.g. a view: the same object on every node
            return [_CREATE.sub(lambda m: f"{m.group(0)} {on}", statement, count=1)]
        local = f"{name}_local"
        args = (engine.group(2) or "").strip()
        zk_path = f"'/clickhouse/tables/{{shard}}/{database}/{local}'"
        replicated = f"ENGINE = Replicated{engine.group(1)}MergeTree({zk_path}, '{{replica}}'{', ' + args if args else ''})"
        local_sql = statement[: engine.start()] + replicated + statement[engine.end():]
        local_sql = _CREATE.sub(lambda m: f"CREATE TABLE {m.group(1) or ''}{local} {on}", local_sql, count=1)
        distributed = (
            f"CREATE TABLE {create.group(1) or ''}{name} {on} AS {local} "
            f"ENGINE = Distributed('{cluster}', '{database}', '{local}', {shard_key(statement)})"
        )
        return [local_sql, distributed]
    alter = _ALTER.match(statement)
    if alter:
        name = alter.group(1)
        rest = statement[alter.end():]
        local_sql = f"ALTER TABLE {name}_local {on}{rest}"
        if _COLUMN_CHANGE.search(rest):
            return [local_sql, f"ALTER TABLE {name} {on}{rest}"]
        return [local_sql]
    raise ValueError(f"no clustered form for this statement; write one in spanlens/requestlog/cluster.py: "
                     f"{statement[:80]!r}")
