"""The shape of code: equivalent attempts share one, different logic does not."""

from __future__ import annotations

import pytest

from cell_monitor.domain.code_shapes import shape_of

ADD = '''def add(a, b):
    """Return the sum."""
    total = a + b  # add them
    return total
'''


@pytest.mark.parametrize(
    "variant",
    [
        "def add(x, y):\n    s = x + y\n    return s\n",
        "def add(a,b):\n\n    total=a+b\n    return total",
        "# my answer\ndef add(first: int, second: int) -> int:\n"
        "    result = first + second\n    return result\n",
        "def add(a, b):\n    '''docstring in other quotes'''\n"
        "    total = (a + b)\n    return total\n",
    ],
)
def test_formatting_comments_docstrings_and_local_names_do_not_count(variant: str) -> None:
    assert shape_of(variant) == shape_of(ADD)
    assert shape_of(variant).method == "ast"


@pytest.mark.parametrize(
    "different",
    [
        "def add(a, b):\n    return a - b\n",  # other operator
        "def add(a, b):\n    return b + a + 0\n",  # other expression
        "def plus(a, b):\n    total = a + b\n    return total\n",  # the name the exercise asks for
        "def add(a, b):\n    total = a + b\n    print(total)\n",  # prints instead of returning
    ],
)
def test_different_logic_or_names_the_code_did_not_bind_stay_apart(different: str) -> None:
    assert shape_of(different).fingerprint != shape_of(ADD).fingerprint


def test_builtins_and_imports_keep_their_names() -> None:
    assert shape_of("x = len(items)").fingerprint != shape_of("x = sum(items)").fingerprint
    assert shape_of("import math\ny = math.sqrt(2)") == shape_of("import math\nz = math.sqrt(2)")
    # `items` is not bound here: it comes from an earlier cell, so its name counts.
    assert shape_of("n = len(items)") != shape_of("n = len(values)")


def test_local_names_are_numbered_by_first_appearance() -> None:
    assert shape_of("a = 1\nb = a + 1").text == "v0 = 1\nv1 = v0 + 1"
    assert shape_of("for i in range(3):\n    print(i)").text == "for v0 in range(3):\n    print(v0)"


def test_syntax_errors_fall_back_to_tokens_without_comments_or_spacing() -> None:
    broken = shape_of("print('hi'  # unfinished")
    assert broken.method == "tokens"
    assert broken == shape_of("print('hi'")
    assert shape_of("for i in range(3)\n    print(i)").method == "tokens"
    assert shape_of("x = = 1").method == "tokens"
    assert shape_of("x = = 1") != shape_of("x = 1")


def test_unterminated_strings_and_deep_nesting_do_not_raise() -> None:
    assert shape_of('s = "never closed').method == "tokens"
    deep = "x = " + "(" * 5000 + "1" + ")" * 5000
    assert shape_of(deep).method == "tokens"  # too deep for the parser: compared by tokens
    assert shape_of(deep) == shape_of(deep.replace(" = ", "="))


def test_empty_code_is_its_own_shape() -> None:
    assert shape_of(None) == shape_of("") == shape_of("  \n# only a comment\n")
    assert shape_of(None).method == "empty"
