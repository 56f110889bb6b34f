"""Where the built instructor pages (dashboard, sign-in) are inside the package.

`npm run build:dashboard` copies them from the repository's dashboard/ folder and
compiles its TypeScript there; the wheel ships the result.
"""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().with_name("dashboard")
STATIC_DIR = PAGES_DIR / "static"
