"""The API's routes, one module per area; :func:`routers` in the order the app includes them."""

from fastapi import APIRouter

from orderledger.infrastructure.http.routes import (
    analytics,
    assets,
    audit,
    exposure,
    lists,
    reading,
    risk,
    writing,
)


def routers() -> tuple[APIRouter, ...]:
    """The routers of one app: the writes made now (their formats are the registry's as it
    stands), the others as imported."""
    return (
        writing.router(),
        reading.router,
        exposure.router,
        audit.router,
        lists.router,
        analytics.router,
        risk.router,
        assets.router,
    )
