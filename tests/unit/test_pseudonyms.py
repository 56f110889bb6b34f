"""Pseudonyms: stable under one key, unrelated without it, applied once at ingest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from cell_monitor.config import Settings
from cell_monitor.ingest.parse import validate_batch
from cell_monitor.privacy.pseudonyms import (
    PSEUDONYM_CHARS,
    PseudonymKeyMissing,
    is_pseudonym,
    key_of,
    pseudonym,
    student_keys,
)
from tests.support import event, make_settings

KEY = b"0123456789abcdef-test-key"
OTHER_KEY = b"fedcba9876543210-test-key"


def pseudonymizing(tmp_path: Path, key: str = KEY.decode()) -> Settings:
    return make_settings("sqlite:///unused.sqlite3", tmp_path, pseudonymize=True, pseudonym_key=key)


def test_stable_and_normalized() -> None:
    first = pseudonym(KEY, "ada@example.org")
    assert first == pseudonym(KEY, "ada@example.org")
    assert first == pseudonym(KEY, "  Ada@Example.ORG ")  # emails compare case-insensitively
    assert is_pseudonym(first) and len(first) == 2 + PSEUDONYM_CHARS
    assert pseudonym(KEY, "bob@example.org") != first


def test_user_ids_keep_their_case() -> None:
    # userIds (hub names, OS users) are case-sensitive identities in the store too.
    assert pseudonym(KEY, "Ada") != pseudonym(KEY, "ada")


def test_depends_on_the_key() -> None:
    assert pseudonym(KEY, "ada@example.org") != pseudonym(OTHER_KEY, "ada@example.org")


def test_not_derivable_without_the_key() -> None:
    """Nothing an analyst can compute from the identity alone gives the pseudonym."""
    identity = "ada@example.org"
    alias = pseudonym(KEY, identity)
    body = alias.removeprefix("s-")
    for name in ("md5", "sha1", "sha256", "sha512", "blake2b"):
        digest = hashlib.new(name, identity.encode()).digest()
        assert base64.b32encode(digest).decode().lower()[: len(body)] != body
        assert digest.hex()[: len(body)] != body
    # An HMAC under a guessed key (empty, or the identity itself) does not match either.
    for guess in (b"", identity.encode(), b"cell-monitor"):
        digest = hmac.new(guess, identity.encode(), hashlib.sha256).digest()
        assert base64.b32encode(digest[:10]).decode().lower() != body
    assert "ada" not in alias and "example" not in alias


def test_no_collisions_among_many_students() -> None:
    aliases = {pseudonym(KEY, f"student{i}@school.example") for i in range(100_000)}
    assert len(aliases) == 100_000


def test_required_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CELL_MONITOR_PSEUDONYM_KEY"):
        make_settings("sqlite:///unused.sqlite3", tmp_path, pseudonymize=True)
    with pytest.raises(ValidationError, match="CELL_MONITOR_PSEUDONYM_KEY must be at least"):
        pseudonymizing(tmp_path, key="short")
    with pytest.raises(PseudonymKeyMissing, match="CELL_MONITOR_PSEUDONYM_KEY"):
        key_of(make_settings("sqlite:///unused.sqlite3", tmp_path))


def test_key_is_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = pseudonymizing(tmp_path)
    assert KEY.decode() not in repr(settings)
    assert KEY.decode() not in str(settings.model_dump())
    assert KEY.decode() not in settings.model_dump_json()


def test_lookup_keys(tmp_path: Path) -> None:
    settings = pseudonymizing(tmp_path)
    alias = pseudonym(KEY, "ada@example.org")
    assert student_keys(settings, "Ada@Example.org") == [
        "Ada@Example.org",
        "ada@example.org",
        alias,
    ]
    assert student_keys(settings, alias) == [alias]  # a pseudonym is looked up as is
    plain = make_settings("sqlite:///unused.sqlite3", tmp_path)
    assert student_keys(plain, "ada@example.org") == ["ada@example.org"]


def test_ingest_replaces_identity(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = pseudonymizing(tmp_path)
    caplog.set_level(logging.DEBUG)
    items = [
        event(emailAddress="Ada@Example.org", userName="Ada Lovelace", userEmail="ada@x.org"),
        event(emailAddress=None, userId="jdoe", userName="John Doe"),
    ]
    batch = validate_batch(items, settings)
    assert not batch.rejected
    ada, john = batch.events
    alias = pseudonym(KEY, "ada@example.org")
    assert (ada.student_key, ada.user_id, ada.user_name, ada.email_address) == (
        alias,
        alias,
        alias,
        None,
    )
    assert ada.extra is None  # unknown fields may carry identity
    assert john.student_key == pseudonym(KEY, "jdoe")
    assert ada.code == "print(1)" and ada.team_name == "A"  # the rest is kept
    everything = repr(batch.events) + caplog.text
    for secret in ("Ada", "ada@", "Lovelace", "jdoe", "John", KEY.decode()):
        assert secret not in everything


def test_ingest_without_pseudonyms_is_unchanged(tmp_path: Path) -> None:
    settings = make_settings("sqlite:///unused.sqlite3", tmp_path)
    (ada,) = validate_batch([event(emailAddress="Ada@Example.org")], settings).events
    assert ada.student_key == "ada@example.org" and ada.user_name == "Ada"
