"""The checks catch what goes wrong in real migrations, and raise no false alarm.

A small dirty dataset is migrated once; for each kind of defect, a copy of the migrated
target is corrupted and `pytest --verify-only` is run against it as a team would at
cut-over: target given by URL, without --allow-writes. It must fail, naming the table
and the check; the untouched copy must pass.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import psycopg
import pytest
from sqlalchemy.engine import make_url

from fixtures.generate import generate
from pytest_migration.provision.local import LocalPostgres

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
_copies = itertools.count()


class Corruption(NamedTuple):
    """A defect planted in a migrated target, and the failed test(s) that must name it."""

    sql: str
    failed: str | tuple[str, ...]


def some(table: str, where: str = "TRUE") -> str:
    """SQL for the smallest id of `table` matching `where`."""
    return f"(SELECT min(id) FROM public.{table} WHERE {where})"


CORRUPTIONS = {
    "shifted-timestamp": Corruption(
        f"UPDATE chat_messages SET sent_at = sent_at + interval '1 hour' WHERE id = {some('chat_messages')}",
        (
            "test_expected_outcomes.py::test_migrated_rows_are_the_expected_values[chat_messages]",
            "test_row_by_row.py::test_migrated_rows_are_what_the_rules_make[chat_messages]",
        ),
    ),
    "missing-row": Corruption(
        f"DELETE FROM tasks WHERE id = {some('tasks')}",
        "test_accounting.py::test_source_rows_are_migrated_or_quarantined[tasks]",
    ),
    "extra-row": Corruption(
        "INSERT INTO clients (name) VALUES ('Not in the source')",
        "test_accounting.py::test_source_rows_are_migrated_or_quarantined[clients]",
    ),
    "quarantined-without-cause": Corruption(
        f"""WITH moved AS (DELETE FROM tasks WHERE id = {some('tasks')} RETURNING id)
        INSERT INTO migration.quarantine (run_id, source_table, source_rowid, source_key, reason, payload)
        SELECT (SELECT max(id) FROM migration.runs), 'tasks', id, jsonb_build_object('id', id),
               'invalid_boolean:is_done', '{{}}'::jsonb FROM moved""",
        (
            "test_expected_outcomes.py::test_quarantined_rows_have_the_expected_reason[tasks]",
            "test_row_by_row.py::test_quarantined_rows_break_the_rule_they_name[tasks]",
        ),
    ),
    "hole-in-quarantine": Corruption(
        "DELETE FROM migration.quarantine WHERE id = (SELECT min(id) FROM migration.quarantine"
        " WHERE source_table = 'interventions')",
        "test_accounting.py::test_source_rows_are_migrated_or_quarantined[interventions]",
    ),
    "orphan": Corruption(
        "ALTER TABLE tasks DROP CONSTRAINT tasks_intervention_id_fkey;"
        f" UPDATE tasks SET intervention_id = 999999999 WHERE id = {some('tasks')}",
        "test_relationships.py::test_no_orphans[tasks.intervention_id]",
    ),
    "swapped-values": Corruption(
        "UPDATE users SET name = CASE id WHEN (SELECT min(id) FROM users) THEN (SELECT name FROM users"
        " ORDER BY id OFFSET 1 LIMIT 1) ELSE (SELECT name FROM users ORDER BY id LIMIT 1) END"
        " WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 2)",
        "test_expected_outcomes.py::test_migrated_rows_are_the_expected_values[users]",
    ),
    "duplicate-serial": Corruption(
        "ALTER TABLE equipment DROP CONSTRAINT equipment_serial_number_key;"
        " UPDATE equipment SET serial_number = (SELECT serial_number FROM equipment ORDER BY id LIMIT 1)"
        " WHERE id = (SELECT id FROM equipment ORDER BY id OFFSET 1 LIMIT 1)",
        "test_relationships.py::test_no_duplicate_keys[equipment.serial_number]",
    ),
    "duplicate-pivot-pair": Corruption(
        "ALTER TABLE intervention_user DROP CONSTRAINT intervention_user_pkey;"
        " INSERT INTO intervention_user SELECT * FROM intervention_user LIMIT 1",
        "test_relationships.py::test_no_duplicate_keys[intervention_user.intervention_id,user_id]",
    ),
    "bad-participants": Corruption(
        "ALTER TABLE chat_conversations DISABLE TRIGGER USER;"
        " UPDATE chat_conversations SET participants = participants || participants[1]"
        f" WHERE id = {some('chat_conversations')}",
        "test_relationships.py::test_participants_are_valid[distinct]",
    ),
    "moved-child": Corruption(
        f"UPDATE tasks SET intervention_id = (SELECT max(id) FROM interventions) WHERE id = {some('tasks')}",
        "test_relationships.py::test_children_per_parent_match_the_source[tasks.intervention_id]",
    ),
    "run-in-another-time-zone": Corruption(
        "UPDATE migration.runs SET settings = jsonb_set(settings, '{timezone}', '\"UTC\"')",
        "test_accounting.py::test_the_run_used_the_application_time_zone",
    ),
    "sequence-left-behind": Corruption(
        "SELECT setval(pg_get_serial_sequence('public.users', 'id'), 1)",
        "test_schema.py::test_sequences_are_past_the_largest_legacy_id",
    ),
    "dropped-index": Corruption(
        "DROP INDEX tasks_intervention_id_idx",
        "test_schema.py::test_every_index_is_present_and_every_foreign_key_indexed",
    ),
    "dropped-constraint": Corruption(
        "ALTER TABLE equipment DROP CONSTRAINT equipment_status_check",
        "test_schema.py::test_every_constraint_is_present",
    ),
}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPostgres]:
    """A server of its own: copying a database needs the template free of other sessions."""
    postgres = LocalPostgres()
    postgres.start()
    yield postgres
    postgres.stop()


@pytest.fixture(scope="module")
def migrated_template(server: LocalPostgres, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Migrate a small dirty dataset once; return the source URL and the template database name."""
    dataset = generate(tmp_path_factory.mktemp("power") / "legacy.db", 3000)
    source = f"sqlite:///{dataset.path}"
    admin(server, 'CREATE DATABASE "migrated"')
    target = make_url(server.url).set(database="migrated").render_as_string(hide_password=False)
    subprocess.run([sys.executable, "-m", "pytest_migration.cli", "run", "-q", "--source-url", source,
                    "--target-url", target], cwd=ROOT, check=True, timeout=300)
    return source, "migrated"


def admin(server: LocalPostgres, statement: str, database: str = "migration") -> None:
    url = make_url(server.url).set(drivername="postgresql", database=database)
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as connection:
        connection.execute(statement)


def corrupted_copy(server: LocalPostgres, template: str, sql: str | None) -> str:
    """Copy the migrated target, plant `sql` in the copy, and return the copy's URL."""
    name = f"copy_{next(_copies)}"
    admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    if sql:
        admin(server, sql, database=name)
    return make_url(server.url).set(database=name).render_as_string(hide_password=False)


def verify(source: str, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--verify-only", "--source-url", source, "--target-url", target,
         "-p", "no:cacheprovider", "-q", "-rfE", "migration_suite"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


def test_an_intact_target_passes(server: LocalPostgres, migrated_template: tuple[str, str]) -> None:
    source, template = migrated_template
    result = verify(source, corrupted_copy(server, template, None))
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corrupted_target_fails_naming_table_and_check(
    kind: str, server: LocalPostgres, migrated_template: tuple[str, str]
) -> None:
    source, template = migrated_template
    corruption = CORRUPTIONS[kind]
    result = verify(source, corrupted_copy(server, template, corruption.sql))
    assert result.returncode == 1, result.stdout[-4000:]
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    wanted = (corruption.failed,) if isinstance(corruption.failed, str) else corruption.failed
    for test in wanted:
        assert any(test in line for line in failed), f"expected a failure of {test}, got:\n" + "\n".join(failed)


def test_a_sidecar_without_segment_digests_says_how_to_regenerate_it(
    server: LocalPostgres, migrated_template: tuple[str, str], tmp_path: Path
) -> None:
    source, template = migrated_template
    legacy = Path(make_url(source).database or "")
    for file in (legacy, legacy.with_suffix(".expected.sqlite")):
        shutil.copy(file, tmp_path / file.name)
    with closing(sqlite3.connect(tmp_path / legacy.with_suffix(".expected.sqlite").name)) as sidecar:
        sidecar.execute("DROP TABLE expected_segment")
        sidecar.commit()
    result = verify(f"sqlite:///{tmp_path / legacy.name}", corrupted_copy(server, template, None))
    assert result.returncode == 1, result.stdout[-4000:]
    assert "predates the expected rows' segment digests" in result.stdout
    assert f"python -m fixtures.generate {tmp_path / legacy.name} --rows N" in result.stdout
