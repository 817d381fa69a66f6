"""The page's charting library, served from the installed ``plotly`` package.

plotly's wheel ships plotly.js (``plotly/package_data/plotly.min.js``); the page loads it from
this route, so the page works offline and no copy of it lives in the repository. The package is
located without importing it (its Python side is not needed here).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from orderledger.infrastructure.http.problems import Problem

router = APIRouter(include_in_schema=False)

PLOTLY_JS = "/assets/plotly.min.js"
"""Where the page finds plotly.js."""


@cache
def plotly_js() -> Path | None:
    """The installed package's plotly.min.js, or None when plotly is not installed."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


@router.get(PLOTLY_JS)
async def get_plotly() -> FileResponse:
    path = plotly_js()
    if path is None:
        raise Problem(404, "plotly is not installed: pip install plotly (the page's charts need it)")
    # The file changes only when the package is upgraded; a day's cache spares a reload.
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})
