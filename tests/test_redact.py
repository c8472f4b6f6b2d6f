"""Passwords are masked in URLs and wherever a remembered secret appears."""

from __future__ import annotations

import pytest

from pytest_migration.redact import password_of, redact, remember_secret


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://app:pw@host:5432/db", "postgresql://app:***@host:5432/db"),
        ("postgresql+psycopg://app:p@ss:w@host/db", "postgresql+psycopg://app:***@host/db"),
        ("error at postgresql://u:x@h/d, retrying", "error at postgresql://u:***@h/d, retrying"),
        ("sqlite:///legacy.db", "sqlite:///legacy.db"),
        ("postgresql://app@host/db", "postgresql://app@host/db"),
    ],
)
def test_url_passwords_are_masked(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_a_remembered_secret_is_masked_anywhere() -> None:
    remember_secret("Zq9-unlikely-secret")
    assert redact("password Zq9-unlikely-secret was rejected") == "password *** was rejected"


def test_password_of_reads_the_password_of_a_url() -> None:
    assert password_of("postgresql://app:pw@host/db") == "pw"
    assert password_of("sqlite:///x.db") is None


def test_every_spelling_of_a_remembered_password_is_masked() -> None:
    secret = "Kx7 p@ss%'w:rd"
    remember_secret(secret)
    shown = [
        "postgresql+psycopg://app:Kx7 p%40ss%25%27w%3Ard@h/d",  # SQLAlchemy keeps the space
        "postgresql://app:Kx7%20p%40ss%25%27w%3Ard@h/d",
        "password=Kx7+p%40ss%25%27w%3Ard",
        "host=h password='Kx7 p@ss%\\'w:rd'",  # libpq's connection string
        "{'password': \"Kx7 p@ss%'w:rd\"}",
    ]
    for text in shown:
        assert "Kx7" not in redact(text), text
