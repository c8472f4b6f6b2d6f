"""Pick the way to get a throwaway PostgreSQL, and say why in one line."""

from __future__ import annotations

from pathlib import Path

from pytest_migration.provision.base import Provider, ProvisionError
from pytest_migration.provision.docker import DEFAULT_IMAGE, DockerPostgres, docker_available
from pytest_migration.provision.local import LocalPostgres

BACKENDS = ("auto", "docker", "local")


def choose_provider(
    backend: str, pg_bin_dir: Path | None = None, *, docker_image: str = DEFAULT_IMAGE, keep: bool = False
) -> tuple[Provider, str]:
    """Return the provider for `backend` and the reason for the session header.

    `auto` takes Docker when an engine answers and the local binaries otherwise; an explicit
    `pg_bin_dir` means the user wants those binaries, so `auto` then takes them directly.
    `keep`: the server is to outlive this process (--keep-databases). Nothing is started here.
    """
    if backend not in BACKENDS:
        raise ProvisionError(f"unknown --db-backend {backend!r}; choose one of {', '.join(BACKENDS)}.")

    def local(reason: str) -> tuple[Provider, str]:
        provider = LocalPostgres(bin_dir=pg_bin_dir, outlive_owner=keep)
        return provider, f"local ({provider.description}): {reason}"

    if backend == "local":
        return local("--db-backend local")
    if backend == "auto" and pg_bin_dir is not None:
        return local("--pg-bin-dir given")
    available, reason = docker_available()
    if available:
        docker = DockerPostgres(image=docker_image)
        return docker, f"docker ({docker.description}): {reason}"
    if backend == "docker":
        raise ProvisionError(
            f"--db-backend docker: {reason}. Start a Docker engine (or set DOCKER_HOST), "
            "or run without Docker with `--db-backend local`."
        )
    return local(reason)
