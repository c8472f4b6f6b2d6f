"""Quoting of SQL identifiers for the statements that SQLAlchemy does not build for us."""

from __future__ import annotations


def quote_sqlite(name: str) -> str:
    """Quote an identifier for SQLite (double quotes, inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_pg(*parts: str | None) -> str:
    """Quote a possibly schema-qualified PostgreSQL name, skipping absent parts."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts if part)
