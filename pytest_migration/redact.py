"""The one place where secrets are masked before anything is printed or written."""

from __future__ import annotations

import re
from urllib.parse import quote

MASK = "***"

# scheme://user:password@host - the password is everything up to the last '@' of the
# authority, so a password holding '@' or ':' (unescaped, as users type them) is masked whole.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^\s/?#]*)@")

_known_secrets: set[str] = set()


# A shorter secret is masked inside URLs only: masking every "pw" in every message would
# make output unreadable and tell the password to anyone comparing the two.
MIN_FREE_TEXT_SECRET = 4


def remember_secret(secret: str | None) -> None:
    """Mask `secret` (and its URL-escaped spelling) wherever it appears from now on."""
    if secret and len(secret) >= MIN_FREE_TEXT_SECRET:
        _known_secrets.add(secret)
        _known_secrets.add(quote(secret, safe=""))


def redact(text: str) -> str:
    """Return `text` with URL passwords and every remembered secret replaced by ***."""
    text = _URL_PASSWORD.sub(lambda match: f"{match['head']}{MASK}@", text)
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def password_of(url: str) -> str | None:
    """Return the password written in a database URL, if any."""
    match = _URL_PASSWORD.search(url)
    return match["password"] if match else None
