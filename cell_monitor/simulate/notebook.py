"""The lesson the simulated class works through: real code, real results, the usual mistakes."""

from __future__ import annotations

from dataclasses import dataclass, field

NOTEBOOK_PATH = "lessons/01-grades.ipynb"


@dataclass(frozen=True)
class Mistake:
    """A typical error on a cell: what the student typed and what Python answered."""

    error_name: str
    message: str
    code: str
    # Chance of making it on the first attempt (an average student; skill scales it).
    chance: float


@dataclass(frozen=True)
class Cell:
    index: int
    code: str
    result: str | None = None
    cell_type: str = "code"
    # Names this cell defines, and the cells whose names it uses.
    defines: tuple[str, ...] = ()
    needs: tuple[int, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    # Typical kernel time of the cell in milliseconds.
    duration_ms: float = 3.0

    @property
    def cell_id(self) -> str:
        return f"grades-{self.index:02d}"


def _md(index: int, text: str) -> Cell:
    return Cell(index, text, cell_type="markdown", duration_ms=0.0)


CELLS: tuple[Cell, ...] = (
    _md(0, "# Lesson 1: analysing grades\nRun each cell in order."),
    Cell(1, "import math\nimport statistics", defines=("math", "statistics")),
    Cell(
        2,
        'grades = {"alice": 82, "bob": 75, "chen": 91, "dana": 68}\nlen(grades)',
        "4",
        defines=("grades",),
    ),
    Cell(
        3,
        'grades["alice"]',
        "82",
        needs=(2,),
        mistakes=(Mistake("KeyError", "'Alice'", 'grades["Alice"]', 0.25),),
    ),
    Cell(
        4,
        "values = list(grades.values())\nmean = sum(values) / len(values)\nmean",
        "79.0",
        defines=("values", "mean"),
        needs=(2,),
    ),
    Cell(
        5,
        'print(f"Mean grade: {mean:.1f}")',
        "Mean grade: 79.0",
        needs=(4,),
        mistakes=(
            Mistake(
                "TypeError",
                'can only concatenate str (not "float") to str',
                'print("Mean grade: " + mean)',
                0.3,
            ),
        ),
    ),
    _md(6, "## How spread out are the grades?"),
    Cell(
        7,
        "variance = sum((v - mean) ** 2 for v in values) / len(values)\n"
        "std = math.sqrt(variance)\nround(std, 2)",
        "8.34",
        defines=("std",),
        needs=(1, 4),
    ),
    Cell(
        8,
        "passed = [name for name, g in grades.items() if g >= 70]\n"
        "failed = [name for name, g in grades.items() if g < 70]\npassed",
        "['alice', 'bob', 'chen']",
        defines=("passed", "failed"),
        needs=(2,),
    ),
    Cell(
        9,
        "pass_rate = len(passed) / len(grades)\npass_rate",
        "0.75",
        defines=("pass_rate",),
        needs=(8,),
        mistakes=(
            Mistake(
                "ZeroDivisionError",
                "division by zero",
                "pass_rate = len(passed) / len(failed) - 1\npass_rate",
                0.2,
            ),
        ),
    ),
    Cell(
        10,
        'def letter(grade):\n    if grade >= 90:\n        return "A"\n'
        '    elif grade >= 80:\n        return "B"\n    return "C"',
        defines=("letter",),
        mistakes=(
            Mistake(
                "SyntaxError",
                "expected ':' (2, 19)",
                'def letter(grade):\n    if grade >= 90\n        return "A"\n    return "B"',
                0.2,
            ),
        ),
    ),
    Cell(
        11,
        "{name: letter(g) for name, g in grades.items()}",
        "{'alice': 'B', 'bob': 'C', 'chen': 'A', 'dana': 'C'}",
        needs=(2, 10),
    ),
    Cell(
        12,
        'raw = "82, 75, 91, 68"\nscores = [int(s) for s in raw.split(",")]\nscores',
        "[82, 75, 91, 68]",
        mistakes=(
            Mistake(
                "ValueError",
                "invalid literal for int() with base 10: ' x91'",
                'raw = "82, 75, x91, 68"\nscores = [int(s) for s in raw.split(",")]',
                0.15,
            ),
        ),
    ),
    _md(13, "## A first model\nDo more hours of study mean better grades?"),
    Cell(
        14,
        "from sklearn.linear_model import LinearRegression",
        defines=("LinearRegression",),
        duration_ms=850.0,
        mistakes=(
            Mistake(
                "ModuleNotFoundError",
                "No module named 'sklearn'",
                "from sklearn.linear_model import LinearRegression",
                0.15,
            ),
        ),
    ),
    Cell(
        15,
        "hours = [[6], [4], [9], [2]]\nmodel = LinearRegression().fit(hours, values)\n"
        "round(model.coef_[0], 2)",
        "3.07",
        defines=("model",),
        needs=(4, 14),
        duration_ms=40.0,
    ),
    Cell(
        16,
        "weeks = 12\nper_week = sum(values) / weeks\nround(per_week, 1)",
        "26.3",
        needs=(4,),
        mistakes=(
            Mistake(
                "ZeroDivisionError",
                "division by zero",
                "weeks = 0\nper_week = sum(values) / weeks",
                0.1,
            ),
        ),
    ),
    Cell(
        17,
        'summary = {"mean": mean, "std": std, "passed": len(passed)}\nsummary',
        "{'mean': 79.0, 'std': 8.34, 'passed': 3}",
        defines=("summary",),
        needs=(4, 7, 8),
    ),
    Cell(
        18,
        "print(f\"{summary['mean']:.1f} ± {summary['std']:.1f}\")",
        "79.0 ± 8.3",
        needs=(17,),
        mistakes=(
            Mistake(
                "SyntaxError",
                "'(' was never closed",
                "print(f\"{summary['mean']:.1f} ± {summary['std']:.1f}\"",
                0.2,
            ),
        ),
    ),
    Cell(
        19,
        "statistics.median(values)",
        "78.5",
        needs=(1, 4),
        mistakes=(
            Mistake(
                "AttributeError",
                "module 'statistics' has no attribute 'medain'",
                "statistics.medain(values)",
                0.1,
            ),
        ),
    ),
    _md(20, "## Done!\nSave the notebook."),
)


@dataclass
class Progress:
    """What one student's kernel has run successfully (names defined)."""

    done: set[int] = field(default_factory=set)

    def missing_name(self, cell: Cell) -> str | None:
        """The first name the cell uses that this student never defined (→ NameError)."""
        for needed in cell.needs:
            if needed not in self.done:
                names = CELLS[needed].defines
                return names[0] if names else None
        return None
