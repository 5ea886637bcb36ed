"""Backups without a server: the retention of scheduled backups, the manifest checks,
and the schedule being opt-in (the full backup and restore run in test_embedded_commands)."""
import json

import pytest

from spanlens.backups import services


def make_backup(folder, name):
    path = folder / name
    path.mkdir()
    (path / services.MANIFEST).write_text(json.dumps({"format": services.FORMAT}))
    return path


def test_retention_keeps_the_newest_backups_and_nothing_else_is_touched(tmp_path):
    names = [f"spanlens-20260101-00000{i}" for i in range(5)]
    for name in names:
        make_backup(tmp_path, name)
    (tmp_path / "spanlens-notes").mkdir()  # no manifest: not a backup
    (tmp_path / "other").mkdir()

    removed = services.prune(tmp_path, keep=2)

    assert sorted(p.name for p in removed) == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[3:], "spanlens-notes", "other"])


def test_a_folder_without_a_manifest_or_of_another_format_is_refused(tmp_path):
    with pytest.raises(services.BackupError, match="not a Spanlens backup"):
        services.read_manifest(tmp_path)
    (tmp_path / services.MANIFEST).write_text(json.dumps({"format": 99}))
    with pytest.raises(services.BackupError, match="format 99"):
        services.read_manifest(tmp_path)


def test_backup_refuses_a_folder_that_has_files(tmp_path, db):
    (tmp_path / "something").write_text("x")
    with pytest.raises(services.BackupError, match="not empty"):
        services.create_backup(tmp_path)


def test_the_schedule_is_opt_in():
    from spanlens.celery_app import app

    assert "backup" not in app.conf.beat_schedule


def test_on_postgresql_the_dump_restores_into_an_empty_database(live_db, org, project, tmp_path):
    """pg_dump's file from create_backup, restored with pg_restore into a scratch database."""
    import subprocess
    import uuid

    from django.db import connection

    from spanlens.core import services as core_services

    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    core_services.add_provider_key(project, "openai", "sk-proj-backedup000000000000", "prod")
    result = services.create_backup(tmp_path / "pg")
    assert result.manifest["database"]["file"] == "database.dump"
    assert result.manifest["request_log"]["kind"] == "chdb-native"

    settings_db = connection.settings_dict
    scratch = f"spanlens_restore_{uuid.uuid4().hex[:8]}"
    base = ["-h", settings_db["HOST"] or "127.0.0.1", "-p", str(settings_db["PORT"] or 5432)]
    if settings_db.get("USER"):
        base += ["-U", settings_db["USER"]]
    subprocess.run(["createdb", *base, scratch], check=True, capture_output=True)
    try:
        subprocess.run(["pg_restore", *base, "--no-owner", "--dbname", scratch, str(tmp_path / "pg" / "database.dump")],
                       check=True, capture_output=True)
        counted = subprocess.run(
            ["psql", *base, "-d", scratch, "-tAc",
             "SELECT (SELECT count(*) FROM core_organization) || ',' || (SELECT count(*) FROM core_providerkey)"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    finally:
        subprocess.run(["dropdb", *base, "--if-exists", scratch], capture_output=True)
    counts = result.manifest["database"]["counts"]
    assert counted == f"{counts['organizations']},{counts['provider_keys']}"
