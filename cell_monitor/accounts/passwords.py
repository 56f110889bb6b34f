"""Password hashing with argon2id (argon2-cffi's current recommended parameters)."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified when the account does not exist, so that an unknown name takes
    # as long to refuse as a wrong password (no user enumeration by timing).
    return _HASHER.hash(secrets.token_urlsafe(16))


class WeakPassword(ValueError):
    """A password too short to be set."""


def check_strength(password: str) -> None:
    """Raise WeakPassword for passwords that are too easy to guess."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if password.strip() != password or not password.strip():
        raise WeakPassword("a password may not start or end with spaces")


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (PHC string, salt and parameters included)."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing account costs the same time."""
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)


def random_password() -> str:
    """A password for a generated account (about 130 bits)."""
    return secrets.token_urlsafe(22)
