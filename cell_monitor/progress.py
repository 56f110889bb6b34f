"""How long-running work reports its progress, without knowing who shows it.

Storage, privacy and partition code take a `Progress` and call `advance` as
work gets done; the CLI passes one that draws a bar on a terminal or writes
periodic lines (cell_monitor/cli/progress.py); everyone else gets NO_PROGRESS.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def set_total(self, total: int | None) -> None:
        """How many units the whole work has (None: not known)."""

    def advance(self, amount: int = 1, note: str = "") -> None:
        """`amount` more units done; `note` says what is being done now."""


class _NoProgress:
    def set_total(self, total: int | None) -> None:
        pass

    def advance(self, amount: int = 1, note: str = "") -> None:
        pass


NO_PROGRESS: Progress = _NoProgress()
