"""Invitation tokens: random, URL-safe, stored only as a SHA-256 hash.

The token is 32 random bytes from :func:`secrets.token_urlsafe` (43 characters); the store keeps
``sha256(token)`` in hex. A link is checked by hashing what it carries and looking the hash up;
:func:`hmac.compare_digest` compares the found hash with the computed one in constant time. Nothing
here is home-made cryptography: it is the standard library's ``secrets``, ``hashlib`` and ``hmac``.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = ["new_token", "token_hash", "same_hash", "looks_like_token", "TOKEN_BYTES"]

#: random bytes in a token (256 bits)
TOKEN_BYTES = 32
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


def new_token() -> str:
    """A fresh, unguessable token for one link (URL-safe base64 of 32 random bytes)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Hex SHA-256 of ``token`` (what the store keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(stored: str, token: str) -> bool:
    """Whether ``token`` hashes to ``stored`` (constant-time comparison)."""
    return hmac.compare_digest(stored.encode("ascii"), token_hash(token).encode("ascii"))


def looks_like_token(text: str | None) -> bool:
    """Whether ``text`` has a token's shape (checked before any database look-up)."""
    return bool(text) and bool(_SHAPE.match(text))
