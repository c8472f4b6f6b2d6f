"""Settings resolve CLI > ini > environment > default, and bad values fail with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_migration.config import ConfigError, parse_target_url, resolve


def ini_of(values: dict[str, str]):  # noqa: ANN201
    return values.get


def test_cli_beats_ini_beats_environment_beats_default() -> None:
    env = {"PYTEST_MIGRATION_DATASET_ROWS": "30", "PYTEST_MIGRATION_BATCH_SIZE": "7"}
    ini = ini_of({"migration_dataset_rows": "20", "migration_timezone": "UTC"})
    config = resolve({"dataset_rows": 10}, ini, env)
    assert config.dataset_rows == 10
    assert resolve({}, ini, env).dataset_rows == 20
    assert resolve({}, ini, env).batch_size == 7
    assert resolve({}, ini, env).timezone == "UTC"
    assert resolve({}, ini_of({}), {}).timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("postgresql://u:p@127.0.0.1:5432/db", "postgresql+psycopg://u:p@127.0.0.1:5432/db"),
        ("postgresql+psycopg://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ],
)
def test_target_urls_are_accepted_as_users_type_them(typed: str, stored: str) -> None:
    assert parse_target_url(typed) == stored


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dataset_rows": "-3"}, "at least 1"),
        ({"db_backend": "podman"}, "choose one of auto, docker, local"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"target_url": "mysql://u:hunter2@h/db"}, "must be PostgreSQL"),
        ({"source_url": "sqlite:///does/not/exist.db"}, "no SQLite file"),
    ],
)
def test_bad_values_fail_with_the_fix(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        resolve({}, ini_of({f"migration_{k}" if k != "timezone" else "migration_timezone": v
                            for k, v in values.items()}), {})
    assert "hunter2" not in str(raised.value)


def test_verify_only_needs_both_urls(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--source-url and --target-url"):
        resolve({"verify_only": True, "suite": "x:y"}, ini_of({}), {})
    with pytest.raises(ConfigError, match="exclude each other"):
        resolve({"verify_only": True, "migrate": True, "suite": "x:y"}, ini_of({}), {})


def test_an_unparsable_url_does_not_echo_its_password() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_target_url("postgresql://user:hunter2@host:notaport/db")
    assert "hunter2" not in str(raised.value)
