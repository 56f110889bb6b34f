"""Keyed pseudonyms of student identities.

A pseudonym is `s-` + 16 base32 characters (80 bits) of
HMAC-SHA256(key, normalized identity). Stable: the same student always gets the
same pseudonym under one key, so analysts can follow a student over a course.
Irreversible without the key: HMAC is a PRF, so guessing an identity from a
pseudonym means trying candidate identities *with the key*. 80 bits make a
collision between 100,000 students a ~1e-14 chance.

The key is only read from the settings (a SecretStr, never logged); rotating it
gives every student a new pseudonym (old data keeps the old ones).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cell_monitor.config import Settings

PREFIX = "s-"
PSEUDONYM_CHARS = 16  # 80 bits of base32


class PseudonymKeyMissing(ValueError):
    """A pseudonym was asked for without CELL_MONITOR_PSEUDONYM_KEY."""


def normalize_identity(identity: str) -> str:
    """The form identities are compared in: emails lower-cased, surrounding blanks dropped."""
    value = identity.strip()
    return value.lower() if "@" in value else value


def is_pseudonym(value: str) -> bool:
    body = value[len(PREFIX) :]
    return (
        value.startswith(PREFIX)
        and len(body) == PSEUDONYM_CHARS
        and all(c in "abcdefghijklmnopqrstuvwxyz234567" for c in body)
    )


@lru_cache(maxsize=65_536)
def _pseudonym(key: bytes, identity: str) -> str:
    # Cached: a class of 2,000 students sends the same few identities all day.
    digest = hmac.new(key, identity.encode(), hashlib.sha256).digest()
    return PREFIX + base64.b32encode(digest[:10]).decode().lower()


def pseudonym(key: bytes, identity: str) -> str:
    """The pseudonym of `identity` (normalized first) under `key`."""
    return _pseudonym(key, normalize_identity(identity))


def key_of(settings: Settings) -> bytes:
    """The HMAC key, or PseudonymKeyMissing naming the variable."""
    if settings.pseudonym_key is None or not settings.pseudonym_key.get_secret_value():
        raise PseudonymKeyMissing(
            "CELL_MONITOR_PSEUDONYM_KEY is not set; the pseudonym of a student needs the key"
        )
    return settings.pseudonym_key.get_secret_value().encode()


def stored_key(settings: Settings, identity: str) -> str:
    """The `student_key` the server stores new data of `identity` under.

    With CELL_MONITOR_PSEUDONYMIZE its pseudonym (a pseudonym given is kept), as
    ingest stores events; else the identity normalized.
    """
    value = normalize_identity(identity)
    if settings.pseudonymize and not is_pseudonym(value):
        return pseudonym(key_of(settings), value)
    return value


def student_keys(settings: Settings, identity: str) -> list[str]:
    """Every `students.student_key` under which `identity` may be stored.

    The identity as given and normalized (data from before pseudonymization, or
    a pseudonym typed directly), plus its pseudonym when a key is configured.
    """
    keys = [identity, normalize_identity(identity)]
    if settings.pseudonym_key is not None and not is_pseudonym(identity):
        keys.append(pseudonym(key_of(settings), identity))
    return list(dict.fromkeys(keys))
