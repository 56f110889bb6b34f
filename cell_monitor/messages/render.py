"""Markdown to safe HTML: what an instructor writes can carry no HTML or script to a student.

markdown-it-py with raw HTML off (tags are shown as text), its link check
(no javascript:, vbscript:, file: or data: URLs) and images off (no request to
another server when a message opens); links open in a new tab without a referrer.
The student's JupyterLab sanitizes the result once more before showing it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_MD.disable(["image", "html_block", "html_inline"])
_ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


def _validate_link(url: str) -> bool:
    # Stricter than markdown-it's default: absolute web and mail links only (a
    # relative link would resolve against the student's own Jupyter server).
    return url.strip().lower().startswith(_ALLOWED_SCHEMES)


_MD.validateLink = _validate_link  # type: ignore[method-assign]


def _link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return str(self.renderToken(tokens, idx, options, env))


_MD.add_render_rule("link_open", _link_open)


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """The HTML of `text` (cached: one message is rendered for every student it reaches)."""
    return str(_MD.render(text))
