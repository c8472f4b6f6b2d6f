"""Reading the legacy source in storage order, in batches, without holding a table in memory."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from .identifiers import quote_sqlite

Row = tuple[Any, ...]


def connect_read_only(path: str | Path, text_factory: Any = str, *, any_thread: bool = False) -> sqlite3.Connection:
    """Open a SQLite file read-only: a migration and its checks never write to the source."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=not any_thread)
    connection.text_factory = text_factory
    return connection


class SqliteSource:
    """A legacy SQLite database, read-only; every row comes with its rowid first.

    Rows are read in rowid order, the storage order the rules refer to ("the first in the
    source's storage order"), and batches resume after a given rowid, which is what the
    checkpoints record.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = make_url(url).database or ""
        # Batches are read in a worker thread while the main thread loads (engine.load).
        self._connection = connect_read_only(self.path, any_thread=True)
        self._raw: sqlite3.Connection | None = None
        """the same file read with bytes for text, opened at the first row that needs it"""

    def close(self) -> None:
        """Close the connections."""
        self._connection.close()
        if self._raw is not None:
            self._raw.close()

    def tables(self) -> list[str]:
        """Return the names of the source's tables."""
        cursor = self._connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [name for (name,) in cursor]

    def columns(self, table: str) -> list[tuple[str, str, bool]]:
        """Return (name, declared type, NOT NULL) for each column, in the table's order."""
        cursor = self._connection.execute(f"PRAGMA table_info({quote_sqlite(table)})")
        return [(name, declared, bool(notnull)) for _, name, declared, notnull, _, _ in cursor]

    def count(self, table: str, up_to_rowid: int | None = None) -> int:
        """Return the number of rows of `table` (those up to a rowid, when given)."""
        query = f"SELECT count(*) FROM {quote_sqlite(table)}"
        if up_to_rowid is None:
            (count,) = self._connection.execute(query).fetchone()
        else:
            (count,) = self._connection.execute(query + " WHERE rowid <= ?", (up_to_rowid,)).fetchone()
        return int(count)

    def largest_rowid(self, table: str) -> int:
        """Return the largest rowid of `table` (0 when empty): its largest id for an id table."""
        (largest,) = self._connection.execute(f"SELECT max(rowid) FROM {quote_sqlite(table)}").fetchone()
        return int(largest or 0)

    def batches(self, table: str, columns: Sequence[str], after_rowid: int | None, size: int) -> Iterator[list[Row]]:
        """Yield batches of (rowid, *columns) in rowid order, after `after_rowid` (None: from the first)."""
        while True:
            batch = self._read_batch(table, columns, after_rowid, size)
            if not batch:
                return
            yield batch
            after_rowid = batch[-1][0]

    def _read_batch(self, table: str, columns: Sequence[str], after_rowid: int | None, size: int) -> list[Row]:
        """Read up to `size` rows after `after_rowid`; a row with undecodable text comes as bytes.

        sqlite3 raises at the first row holding text that is not valid UTF-8, keeping the
        rows before it; that one row is read again as bytes and the read resumes after it,
        so a bad row costs one small query, not a slow re-read of its whole batch.
        """
        selected = ", ".join(map(quote_sqlite, columns))
        rows: list[Row] = []
        while True:
            start = len(rows)
            where, after = _after(after_rowid)
            query = f"SELECT rowid, {selected} FROM {quote_sqlite(table)} {where} ORDER BY rowid LIMIT ?"
            try:
                rows.extend(self._connection.execute(query, (*after, size - start)))
                return rows
            except sqlite3.OperationalError as error:
                if "decode" not in str(error).lower():
                    raise
            where, after = _after(rows[-1][0] if len(rows) > start else after_rowid)
            (bad,) = self._connection.execute(
                f"SELECT rowid FROM {quote_sqlite(table)} {where} ORDER BY rowid LIMIT 1", after
            ).fetchone()
            rows.extend(self._fetch_undecodable(table, columns, "rowid = ?", (bad,)))
            after_rowid = bad
            if len(rows) >= size:
                return rows

    def rows(self, table: str, columns: Sequence[str], rowids: Sequence[int]) -> list[Row]:
        """Return (rowid, *columns) for the given rowids, in rowid order."""
        found: list[Row] = []
        for start in range(0, len(rowids), 500):
            chunk = list(rowids[start : start + 500])
            found.extend(self._fetch(table, columns, f"rowid IN ({', '.join('?' * len(chunk))})", chunk))
        return sorted(found, key=lambda row: row[0])

    def fingerprint(self) -> str:
        """Return a digest of the source's tables, columns, row counts and rowid ranges.

        It tells whether a target's earlier run migrated this same source, so that a run
        can be resumed there, without reading every row.
        """
        digest = hashlib.sha256()
        for table in self.tables():
            # Each aggregate in a subquery of its own: SQLite then counts a table from its
            # b-tree's pages and finds min and max at its ends, 4 times as fast as one scan.
            name = quote_sqlite(table)
            stats = self._connection.execute(
                f"SELECT (SELECT count(*) FROM {name}), (SELECT min(rowid) FROM {name}), "
                f"(SELECT max(rowid) FROM {name})"
            ).fetchone()
            digest.update(repr((table, self.columns(table), stats)).encode())
        return digest.hexdigest()

    def _fetch(self, table: str, columns: Sequence[str], where: str, parameters: Sequence[Any]) -> list[Row]:
        selected = ", ".join(map(quote_sqlite, columns))
        query = f"SELECT rowid, {selected} FROM {quote_sqlite(table)} WHERE {where}"
        try:
            return self._connection.execute(query, parameters).fetchall()
        except sqlite3.OperationalError as error:
            if "decode" not in str(error).lower():
                raise
            return self._fetch_undecodable(table, columns, where, parameters)

    def _fetch_undecodable(
        self, table: str, columns: Sequence[str], where: str, parameters: Sequence[Any]
    ) -> list[Row]:
        """Read rows holding text that is not valid UTF-8, leaving such values as bytes.

        sqlite3 aborts the whole fetch on one bad value; reading the rows again with bytes
        for text lets the readers quarantine just that row (`invalid_text`). `typeof`
        keeps a BLOB a BLOB even when its bytes happen to be valid UTF-8.
        """
        selected = ", ".join(f"{quote_sqlite(column)}, typeof({quote_sqlite(column)})" for column in columns)
        if self._raw is None:
            # Kept open: a dirty table has hundreds of such rows, and opening costs more than reading one.
            self._raw = connect_read_only(self.path, bytes, any_thread=True)
        rows = self._raw.execute(f"SELECT rowid, {selected} FROM {quote_sqlite(table)} WHERE {where}", parameters)
        return [
            (row[0], *(_decode(value) if kind == b"text" else value
                       for value, kind in zip(row[1::2], row[2::2], strict=True)))
            for row in rows
        ]


def _after(rowid: int | None) -> tuple[str, tuple[int, ...]]:
    """The WHERE clause and parameters of the rows after `rowid`; None: every row (a rowid
    may be 0 or negative, e.g. a legacy id 0)."""
    return ("WHERE rowid > ?", (rowid,)) if rowid is not None else ("", ())


def _decode(value: Any) -> Any:
    """Decode text read as bytes; bytes that are not UTF-8 stay bytes (invalid text)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value
