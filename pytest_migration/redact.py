"""The one place where secrets are masked before anything is printed or written.

A password reaches output in many spellings: as typed, URL-escaped by the user, by
SQLAlchemy (which leaves spaces as they are) or by `quote_plus`, quoted for a libpq
connection string, inside a Python or JSON string literal. `remember_secret` learns every
one of them, so that `redact` masks the secret whichever layer printed it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL

MASK = "***"

# scheme://user:password@host - the password is everything up to the last '@' of the
# authority, so a password holding '@' or ':' (unescaped, as users type them) is masked whole.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^\s/?#]*)@")

_known_secrets: set[str] = set()


# A shorter secret is masked inside URLs only: masking every "pw" in every message would
# make output unreadable and tell the password to anyone comparing the two.
MIN_FREE_TEXT_SECRET = 4


def spellings(secret: str) -> set[str]:
    """Return the ways `secret` can be written out by the layers between us and the user."""
    in_conninfo = secret.replace("\\", "\\\\").replace("'", "\\'")
    rendered = URL.create("postgresql", username="u", password=secret, host="h").render_as_string(
        hide_password=False
    )
    in_url = rendered.removeprefix("postgresql://u:").removesuffix("@h")
    written = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), in_url, in_conninfo}
    # ... and each of those inside a Python or JSON string literal (a local's repr, a report)
    return written | {repr(text)[1:-1] for text in written} | {json.dumps(text)[1:-1] for text in written}


def remember_secret(secret: str | None) -> None:
    """Mask `secret`, in each of its spellings, wherever it appears from now on."""
    if secret and len(secret) >= MIN_FREE_TEXT_SECRET:
        _known_secrets.update(spellings(secret))


def known_secrets() -> frozenset[str]:
    """Every spelling of every secret remembered so far."""
    return frozenset(_known_secrets)


# pprint, which shows pytest's locals under -vv, cuts a long string literal at its spaces
# into adjacent literals, one a line: 'postgresql://app:my '\n    'password@host'.
_SPLIT_LITERAL = re.compile(r"(['\"])\n[ \t]*\(?\1")


def redact(text: str) -> str:
    """Return `text` with URL passwords and every remembered secret replaced by ***."""
    masked = _mask(text)
    if _SPLIT_LITERAL.search(text):
        joined = _SPLIT_LITERAL.sub("", text)
        masked_joined = _mask(joined)
        if masked_joined != joined:  # a secret was cut in two: show the literal joined, masked
            return masked_joined
    return masked


def _mask(text: str) -> str:
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _URL_PASSWORD.sub(lambda match: f"{match['head']}{MASK}@", text)


def password_of(url: str) -> str | None:
    """Return the password written in a database URL, if any."""
    match = _URL_PASSWORD.search(url)
    return match["password"] if match else None


def redact_fields(value: Any) -> Any:
    """Return `value` with every string inside it redacted; dataclasses are masked in place.

    pytest's failure reports are trees of dataclasses (tracebacks, entries, locals, captured
    sections) that junitxml, xdist and the terminal each render later; masking the tree
    once, when the report is made, covers every renderer.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_fields(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_fields(item) for item in value)
    if isinstance(value, dict):
        return {key: redact_fields(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            object.__setattr__(value, field.name, redact_fields(getattr(value, field.name)))
    return value


class RedactingStream:
    """A text stream that masks secrets in everything written through it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def redact_log_records() -> Callable[[], None]:
    """Mask secrets in every log record made from now on; return the function that stops it.

    Handlers added by others (a log file, live logs, captured logs) each format records
    themselves: masking the record where it is made reaches all of them.
    """
    previous = logging.getLogRecordFactory()

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: logging reports it when formatting
            return record
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(make_record)
    return lambda: logging.setLogRecordFactory(previous)
