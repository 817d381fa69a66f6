"""The small session the Python API tests query, and the shells' tests compare with it.

A bought 4 BTC-USDT at 100, B sold 3 at 110, C (ETH-USDT, another account) is open: the
figures are worked out by hand in ``tests/api/test_python_api.py``'s docstring.
"""

from __future__ import annotations

from tests.support.integration import fill, request

SESSION = (
    request("A", seconds=0),
    fill("A", "a1", "4", "100", seconds=1, fee="0.4", fee_currency="USDT"),
    request("B", seconds=5, side="sell", quantity="3", price="110"),
    fill("B", "b1", "3", "110", seconds=6),
    request("C", seconds=10, account="other", venue="W", instrument="ETH-USDT", quantity="1", price="50"),
)
