"""Whose events these are, when the credential (not the body) decides.

With a hub token or a per-student credential the request's identity is
bound: every event is stored under it, with the name the hub (or the roster
the credential came from) gives: a name chosen in the browser's settings could
pass for another student's on the dashboard. A body that claims another student is
overwritten, not rejected: the event is kept (it is the sender's own activity
under a wrong label, or a forgery), but it can only ever land on the
sender's own record; each such event is counted in
`ingest_identity_mismatch_total{action="overwritten"}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OVERWRITTEN = "overwritten"


def student_key(student: str) -> str:
    """The stored key of a student id: an email address in lower case, else as given."""
    student = student.strip()
    return student.lower() if "@" in student else student


@dataclass(frozen=True)
class BoundIdentity:
    """The student a request may report as, with the name and team it is shown under.

    `name` and `team` come from the hub (user name, team group) or the roster;
    when None the body's own userName / teamName are kept.
    """

    student: str
    source: str  # "hub" or "credential"
    name: str | None = None
    team: str | None = None


# Every spelling the event contract accepts for a field (its camelCase alias and,
# as `populate_by_name` allows, its Python name): a bound identity replaces all.
_SPELLINGS = {
    "emailAddress": ("emailAddress", "email_address"),
    "userId": ("userId", "user_id"),
    "userName": ("userName", "user_name"),
    "teamName": ("teamName", "team_name"),
}


def _claim(item: dict[str, Any], field: str) -> str | None:
    for name in _SPELLINGS[field]:
        value = item.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def claimed_student(item: dict[str, Any]) -> str | None:
    """The student key an event's body names (as the server would key it), or None."""
    email = _claim(item, "emailAddress")
    if email is not None:
        return student_key(email)
    user_id = _claim(item, "userId")
    return user_id.strip() if user_id is not None else None


def _set(item: dict[str, Any], field: str, value: str | None) -> None:
    for name in _SPELLINGS[field]:
        item.pop(name, None)
    if value is not None:
        item[field] = value


def bind(
    item: dict[str, Any], identity: BoundIdentity, stored: Callable[[str], str] | None = None
) -> tuple[dict[str, Any], bool]:
    """(the event with the bound identity, whether its body claimed someone else).

    `stored`: how a claimed identity is stored, when the bound one is already
    in that form (a pseudonym), so that a student's own address is no mismatch.
    """
    claimed = claimed_student(item)
    if claimed is not None and stored is not None:
        claimed = stored(claimed)
    mismatch = claimed is not None and claimed != identity.student
    bound = dict(item)
    by_email = "@" in identity.student
    _set(bound, "emailAddress", identity.student if by_email else None)
    _set(bound, "userId", None if by_email else identity.student)
    if identity.name:
        _set(bound, "userName", identity.name)
    if identity.team:
        _set(bound, "teamName", identity.team)
    return bound, mismatch


def bind_all(
    items: list[Any], identity: BoundIdentity, stored: Callable[[str], str] | None = None
) -> tuple[list[Any], int]:
    """Bind every event object (others are left for validation to reject); mismatches."""
    mismatches = 0
    bound_items: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            item, mismatch = bind(item, identity, stored)
            mismatches += mismatch
        bound_items.append(item)
    return bound_items, mismatches
