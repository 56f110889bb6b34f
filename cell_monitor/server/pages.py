"""The instructor dashboard page and its static assets, served by the server itself."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from cell_monitor.pages import PAGES_DIR, STATIC_DIR

router = APIRouter(tags=["dashboard"], include_in_schema=False)

# The page's own files change with each release; the browser revalidates them (ETag).
_NO_STALE = {"Cache-Control": "no-cache"}


@router.get("/")
async def root() -> RedirectResponse:
    """The server's home is the dashboard."""
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/dashboard")
async def page() -> FileResponse:
    """The dashboard's HTML (scripts and styles are separate files, for a strict CSP)."""
    return FileResponse(PAGES_DIR / "index.html", media_type="text/html", headers=_NO_STALE)


@router.get("/dashboard/static/{path:path}")
async def static(path: str) -> FileResponse:
    """A script, stylesheet or icon of the dashboard."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        raise HTTPException(404, "not found")
    media_type = "text/javascript" if target.suffix == ".js" else None
    return FileResponse(target, media_type=media_type, headers=_NO_STALE)
