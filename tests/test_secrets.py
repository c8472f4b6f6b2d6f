"""No password leaves the process in clear, whatever pytest is asked to print.

Each case runs a real pytest session against a real server whose role has a password
with every character that URLs, libpq connection strings and Python literals escape
(`@ % ' :` and a space), then greps everything the session printed or wrote for the
password in each spelling. Each case also asserts the error it expects and the masked
form, so that a case failing before the password is ever used cannot pass hollow.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg
import pytest
from sqlalchemy.engine import make_url

from pytest_migration.provision.local import LocalPostgres

pytestmark = pytest.mark.slow

PASSWORD = "Zq9 p@ss%'w:rd!"
WRONG_PASSWORD = "Wr0ng p@ss%'w:rd?"
ROLE = "app_secret"
MASKED = f"{ROLE}:***@"

SUITE = '''
import sqlalchemy as sa

from pytest_migration.steps import StepRegistry
from pytest_migration.suite import MigrationSuite

registry = StepRegistry(phases=("load",))


@registry.step(phase="load")
def load(context):
    """Connect to the target."""
    with context.target.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def make_source(directory, rows, timezone):
    import sqlite3
    path = directory / "secret.db"
    sqlite3.connect(path).execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return f"sqlite:///{path}"


SUITE = MigrationSuite(name="secret", metadata=sa.MetaData(), tables=lambda timezone: (), steps=registry,
                       make_source=make_source)
'''

CHECKS = '''
import logging
import os
import warnings

import psycopg
from sqlalchemy.engine import make_url


def test_settings_shown_in_a_failure(load, migration_config, migration_context):
    url = migration_context.target_url
    assert migration_config.fresh, (migration_config, migration_context, url)


def test_driver_frames_in_a_failure(load, migration_context):
    password = make_url(migration_context.target_url).password
    logging.getLogger("secret").warning("connecting with %s", migration_context.target_url)
    psycopg.connect(host="127.0.0.1", port=1, user="app_secret", password=password, dbname="x", connect_timeout=3)


def test_output_of_a_passing_check(load, migration_context):
    print("target is", migration_context.target_url)
    warnings.warn(f"looked at {migration_context.target_url}")
'''

CONFTEST = '''
import os


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SECRET_INTERNAL_ERROR"):
        raise RuntimeError("hook broke while holding " + os.environ["SECRET_INTERNAL_ERROR"])
'''


def spellings(secret: str) -> list[str]:
    """The forms of a secret that must never appear in output, written out independently.

    Its first word comes first: no escaping changes it, so it also finds a spelling this
    list does not foresee, and a secret cut short by a truncated repr.
    """
    return [secret.split()[0], secret, quote(secret, safe=""), quote_plus(secret, safe=""),
            quote(secret, safe=" "), secret.replace("'", "\\'")]


@pytest.fixture(scope="module")
def secret_server() -> Iterator[LocalPostgres]:
    server = LocalPostgres()
    server.start()
    admin = make_url(server.url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD.replace(chr(39), chr(39) * 2)}'")
        for database in ("secret_target", "secret_foreign"):
            connection.execute(f"CREATE DATABASE {database} OWNER {ROLE}")
    url = make_url(server.url)
    with psycopg.connect(host=url.host, port=url.port, user=ROLE, password=PASSWORD,
                         dbname="secret_foreign") as connection:
        connection.execute("CREATE TABLE kept_by_someone_else (id int)")
    yield server
    server.stop()


def target_url(server: LocalPostgres, *, password: str = PASSWORD, database: str = "secret_target",
               port: int | None = None) -> str:
    url = make_url(server.url)
    return f"postgresql://{ROLE}:{quote(password, safe='')}@127.0.0.1:{port or url.port}/{database}"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(secret_suite=SUITE, test_checks=CHECKS, conftest=CONFTEST)
    pytester.makeini("[pytest]\nmigration_suite = secret_suite:SUITE\npythonpath = .\n")
    return pytester


def run(project: pytest.Pytester, *arguments: str, env: dict[str, str] | None = None) -> str:
    """Run a session; return all it printed and wrote, for grepping."""
    monkeypatch = pytest.MonkeyPatch()
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    try:
        result = project.runpytest_subprocess(*arguments, timeout=180)
    finally:
        monkeypatch.undo()
    written = [path.read_text(errors="replace") for path in project.path.glob("written.*")]
    return "\n".join([*result.outlines, *result.errlines, *written])


def assert_no_secret(output: str, *secrets: str) -> None:
    for secret in secrets:
        for spelling in spellings(secret):
            leaks = [line for line in output.splitlines() if spelling in line]
            assert not leaks, f"the password appears as {spelling!r} in: {leaks[:3]}"


FLAGS = {
    "long-locals": ("-l", "-vv", "--tb=long", "-rA"),
    "native": ("--tb=native", "-rA"),
    "junit-and-logs": ("--junitxml=written.xml", "-o", "log_cli=true", "--log-cli-level=DEBUG",
                       "--log-file=written.log", "--log-file-level=DEBUG",
                       "--migration-report=written.json"),
    "xdist": ("-n", "2", "-l", "--tb=long", "-rA", "--junitxml=written.xml"),
}


@pytest.mark.parametrize("flags", FLAGS.values(), ids=FLAGS.keys())
def test_failing_checks_show_no_password(project: pytest.Pytester, secret_server: LocalPostgres,
                                         flags: tuple[str, ...]) -> None:
    output = run(project, "--migrate", "--target-url", target_url(secret_server), *flags)
    assert "2 failed, 1 passed" in output
    assert "Connection refused" in output  # the driver's error, whose frames hold the password
    assert "looked at postgresql" in output  # the warning that quotes the URL
    assert MASKED in output
    assert_no_secret(output, PASSWORD)
    if "--migration-report=written.json" in flags:
        report = json.loads((project.path / "written.json").read_text())
        assert MASKED in report["target"]


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_wrong_password_is_masked_and_said_once(project: pytest.Pytester, secret_server: LocalPostgres,
                                                  xdist: tuple[str, ...]) -> None:
    output = run(project, "--migrate", "--target-url", target_url(secret_server, password=WRONG_PASSWORD),
                 "-l", "--tb=long", *xdist)
    assert output.count("password authentication failed") == 1
    assert MASKED in output
    assert_no_secret(output, WRONG_PASSWORD, PASSWORD)


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_closed_port_is_masked_and_said_once(project: pytest.Pytester, secret_server: LocalPostgres,
                                               tmp_path: Path, xdist: tuple[str, ...]) -> None:
    source = tmp_path / "given.db"
    source.write_bytes(b"")
    output = run(project, "--verify-only", "--source-url", f"sqlite:///{source}",
                 "--target-url", target_url(secret_server, port=1), "--tb=native", *xdist)
    assert output.count("Connection refused") == 1
    assert MASKED in output
    assert_no_secret(output, PASSWORD)


def test_a_target_without_a_run_is_masked_and_said_once(project: pytest.Pytester, secret_server: LocalPostgres,
                                                        tmp_path: Path) -> None:
    source = tmp_path / "given.db"
    source.write_bytes(b"")
    output = run(project, "--verify-only", "--source-url", f"sqlite:///{source}",
                 "--target-url", target_url(secret_server), "-l", "-vv")
    assert output.count("holds no migration run") == 1
    assert MASKED in output
    assert_no_secret(output, PASSWORD)


def test_a_foreign_target_is_masked_and_said_once(project: pytest.Pytester, secret_server: LocalPostgres) -> None:
    output = run(project, "--migrate", "--target-url", target_url(secret_server, database="secret_foreign"),
                 "-n", "2")
    assert output.count("kept_by_someone_else") == 1
    assert MASKED in output
    assert_no_secret(output, PASSWORD)


def test_an_internal_error_is_masked(project: pytest.Pytester, secret_server: LocalPostgres) -> None:
    url = target_url(secret_server)
    output = run(project, "--migrate", "--target-url", url, env={"SECRET_INTERNAL_ERROR": url})
    assert "INTERNALERROR" in output
    assert "hook broke while holding postgresql://" in output
    assert MASKED in output
    assert_no_secret(output, PASSWORD)
