"""Markdown to safe HTML: what an instructor writes can carry no HTML or script to a student.

markdown-it-py with raw HTML off (tags are shown as text) and images off (no
request to another server when a message opens); what it produces is held to
the contract's MARKDOWN_ALLOWLIST, the list the dashboard and the student's
JupyterLab apply once more before showing it: links only to absolute web and
mail addresses, opening in a new tab without a referrer; attributes and a fenced
block's language only as the list allows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from cell_monitor.contract.messages import MARKDOWN_ALLOWLIST

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_MD.disable(["image", "html_block", "html_inline"])
_LINK_PREFIXES = tuple(MARKDOWN_ALLOWLIST.link_prefixes)
_ATTRIBUTES = {tag: frozenset(names) for tag, names in MARKDOWN_ALLOWLIST.attributes.items()}
_CODE_CLASS = re.compile(MARKDOWN_ALLOWLIST.code_class_pattern)


def _validate_link(url: str) -> bool:
    # Stricter than markdown-it's default (which only refuses javascript:, data: ...):
    # a relative link would resolve against the student's own Jupyter server.
    return url.strip().lower().startswith(_LINK_PREFIXES)


_MD.validateLink = _validate_link  # type: ignore[method-assign]


def _link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("target", MARKDOWN_ALLOWLIST.link_target)
    tokens[idx].attrSet("rel", MARKDOWN_ALLOWLIST.link_rel)
    return str(self.renderToken(tokens, idx, options, env))


_MD.add_render_rule("link_open", _link_open)


def _hold_to_allowlist(tokens: Sequence[Token]) -> None:
    """Drop what the list does not allow: attributes (a link's title), a fence's odd language."""
    for token in tokens:
        if token.attrs:
            allowed = _ATTRIBUTES.get(token.tag, frozenset())
            token.attrs = {k: v for k, v in token.attrs.items() if k in allowed}
        if token.type == "fence":
            language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
            if not _CODE_CLASS.fullmatch(f"language-{language}"):
                token.info = ""
        if token.children:
            _hold_to_allowlist(token.children)


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """The HTML of `text` (cached: one message is rendered for every student it reaches)."""
    env: dict[str, Any] = {}
    tokens = _MD.parse(text, env)
    _hold_to_allowlist(tokens)
    return str(_MD.renderer.render(tokens, _MD.options, env))
