"""The API's routes, one module per area; ``ROUTERS`` in the order the app includes them."""

from orderledger.infrastructure.http.routes import analytics, assets, audit, lists, reading, writing

ROUTERS = (writing.router, reading.router, audit.router, lists.router, analytics.router, assets.router)
