"""Outside a hub: per-student credentials bind the identity; course tokens only declare it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.accounts import ingest_tokens
from cell_monitor.accounts.ingest_tokens import RosterEntry
from cell_monitor.config import Settings
from cell_monitor.storage.engine import create_engine
from tests.integration.test_cli import output_of, run_cli
from tests.integration.test_health_metrics import value
from tests.support import event, eventually, instructor_client, live_server

URL = "/api/v1/events"
MISMATCH = "ingest_identity_mismatch_total"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused_once_refreshed(http: httpx.AsyncClient, token: str) -> None:
    """Wait until the server's refreshed credential table refuses `token`.

    The probe is an empty batch: the credential is checked before the body is
    read, so the probe stores nothing whichever way it is answered.
    """

    async def refused() -> bool:
        return (await http.post(URL, json=[], headers=bearer(token))).status_code == 403

    await eventually(refused, what="the server to refuse the changed credential")


async def events_of(http: httpx.AsyncClient, student: str) -> list[dict[str, Any]]:
    response = await http.get(URL, params={"student": student})
    response.raise_for_status()
    return list(response.json()["items"])


async def test_a_student_credential_cannot_post_as_another_student(settings: Settings) -> None:
    fast = settings.model_copy(update={"ingest_token_refresh_seconds": 0.1})
    engine = create_engine(fast)
    try:
        roster = [
            RosterEntry("Ada@School.example", "Ada Lovelace", "red"),
            RosterEntry("grace", None, None),
        ]
        (_, ada_key, ada), (grace_id, _, grace) = await ingest_tokens.create_student_credentials(
            engine, roster, "python-101"
        )
        assert ada_key == "ada@school.example" and ada.startswith(ingest_tokens.STUDENT_PREFIX)
        _, course = await ingest_tokens.create_token(engine, "python-101")
        async with live_server(fast) as url, instructor_client(url) as staff:
            async with httpx.AsyncClient(base_url=url) as http:
                before = (await http.get("/metrics")).text
                # grace's own events, then a batch of ada's that claims to be grace.
                own = event(emailAddress=None, userId="grace", userName="Grace", code="own")
                assert (await http.post(URL, json=[own], headers=bearer(grace))).status_code == 202
                grace_before = await events_of(staff, "grace")
                forged = [
                    event(emailAddress="grace@school.example", userName="Grace", code="f1"),
                    event(emailAddress=None, userId="grace", teamName="blue", code="f2"),
                    event(emailAddress="ADA@school.example", userName="Me", code="mine"),
                    # The contract's Python names are other spellings of the same claim.
                    {
                        **event(emailAddress=None, userName=None, code="f3"),
                        "email_address": "grace@school.example",
                        "user_id": "grace",
                        "user_name": "Grace",
                    },
                ]
                answer = await http.post(URL, json=forged, headers=bearer(ada))
                assert answer.status_code == 202 and answer.json()["accepted"] == 4
                after = (await http.get("/metrics")).text

            stored = await events_of(staff, "ada@school.example")
            assert sorted(e["code"] for e in stored) == ["f1", "f2", "f3", "mine"]
            # Stored under the credential's student, shown with the roster's name and team.
            assert {e["emailAddress"] for e in stored} == {"ada@school.example"}
            assert {e["userId"] for e in stored} == {None}
            assert {e["userName"] for e in stored} == {"Ada Lovelace"}
            assert {e["teamName"] for e in stored} == {"red"}
            assert await events_of(staff, "grace") == grace_before
            assert (await events_of(staff, "grace@school.example")) == []
            # Three of the four claimed someone else (one was ada, in capitals).
            grown = value(after, MISMATCH, action="overwritten") - value(
                before, MISMATCH, action="overwritten"
            )
            assert grown == 3

            async with httpx.AsyncClient(base_url=url) as http:
                # A course token still declares: the body's identity is kept.
                declared = event(emailAddress="lin@school.example", code="declared")
                assert (
                    await http.post(URL, json=[declared], headers=bearer(course))
                ).status_code == 202
                assert [e["code"] for e in await events_of(staff, "lin@school.example")] == [
                    "declared"
                ]
                # A revoked credential reports nothing.
                assert await ingest_tokens.revoke_student_credentials(
                    engine, credential_id=grace_id
                )
                await refused_once_refreshed(http, grace)
                refused = await http.post(URL, json=[own], headers=bearer(grace))
                assert refused.status_code == 403 and "revoked" in refused.json()["detail"]
    finally:
        await engine.dispose()


async def test_without_declared_identity_a_course_token_is_refused(settings: Settings) -> None:
    strict = settings.model_copy(update={"declared_identity": False})
    engine = create_engine(strict)
    try:
        _, course = await ingest_tokens.create_token(engine, "python-101")
        [(_, _, ada)] = await ingest_tokens.create_student_credentials(engine, [RosterEntry("ada")])
        async with live_server(strict) as url, httpx.AsyncClient(base_url=url) as http:
            refused = await http.post(URL, json=[event()], headers=bearer(course))
            assert refused.status_code == 401
            assert "verified identity" in refused.json()["detail"]
            assert (await http.post(URL, json=[event()], headers=bearer(ada))).status_code == 202
            # A hub token to a server that is not a hub service: a clear refusal.
            hub = await http.post(URL, json=[event()], headers={"Authorization": "token abc"})
            assert hub.status_code == 401 and "not connected to a JupyterHub" in hub.text
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_token_create_from_a_roster(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    roster = tmp_path / "roster.csv"
    roster.write_text("Email,Name,Team\nada@school.example,Ada Lovelace,red\ngrace,,\n\n")
    created = run_cli(
        "token", "create", "python-101", "--roster", str(roster), "--student", "linus",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert created.returncode == 0, output_of(created)
    rows = list(csv.DictReader(io.StringIO(created.stdout)))
    assert [(r["student"], r["name"], r["team"]) for r in rows] == [
        ("ada@school.example", "Ada Lovelace", "red"),
        ("grace", "", ""),
        ("linus", "", ""),
    ]
    assert all(r["credential"].startswith(ingest_tokens.STUDENT_PREFIX) for r in rows)
    assert len({r["credential"] for r in rows}) == 3
    listing = run_cli("token", "list", cwd=tmp_path, env=env).stdout
    assert "student\tada@school.example\tpython-101\tcreated" in listing
    assert all(r["credential"] not in listing for r in rows)  # only hashes are stored

    revoked = run_cli("token", "revoke", "--student", "ADA@school.example", cwd=tmp_path, env=env)
    assert revoked.returncode == 0 and "Revoked 1" in revoked.stdout
    assert "revoked" in run_cli("token", "list", cwd=tmp_path, env=env).stdout

    # A student never seen in class: `student delete` still erases their credential.
    erased = run_cli("student", "delete", "grace", "--yes", cwd=tmp_path, env=env)
    assert erased.returncode == 0 and "1 student_credentials" in erased.stdout, output_of(erased)
    assert "\tgrace\t" not in run_cli("token", "list", cwd=tmp_path, env=env).stdout

    duplicate = tmp_path / "twice.csv"
    duplicate.write_text("student\nada\nADA\n")
    twice = run_cli("token", "create", "--roster", str(duplicate), cwd=tmp_path, env=env)
    assert twice.returncode != 0 and "appears twice" in twice.stderr
    headless = tmp_path / "headless.csv"
    headless.write_text("ada@school.example\n")
    refused = run_cli("token", "create", "--roster", str(headless), cwd=tmp_path, env=env)
    assert refused.returncode != 0 and "`student`" in refused.stderr


async def test_export_and_delete_cover_the_credentials(settings: Settings) -> None:
    from cell_monitor.privacy.erasure import erase_from_database
    from cell_monitor.privacy.export import export_student

    fast = settings.model_copy(update={"ingest_token_refresh_seconds": 0.1})
    engine = create_engine(fast)
    try:
        [(_, key, ada), (_, _, grace)] = await ingest_tokens.create_student_credentials(
            engine, [RosterEntry("ada@school.example", "Ada", "red"), RosterEntry("grace")]
        )
        async with live_server(fast) as url, httpx.AsyncClient(base_url=url) as http:
            assert (await http.post(URL, json=[event()], headers=bearer(ada))).status_code == 202
            exported = await export_student(engine, [key])
            [credential] = exported["credentials"]
            assert credential["student_key"] == key and credential["display_name"] == "Ada"
            assert "token_hash" not in credential and ada not in str(exported)
            found, counts = await erase_from_database(engine, [key])
            assert found == [key] and counts["student_credentials"] == 1
            await refused_once_refreshed(http, ada)
            # Erased, the credential reports nothing more; grace's still works.
            gone = await http.post(URL, json=[event()], headers=bearer(ada))
            assert gone.status_code == 403
            assert (await http.post(URL, json=[event()], headers=bearer(grace))).status_code == 202
        assert (await export_student(engine, [key]))["credentials"] == []
    finally:
        await engine.dispose()
