"""Run the throwaway PostgreSQL in a Docker container through testcontainers."""

from __future__ import annotations

import os
import secrets
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pytest_migration.provision.base import ProvisionError
from pytest_migration.redact import remember_secret

if TYPE_CHECKING:
    from testcontainers.community.postgres import PostgresContainer

DEFAULT_IMAGE = "postgres:16-alpine"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
PING_TIMEOUT = 1.0
SUPERUSER = "postgres"
DATABASE = "migration"


def docker_host() -> str:
    """Return the engine address testcontainers will use: DOCKER_HOST or the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def _http_ping(connection: socket.socket) -> str:
    """Send `GET /_ping` over an open connection and return the HTTP status line."""
    connection.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
    answer = b""
    while b"\r\n" not in answer and len(answer) < 4096:
        chunk = connection.recv(1024)
        if not chunk:
            break
        answer += chunk
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def _ping(host: str, timeout: float) -> str:
    """Return the status line the engine at `host` answers to a ping."""
    address = urlsplit(host)
    if address.scheme == "unix":
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(address.path)
            return _http_ping(connection)
    if address.scheme in ("tcp", "http") and not os.environ.get("DOCKER_TLS_VERIFY"):
        with socket.create_connection(
            (address.hostname or "localhost", address.port or 2375), timeout
        ) as connection:
            connection.settimeout(timeout)
            return _http_ping(connection)
    # TLS, ssh:// and npipe:// need the Docker SDK's transports; it is slower to import but
    # only reached when DOCKER_HOST says so.
    import docker  # type: ignore[import-untyped]

    client = docker.from_env(timeout=max(1, round(timeout)))
    try:
        return "HTTP/1.1 200 OK" if client.ping() else "no ping answer"
    finally:
        client.close()


def _why(error: BaseException) -> str:
    """Turn a connection error into a few words for the session header."""
    if isinstance(error, FileNotFoundError):
        return "no such socket"
    if isinstance(error, PermissionError):
        return "permission denied; add your user to the `docker` group"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return str(error) or type(error).__name__


def docker_available(timeout: float = PING_TIMEOUT) -> tuple[bool, str]:
    """Tell whether a Docker engine answers, and why not, without building any container."""
    host = docker_host()
    try:
        status = _ping(host, timeout)
    except Exception as error:  # noqa: BLE001 - any failure only means "no engine here"
        return False, f"no Docker engine answered at {host} ({_why(error)})"
    if status.split()[1:2] == ["200"]:
        return True, f"a Docker engine answered at {host}"
    return False, f"no Docker engine answered at {host} (got {status or 'no answer'!r} to a ping)"


class DockerPostgres:
    """A throwaway PostgreSQL server in a Docker container.

    `start` checks that an engine answers before building the container, because
    testcontainers raises DockerException as soon as a container object is built without
    one; the server gets a random password and the empty database `migration`. `stop`
    removes the container and is safe to call twice.
    """

    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE) -> None:
        self.image = image
        self._container: PostgresContainer | None = None
        self._url: str | None = None

    @property
    def description(self) -> str:
        """Where the server comes from, for the session header."""
        return f"Docker image {self.image}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the empty database, password included."""
        if self._url is None:
            raise ProvisionError("the Docker PostgreSQL server has not been started")
        return self._url

    def start(self) -> str:
        """Start the container and return the URL of its empty database."""
        if self._container is not None:
            raise ProvisionError(f"the Docker PostgreSQL server ({self.image}) is already running")
        available, reason = docker_available()
        if not available:
            raise ProvisionError(
                f"cannot start PostgreSQL in Docker: {reason}. Start a Docker engine (or set "
                "DOCKER_HOST), or run without Docker with `--db-backend local`."
            )
        # Imported here: testcontainers pulls in the Docker SDK, which sessions using the
        # local backend never need.
        from testcontainers.community.postgres import PostgresContainer

        password = secrets.token_urlsafe(24)
        remember_secret(password)
        try:
            self._container = PostgresContainer(
                self.image, username=SUPERUSER, password=password, dbname=DATABASE, driver="psycopg"
            )
            self._container.start()
            self._url = self._container.get_connection_url()
        except Exception as error:
            self.stop()
            raise ProvisionError(
                f"cannot start a PostgreSQL container from {self.image}: {error}. Check that the "
                "image can be pulled, pass another image, or use `--db-backend local`."
            ) from error
        return self._url

    def stop(self) -> None:
        """Remove the container; safe to call again."""
        container, self._container = self._container, None
        if container is not None:
            try:
                container.stop()
            except Exception as error:  # the engine may be gone already; say so, do not mask the run
                raise ProvisionError(f"cannot remove the PostgreSQL container: {error}") from error
