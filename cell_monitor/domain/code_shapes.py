"""The shape of a student's code: what is left when formatting and naming are taken away.

Two attempts with the same shape do the same thing in the same way, written differently:
comments, docstrings, blank lines, spacing, quotes and the names of the student's own
variables do not count. Names the student did not bind (builtins, imports, functions
the exercise asks for, attributes) keep their spelling: `len(x)` and `sum(x)` differ.

Code that does not parse (a SyntaxError is a common attempt too) is compared by its
tokens instead, with comments and whitespace dropped.
"""

from __future__ import annotations

import ast
import hashlib
import io
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Method = Literal["ast", "tokens", "empty"]

# Parsing deeply nested or huge code costs more than it tells; such attempts are
# compared by their tokens (still deterministic, just less forgiving).
MAX_AST_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Shape:
    text: str  # the canonical form (valid Python when method == "ast")
    method: Method

    @property
    def fingerprint(self) -> str:
        return hashlib.sha1(f"{self.method}\0{self.text}".encode()).hexdigest()[:16]


@lru_cache(maxsize=50_000)
def shape_of(code: str | None) -> Shape:
    """The shape of `code`; cached, since a class shares many identical attempts."""
    if code is None or not code.strip():
        return Shape("", "empty")
    if len(code) <= MAX_AST_CHARS:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
        else:
            if not tree.body:  # only comments
                return Shape("", "empty")
            try:
                return Shape(_canonical(tree), "ast")
            except RecursionError:
                pass
    return Shape(_token_text(code), "tokens")


def _canonical(tree: ast.Module) -> str:
    _drop_docstrings(tree)
    bound = _bound_names(tree)
    renames = {name: f"v{i}" for i, name in enumerate(_in_order(tree, bound))}
    _Renamer(renames).visit(tree)
    return ast.unparse(tree)


def _drop_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the code itself binds: variables, loop targets, parameters, `as` names."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _in_order(tree: ast.AST, bound: set[str]) -> list[str]:
    """Bound names by first appearance, so the numbering follows the code, not a set."""
    seen: dict[str, None] = {}
    for node in _walk_in_order(tree):
        name = _name_of(node)
        if name is not None and name in bound:
            seen.setdefault(name, None)
    return list(seen)


def _walk_in_order(node: ast.AST) -> list[ast.AST]:
    out: list[ast.AST] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(list(ast.iter_child_nodes(current))))
    return out


def _name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.ExceptHandler):
        return node.name
    return None


class _Renamer(ast.NodeTransformer):
    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.renames.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self.renames.get(node.arg, node.arg)
        node.annotation = None  # annotations are style here, not behaviour
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.name:
            node.name = self.renames.get(node.name, node.name)
        self.generic_visit(node)
        return node


_SKIPPED_TOKENS = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


def _token_text(code: str) -> str:
    """Tokens joined by single spaces, comments and layout dropped (for unparsable code)."""
    parts: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type in _SKIPPED_TOKENS:
                continue
            if token.type == tokenize.INDENT:
                parts.append("<indent>")
            elif token.type == tokenize.DEDENT:
                parts.append("<dedent>")
            elif token.string.strip():
                parts.append(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # Unterminated strings or brackets: compare by words, comments cut off.
        return " ".join(_words(code))
    return " ".join(parts)


def _words(code: str) -> list[str]:
    lines = [line.split("#", 1)[0] for line in code.splitlines()]
    return " ".join(lines).split()
