"""The API's routes, one module per area; ``ROUTERS`` in the order the app includes them."""

from orderledger.infrastructure.http.routes import assets, audit, reading, writing

ROUTERS = (writing.router, reading.router, audit.router, assets.router)
