"""The SQLite reader keeps storage order, resumes after a rowid, and survives bad UTF-8."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pytest_migration.engine.source import SqliteSource


def make_source(path: Path) -> str:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data TEXT)")
    connection.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, f"row {i}", None) for i in range(1, 8)])
    # Invalid UTF-8 stored as TEXT, and a BLOB whose bytes happen to be valid UTF-8.
    connection.execute("INSERT INTO t VALUES (8, CAST(X'FF61' AS TEXT), X'6869')")
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def test_batches_follow_rowid_order_and_resume_after_a_rowid(tmp_path: Path) -> None:
    source = SqliteSource(make_source(tmp_path / "s.db"))
    batches = list(source.batches("t", ["id", "name"], after_rowid=2, size=3))
    assert [[row[0] for row in batch] for batch in batches] == [[3, 4, 5], [6, 7, 8]]
    assert source.count("t") == 8
    assert source.count("t", up_to_rowid=5) == 5
    assert source.largest_rowid("t") == 8


def test_rows_with_a_zero_or_negative_id_are_read_from_the_start(tmp_path: Path) -> None:
    source = SqliteSource(make_source(tmp_path / "s.db"))
    connection = sqlite3.connect(source.path)
    connection.executemany("INSERT INTO t VALUES (?, ?, NULL)", [(0, "zero"), (-5, "minus five")])
    connection.execute("INSERT INTO t VALUES (-2, CAST(X'FF' AS TEXT), NULL)")  # undecodable, among them
    connection.commit()
    connection.close()
    batches = list(source.batches("t", ["name"], after_rowid=None, size=4))
    assert [row[0] for batch in batches for row in batch] == [-5, -2, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert batches[0] == [(-5, "minus five"), (-2, b"\xff"), (0, "zero"), (1, "row 1")]


def test_text_that_is_not_utf8_stays_bytes_and_blobs_stay_blobs(tmp_path: Path) -> None:
    source = SqliteSource(make_source(tmp_path / "s.db"))
    (batch,) = list(source.batches("t", ["name", "data"], after_rowid=6, size=10))
    assert batch[0] == (7, "row 7", None)
    assert batch[1] == (8, b"\xffa", b"hi")
    assert source.rows("t", ["name"], [8, 1]) == [(1, "row 1"), (8, b"\xffa")]


def test_fingerprint_changes_with_the_data(tmp_path: Path) -> None:
    url = make_source(tmp_path / "s.db")
    before = SqliteSource(url).fingerprint()
    connection = sqlite3.connect(tmp_path / "s.db")
    connection.execute("INSERT INTO t VALUES (9, 'x', NULL)")
    connection.commit()
    assert SqliteSource(url).fingerprint() != before


def test_bad_rows_anywhere_in_a_batch_are_read_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    connection.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"row {i}") for i in range(1, 21)])
    bad = {4, 5, 6, 8, 13, 20}  # consecutive, at batch starts and ends, and last
    for rowid in bad:
        connection.execute("UPDATE t SET name = CAST(X'FF' AS TEXT) WHERE id = ?", (rowid,))
    connection.commit()
    connection.close()
    source = SqliteSource(f"sqlite:///{path}")
    for size in (1, 3, 4, 7, 50):
        rows = [row for batch in source.batches("t", ["name"], after_rowid=0, size=size) for row in batch]
        assert [row[0] for row in rows] == list(range(1, 21)), size
        assert all(len(batch) <= size for batch in source.batches("t", ["name"], 0, size))
        assert {row[0] for row in rows if row[1] == b"\xff"} == bad
        assert all(row[1] == f"row {row[0]}" for row in rows if row[0] not in bad)
