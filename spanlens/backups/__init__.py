"""Backups of an installation: the relational database and the request log, and restoring them."""
