"""Messages: safe Markdown, audience validation, what a student's answer event carries."""

from __future__ import annotations

from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest
from pydantic import ValidationError

from cell_monitor.contract.events import EventIn
from cell_monitor.contract.messages import (
    MARKDOWN_ALLOWLIST,
    MAX_REPLY_CHARS,
    Audience,
    MessageIn,
)
from cell_monitor.domain.records import NewEvent
from cell_monitor.messages.render import render_markdown
from cell_monitor.storage.message_receipts import message_uid, reply_text

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<iframe src=https://evil.example></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](file:///etc/passwd)",
    "[rel](/api/contents)",
    "![pixel](https://tracker.example/p.gif)",
    "<div onmouseover='alert(1)'>hover</div>",
    "<svg><script>alert(1)</script></svg>",
    "```html\n<script>alert(1)</script>\n```",
    "<style>body{display:none}</style>",
    '[x](https://example.org "title" onclick="alert(1)")',
]


ALLOWED_TAGS = set(MARKDOWN_ALLOWLIST.tags)


def _allowed(tag: str, attribute: str) -> bool:
    return attribute in MARKDOWN_ALLOWLIST.attributes.get(tag, [])


def test_the_allowlist_names_nothing_that_runs_or_loads() -> None:
    assert not ALLOWED_TAGS & {"script", "style", "img", "iframe", "svg", "object", "form"}
    attributes = {a for names in MARKDOWN_ALLOWLIST.attributes.values() for a in names}
    assert not [a for a in attributes if a.startswith("on") or a in {"src", "style"}]
    assert all(p in ("http://", "https://", "mailto:") for p in MARKDOWN_ALLOWLIST.link_prefixes)


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_renders_without_markup_from_the_author(text: str) -> None:
    parser = _Elements()
    parser.feed(render_markdown(text))
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, (tag, text)
        for name, value in attrs:
            assert _allowed(tag, name), (tag, name, text)
            if name == "href":
                assert (value or "").startswith(("https://", "http://", "mailto:")), value


def test_markdown_keeps_what_a_hint_needs() -> None:
    html = render_markdown(
        "Use **pandas** and `df.head()`:\n\n```python\nimport pandas as pd\n```\n\n"
        "- one\n- two\n\nSee [the docs](https://pandas.pydata.org)."
    )
    assert "<strong>pandas</strong>" in html and "<code>df.head()</code>" in html
    assert '<code class="language-python">import pandas as pd' in html
    assert "<li>one</li>" in html
    assert (
        '<a href="https://pandas.pydata.org" target="_blank" rel="noopener noreferrer nofollow">'
        in html
    )


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ('[x](https://e.org "a title")', '<a href="https://e.org" target="_blank"'),
        ("3. three\n4. four", "<ol>\n<li>three"),
        ("```py extra\nx\n```", '<pre><code class="language-py">x'),
        ('```a"b\nx\n```', "<pre><code>x"),
        ("```a<b\nx\n```", "<pre><code>x"),
    ],
)
def test_attributes_and_languages_are_held_to_the_allowlist(text: str, html: str) -> None:
    rendered = render_markdown(text)
    assert html in rendered, rendered
    assert "title=" not in rendered and "start=" not in rendered


@pytest.mark.parametrize(
    ("audience", "missing"),
    [
        ({"kind": "students"}, "students"),
        ({"kind": "team"}, "team"),
        ({"kind": "hotspot", "notebook": "a.ipynb"}, "cellIndex, errorName"),
        ({"kind": "cluster", "notebook": "a.ipynb", "cellIndex": 1}, "fingerprint"),
    ],
)
def test_an_audience_names_what_its_kind_needs(audience: dict[str, object], missing: str) -> None:
    with pytest.raises(ValidationError, match=f"needs {missing}"):
        Audience.model_validate(audience)


def test_a_message_refuses_unknown_fields_and_empty_bodies() -> None:
    good = {"requestId": "r" * 16, "body": "hi", "audience": {"kind": "class"}}
    assert MessageIn.model_validate(good).audience.kind == "class"
    with pytest.raises(ValidationError):
        MessageIn.model_validate({**good, "html": "<b>"})
    with pytest.raises(ValidationError):
        MessageIn.model_validate({**good, "body": "   "})


def _event(**fields: str) -> NewEvent:
    now = datetime.now(timezone.utc)
    return NewEvent("e", "message_reply", now, now, "ada@example.org", **fields)  # type: ignore[arg-type]


def test_answer_events_carry_a_message_id_and_a_short_reply() -> None:
    assert message_uid(_event(message_id="m-1")) == "m-1"
    assert message_uid(_event()) is None
    assert reply_text(_event(reply_text="  ok  ")) == "ok"
    assert reply_text(_event(reply_text="   ")) is None
    assert reply_text(_event(reply_text="y" * 2000)) == "y" * MAX_REPLY_CHARS


def test_a_message_id_longer_than_any_is_refused() -> None:
    base = {"eventType": "message_seen", "userId": "ada"}
    assert EventIn.model_validate({**base, "messageId": "m-1"}).message_id == "m-1"
    with pytest.raises(ValidationError):
        EventIn.model_validate({**base, "messageId": "x" * 65})


@pytest.mark.parametrize(
    "fields",
    [
        {"body": "a\x00b"},
        {"requestId": "r" * 8 + "\x00"},
        {"snippet": "x\x00"},
        {"audience": {"kind": "students", "students": ["a\x00"]}},
        {"audience": {"kind": "team", "team": "\x00"}},
    ],
)
def test_text_with_nul_is_refused(fields: dict[str, object]) -> None:
    good = {"requestId": "r" * 16, "body": "hi", "audience": {"kind": "class"}}
    with pytest.raises(ValidationError, match="NUL"):
        MessageIn.model_validate({**good, **fields})


def test_an_answer_naming_a_message_with_nul_is_refused() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        EventIn.model_validate({"eventType": "message_seen", "userId": "a", "messageId": "m\x00"})
