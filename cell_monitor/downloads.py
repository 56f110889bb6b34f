"""File downloads the feature routes share: CSV exports named with their time."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, Sequence
from datetime import datetime, timezone
from typing import Any

from fastapi.responses import StreamingResponse

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's
# CSV injection list); exported cells hold students' code and names.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(rows: Sequence[Sequence[Any]]) -> str:
    """CSV text of `rows`: times in ISO 8601, text a spreadsheet would run made inert."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[_csv_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def csv_download(rows: AsyncIterable[str], name: str) -> StreamingResponse:
    """Stream CSV `rows` as the file `<name>-<UTC time>.csv` (the time tells two exports apart)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )
