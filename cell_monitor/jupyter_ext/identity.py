"""Who the events are about, decided on the server side where it matters.

On JupyterHub the hub user is the student: it is stamped on every event as
`userId` and whatever the browser claims (`emailAddress`, `userId`) is
dropped, so a student cannot report as someone else. Elsewhere the student's
own settings (emailAddress) identify them, with the configured or operating
system user as `userId` when nothing else is set.
"""

from __future__ import annotations

from typing import Any


def stamp_identity(
    event: dict[str, Any], *, hub_user: str | None, fallback_user: str | None
) -> dict[str, Any]:
    """Return `event` with the identity the class server will key it by."""
    stamped = dict(event)
    if hub_user:
        stamped.pop("emailAddress", None)
        stamped["userId"] = hub_user
    elif (
        fallback_user
        and not _present(stamped.get("emailAddress"))
        and not _present(stamped.get("userId"))
    ):
        stamped["userId"] = fallback_user
    return stamped


def _present(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
