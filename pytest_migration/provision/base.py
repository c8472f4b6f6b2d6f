"""The one shape every way of getting a throwaway PostgreSQL shares."""

from __future__ import annotations

from typing import Protocol


class ProvisionError(RuntimeError):
    """A database could not be provisioned; the message says how to fix it."""


class Provider(Protocol):
    """Starts one throwaway PostgreSQL server and removes it again.

    `start` returns the SQLAlchemy URL (``postgresql+psycopg://...``, password included)
    of an empty database on that server. `stop` stops the server and removes everything
    `start` created; it is safe to call twice and after a failed `start`.
    """

    name: str

    def start(self) -> str: ...

    def stop(self) -> None: ...
