"""Passwords, rate limiting, redirect targets, token checks, production checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from cell_monitor.accounts import passwords
from cell_monitor.accounts.guard import safe_next
from cell_monitor.accounts.ingest_tokens import TokenCache, Verdict, digest
from cell_monitor.accounts.ratelimit import ConnectionSlots, RateLimiter, retry_after_header
from cell_monitor.accounts.safety import check_production, production_problems
from tests.support import make_settings


def test_passwords_are_argon2id_and_salted() -> None:
    first, second = (
        passwords.hash_password("a-long-password"),
        passwords.hash_password("a-long-password"),
    )
    assert first.startswith("$argon2id$") and first != second
    assert passwords.verify_password(first, "a-long-password")
    assert not passwords.verify_password(first, "a-long-passwore")
    assert not passwords.verify_password(None, "a-long-password")
    assert not passwords.verify_password("not a hash", "a-long-password")
    assert not passwords.needs_rehash(first)
    with pytest.raises(passwords.WeakPassword):
        passwords.check_strength("short")
    with pytest.raises(passwords.WeakPassword):
        passwords.check_strength(" padded-password ")


def test_token_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, capacity=3, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert limiter.acquire("b") == 0  # keys are independent
    now[0] = 0.5
    assert limiter.acquire("a") == 0
    limiter.refund("a")
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") > 0
    assert retry_after_header(0.01) == "1" and retry_after_header(2.2) == "3"
    assert RateLimiter(rate=0, capacity=1).acquire("x") == 0  # off


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(rate=1, capacity=1, max_keys=10)
    for i in range(100):
        limiter.acquire(f"client-{i}")
    assert len(limiter._buckets) == 10


def test_connection_slots() -> None:
    slots = ConnectionSlots(per_user=2)
    assert slots.take("a") and slots.take("a") and not slots.take("a")
    assert slots.take("b")
    slots.release("a")
    assert slots.take("a")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/dashboard?team=A", "/dashboard?team=A"),
        ("/api/v1/students", "/api/v1/students"),
        (None, "/dashboard"),
        ("", "/dashboard"),
        ("//evil.example", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("https://evil.example/x", "/dashboard"),
        ("javascript:alert(1)", "/dashboard"),
        ("/ok\r\nSet-Cookie: x=1", "/dashboard"),
        ("dashboard", "/dashboard"),
    ],
)
def test_safe_next(raw: str | None, expected: str) -> None:
    assert safe_next(raw) == expected


class _NoEngine:
    pass


def test_token_cache_verdicts() -> None:
    cache = TokenCache(_NoEngine(), 5)  # type: ignore[arg-type]
    assert cache.check(None) == (Verdict.open, None)
    cache.active = {digest("cmi_good"): "course"}
    cache.revoked = {digest("cmi_old")}
    assert cache.check("Bearer cmi_good") == (Verdict.ok, digest("cmi_good"))
    assert cache.check("bearer  cmi_good ")[0] is Verdict.ok
    assert cache.check(None)[0] is Verdict.missing
    assert cache.check("")[0] is Verdict.missing
    assert cache.check("Basic abc")[0] is Verdict.malformed
    assert cache.check("Bearer ")[0] is Verdict.malformed
    assert cache.check("Bearer " + "x" * 1000)[0] is Verdict.malformed
    assert cache.check("Bearer cmi_old")[0] is Verdict.revoked
    assert cache.check("Bearer cmi_other")[0] is Verdict.invalid


def test_production_checks(tmp_path: Path) -> None:
    base = make_settings(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path)
    assert production_problems(base) == []
    check_production(base)  # development: never refuses

    def problems(**fields: object) -> list[str]:
        return production_problems(base.model_copy(update=fields))

    placeholder = "postgresql://u:change-me-postgres-password@db/x"
    assert problems(database_url=placeholder)[0].startswith("DATABASE_URL")
    assert problems(database_url="postgresql://u@db/x")[0].startswith("DATABASE_URL")
    assert problems(database_url="postgresql://u:S3cr3t-9f8a@db/x") == []
    assert problems(redis_url="redis://:changeme@r:6379/0")[0].startswith("REDIS_URL")
    assert problems(redis_url="redis://r:6379/0") == []
    assert problems(influxdb_token="change-me")[0].startswith("INFLUXDB_TOKEN")
    assert problems(cors_origins=["https://lab.example.org/path"])[0].startswith(
        "CELL_MONITOR_CORS_ORIGINS"
    )
    # Weak, not only placeholders: common passwords, short or repetitive secrets.
    for weak in ("postgres", "password123", "CHANGE_ME_PLEASE", "Password1!", "a" * 30):
        found = problems(database_url=f"postgresql://u:{weak}@db/x")
        assert found and found[0].startswith("DATABASE_URL"), weak
        found = problems(redis_url=f"redis://:{weak}@r:6379/0")
        assert found and found[0].startswith("REDIS_URL"), weak
    assert problems(database_url="postgresql://u:correct-horse-battery-staple@db/x") == []
    for weak_key in ("0123456789abcdef", "abcabcabcabcabcabcab", "CHANGE_ME_PLEASE_KEY"):
        found = problems(pseudonymize=True, pseudonym_key=SecretStr(weak_key))
        assert found and found[0].startswith("CELL_MONITOR_PSEUDONYM_KEY"), weak_key
    strong_key = SecretStr("f16731db0acc9c8ce6773ebfe56a2f143d50308d437114a336c39ada0191c1f9")
    assert problems(pseudonymize=True, pseudonym_key=strong_key) == []
    assert problems(initial_admin_password=SecretStr("password1234"))[0].startswith(
        "CELL_MONITOR_INITIAL_ADMIN_PASSWORD"
    )
    production = base.model_copy(
        update={"environment": "production", "database_url": "postgresql://u@db/x"}
    )
    with pytest.raises(
        RuntimeError, match=r"(?s)CELL_MONITOR_ENVIRONMENT=production.*DATABASE_URL"
    ):
        check_production(production)


def test_settings_never_show_the_initial_password(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path}/db.sqlite3", tmp_path, initial_admin_password="hunter2-secret"
    )
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in str(
        settings.model_dump()
    )
