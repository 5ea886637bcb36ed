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
