"""The pure parts of hub mode and bound identity: roles, teams, binding, the answer cache."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cell_monitor.accounts.hub import HubUser, _Answers, hub_prefix, public_url, role_of, team_of
from cell_monitor.accounts.identity import BoundIdentity, bind, bind_all, claimed_student
from cell_monitor.accounts.users import Role
from cell_monitor.config import Settings
from cell_monitor.contract.events import EventIn


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def user(*groups: str, admin: bool = False, kind: str = "user") -> HubUser:
    return HubUser(name="ada", kind=kind, admin=admin, groups=groups)


def test_the_role_follows_admin_then_instructor_then_ta_groups() -> None:
    config = settings(hub_instructor_groups="teachers,staff", hub_ta_groups="helpers")
    assert role_of(user(admin=True), config) is Role.admin
    assert role_of(user("staff", "helpers"), config) is Role.instructor
    assert role_of(user("helpers"), config) is Role.ta
    assert role_of(user("instructors", "team-red"), config) is None  # not a configured group
    assert role_of(user("teachers", kind="service"), config) is None


def test_the_team_comes_from_the_prefixed_group() -> None:
    assert team_of(user("team-red", "students"), settings()) == "red"
    assert team_of(user("team-red", "team-blue"), settings()) == "blue"  # the first by name
    assert team_of(user("team-", "students"), settings()) is None
    assert team_of(user("team-red"), settings(hub_team_prefix="")) is None


def test_hub_addresses() -> None:
    config = settings(hub_api_url="http://10.0.0.5:8081/jupyter/hub/api", hub_api_token="t" * 32)
    assert hub_prefix(config) == "/jupyter/hub/"
    assert public_url(config) == "http://10.0.0.5:8081"
    public = config.model_copy(update={"hub_public_url": "https://hub.example"})
    assert public_url(public) == "https://hub.example" and hub_prefix(public) == "/jupyter/hub/"


def test_hub_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="go together"):
        settings(hub_api_url="http://127.0.0.1:8081/hub/api")
    with pytest.raises(ValidationError, match="http"):
        settings(hub_api_url="127.0.0.1:8081", hub_api_token="x")
    with pytest.raises(ValidationError, match="service-"):
        settings(hub_oauth_client_id="cell-monitor")
    hub = settings(hub_api_url="http://h/hub/api", hub_api_token="x")
    assert hub.hub_enabled and not hub.hub_sign_in and not hub.accepts_declared_identity
    assert settings().accepts_declared_identity
    assert settings(declared_identity=False).accepts_declared_identity is False


def test_binding_overwrites_the_claim_and_says_when_it_differed() -> None:
    ada = BoundIdentity("ada", "hub", name="ada", team="red")
    bound, mismatch = bind({"userId": "bob", "emailAddress": "bob@x.org", "teamName": "b"}, ada)
    assert mismatch and bound["userId"] == "ada" and "emailAddress" not in bound
    assert bound["userName"] == "ada" and bound["teamName"] == "red"
    _, same = bind({"userId": "ada"}, ada)
    _, unclaimed = bind({"eventType": "help"}, ada)
    assert not same and not unclaimed
    by_email = BoundIdentity("ada@x.org", "credential")
    bound, mismatch = bind(
        {"emailAddress": "ADA@x.org", "userId": "os-user", "userName": "A"}, by_email
    )
    assert not mismatch and bound["emailAddress"] == "ada@x.org" and "userId" not in bound
    assert bound["userName"] == "A"  # no roster name: the body's is kept
    items, mismatches = bind_all([{"userId": "bob"}, "not an event", {"userId": "ada"}], ada)
    assert mismatches == 1 and items[1] == "not an event"
    assert claimed_student({"emailAddress": "  ", "userId": "x"}) == "x"


def test_binding_replaces_every_spelling_of_the_identity() -> None:
    # The contract also accepts the Python names (email_address, user_id, ...).
    ada = BoundIdentity("ada", "hub", name="ada", team="red")
    body = {"email_address": "bob@x.org", "user_id": "bob", "user_name": "Bob", "team_name": "b"}
    bound, mismatch = bind(body, ada)
    assert mismatch
    assert bound == {"userId": "ada", "userName": "ada", "teamName": "red"}
    model = EventIn.model_validate({**bound, "eventType": "help"})
    assert model.email_address is None and model.user_id == "ada"


def test_the_answer_cache_is_bounded_and_expires() -> None:
    answers = _Answers(size=2)
    ada = user()
    answers.put("a", ada, 60)
    answers.put("b", None, 60)
    assert answers.get("a") == (True, ada)  # a is now the most recent
    answers.put("c", ada, 60)
    assert answers.get("b") == (False, None) and len(answers) == 2
    answers.put("d", ada, -1)  # its time is up already
    assert answers.get("d") == (False, None) and len(answers) == 1
