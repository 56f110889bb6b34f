"""File downloads the feature routes share: CSV exports named with their time."""

from __future__ import annotations

from collections.abc import AsyncIterable
from datetime import datetime, timezone

from fastapi.responses import StreamingResponse


def csv_download(rows: AsyncIterable[str], name: str) -> StreamingResponse:
    """Stream CSV `rows` as the file `<name>-<UTC time>.csv` (the time tells two exports apart)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )
