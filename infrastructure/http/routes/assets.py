"""What the page loads besides its own files: its charting library, served from the installed
``plotly`` package, and its tables' columns, derived from the declarations.

plotly's wheel ships plotly.js (``plotly/package_data/plotly.min.js``); the page loads it from
this route, so the page works offline and no copy of it lives in the repository. The package is
located without importing it (its Python side is not needed here).

The orders table's columns are ``listing.ORDER_COLUMNS`` (``domain.order_state.ShownOrder``'s
``Listed`` fields): the page builds its table from ``GET /assets/columns.json`` and spells no
order field itself, so a field declared there shows on the page as in the CLI.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from orderledger.infrastructure.http.problems import Problem
from orderledger.infrastructure.listing import LISTINGS, ORDER_COLUMNS

router = APIRouter(include_in_schema=False)

PLOTLY_JS = "/assets/plotly.min.js"
"""Where the page finds plotly.js."""
COLUMNS_JSON = "/assets/columns.json"
"""Where the page finds its tables' columns."""


def _orders_table() -> dict[str, Any]:
    """The page's orders table: each column's field, heading, how it is shown (the column
    naming the order, the list's unique key, as a link to its timeline) and its places and
    sort; and the sorts that put the newest orders first (where live orders go on top)."""
    orders = LISTINGS["orders"]
    return {
        "columns": [
            {
                "field": c.field,
                "heading": c.heading,
                "shown": "link" if c.field == orders.tiebreak else c.shown,
                "places": c.places,
                "sort": c.sort,
            }
            for c in ORDER_COLUMNS
        ],
        "newest": ["newest", f"-{orders.default}"],
    }


COLUMNS = {"orders": _orders_table()}
"""What ``GET /assets/columns.json`` answers: per table of the page, its columns."""


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


@router.get(COLUMNS_JSON)
async def get_columns() -> JSONResponse:
    # Derived from the code: it changes with the installed release, so it is checked each load.
    return JSONResponse(COLUMNS, headers={"Cache-Control": "no-cache"})
