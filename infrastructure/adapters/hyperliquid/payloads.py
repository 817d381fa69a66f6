"""Hyperliquid's own payloads → ledger messages (WebSocket channels and info-endpoint replies).

Pure translation, no I/O. One input (a line) is any of:

* a WebSocket envelope ``{"channel": ..., "data": ...}`` for ``orderUpdates`` (a list of
  ``{order, status, statusTimestamp}``), ``userFills`` (``{isSnapshot?, user, fills}``),
  ``user`` (userEvents: ``{fills: [...]}``; other events are noted, not booked) and
  ``webData2`` (its ``openOrders``, diffed against the previous snapshot of the same ``user``);
  ``userFundings`` (``{user, fundings: [{time, coin, usdc, szi, fundingRate}]}``);
  ``subscriptionResponse`` and ``pong`` are acknowledged with a note;
* an info-endpoint reply: ``orderStatus`` (``{"status": "order", "order": {...}}``),
  ``historicalOrders`` (a list of ``{order, status, statusTimestamp}``), ``openOrders`` /
  ``frontendOpenOrders`` (a list of bare orders), ``userFills`` / ``userFillsByTime`` (a list
  of fills), ``userFunding`` (a list of ``{time, hash, delta: {type: "funding", coin, usdc,
  szi, fundingRate}}``);
* a ``spotMeta`` reply (``{"tokens": [...], "universe": [...]}``): it names the spot pairs
  that fills and orders call ``@<index>`` (the user supplies it once, as a line of the input or
  as ``spot_meta=``); nothing is booked from it.

Mapping (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api):

* ``cloid`` is the client order ID. An order without one is an external order keyed by its
  ``oid`` (``ext-<venue>-<oid>``): a ``request`` with ``external: true``.
* Orders: ``request`` (limit at ``limitPx`` unless ``orderType`` says market, or the trigger
  type it names with ``triggerPx``: :func:`order_terms`; quantity ``origSz``; ``tif`` as the
  time in force; ``reduceOnly``), ``accepted`` with ``venue_order_id = oid``, then
  ``canceled`` for every ``...Canceled`` status, ``rejected`` (and no acknowledgement, the
  ``oid`` kept as its venue order ID) for every ``...Rejected`` status. ``open`` and
  ``filled`` add no fact (fills come from userFills); ``triggered`` (a trigger order's
  ``triggerPx`` was reached) is a ``triggered``.
* Fills: ``trade_id = tid``; quantity ``sz``, price ``px``; ``fee`` = ``fee`` + ``builderFee``
  in ``feeToken`` (as ccxt books it); ``crossed`` → taker, else maker; ``closedPnl`` →
  ``venue_realized_pnl``. A fill of our own liquidation has no order the caller placed: an
  external market ``request`` tagged ``{"liquidation": "true"}`` precedes it, sized by that
  order's fills in the payload (Hyperliquid states no liquidation order size); fills of it in
  later payloads grow it (``infrastructure.application.feeds``: ``grow_forced_orders``). Hyperliquid
  puts the same ``liquidation`` object on both sides of a liquidation's trade, so the fill of a
  resting order of ours that another account's liquidation hit carries one too: the fill is
  our liquidation only when its ``liquidatedUser`` is the feed's user
  (:meth:`HyperliquidAdapter.feed_user`: the ``user`` the payload names, else the ``address``
  option, else ``account`` when it is an address, else the one user earlier frames of the
  ingest named), or when it names no ``liquidatedUser``; with the feed's user unknown the fill
  itself says: a closing taker fill is our liquidation, a maker fill (or one that opens) a
  resting order of ours that the liquidation hit (:func:`liquidated_here`). Any other fill
  without a ``cloid`` names its order by ``oid`` and waits (parked) until an order message for
  that ``oid`` arrives (orderUpdates, historicalOrders).
* Instruments: a perpetual is named by its coin (``BTC``, ``flx:CRCL``); a spot pair by its
  ``BASE/QUOTE`` name (``PURR/USDC``); ``@<index>`` is resolved through the spot meta; a
  line naming an index the spot meta read so far lacks raises ``MissingContext``: the ingest
  parks it until a spot meta naming the pair is recorded (``application.feeds.FeedContext``).

* Funding: one ``cash_flow`` of kind ``funding`` per payment, ``amount = usdc`` (positive:
  received) in USDC, ``rate = fundingRate``, ``position_quantity = szi``; its ``flow_id`` is
  ``funding:<coin>:<time ms>`` (:func:`funding_flow_id`).

WebSocket and REST carry the same fields, so the same fact gives the same messages whichever
arrives first, and the ledger books it once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.order import external_client_order_id
from orderledger.domain.values import format_timestamp, parse_timestamp
from orderledger.infrastructure.adapters.common import (
    AdapterError,
    MissingContext,
    decimal_text,
    in_applying_order,
    message,
    positive_text,
    sized_by_fills,
    text_or_none,
    time_from_millis,
)
from orderledger.infrastructure.adapters.snapshots.payloads import (
    OpenOrdersDiffer,
    parse_open_orders,
    snapshot_document,
)
from orderledger.infrastructure.messages.models import (
    AcceptedMessage,
    CanceledMessage,
    CashFlowMessage,
    FillMessage,
    InstrumentMessage,
    Message,
    RejectedMessage,
    RequestMessage,
    TriggeredMessage,
)

SOURCE = "hyperliquid"
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
"""A Hyperliquid account (user) is named by its address."""
SIDES = {"B": "buy", "A": "sell"}
IGNORED_CHANNELS = ("subscriptionResponse", "pong", "post", "error")
SPOT_PAIR = "hyperliquid_spot"
"""The context a fill or order naming an unknown ``@<index>`` waits for (``common.MissingContext``)."""
SPOT_META_NOTE = "spot pairs named"
"""How the journal reason of a spotMeta line ends: a settlement finds the spot names by it
(``feeds.HyperliquidFeed.context_note``)."""


def user_of(account: str | None) -> str | None:
    """The Hyperliquid user a ledger account names: the account when it is an address."""
    return account if account is not None and ADDRESS.fullmatch(account) else None


def liquidated_user(fill: Mapping[str, Any]) -> str | None:
    """The account a fill's ``liquidation`` object names as liquidated, if it names one."""
    liquidation = fill.get("liquidation")
    return text_or_none(liquidation.get("liquidatedUser")) if isinstance(liquidation, Mapping) else None


def closes_position(fill: Mapping[str, Any]) -> bool | None:
    """Does this fill reduce the position it traded on? From ``startPosition`` (the signed
    position before it) and ``side``, else from ``dir`` ("Close Long" sells, "Close Short"
    buys, "Open …" opens); None when the fill states neither."""
    side = text_or_none(fill.get("side"))
    start = decimal_text(fill.get("startPosition"), "startPosition")
    if start is not None and side in SIDES:
        held = Decimal(start)
        return (held > 0 and side == "A") or (held < 0 and side == "B")
    direction = text_or_none(fill.get("dir")) or ""
    if direction.startswith("Open"):
        return False
    closing = {"Close Long": "A", "Close Short": "B"}.get(direction)
    return None if closing is None else closing == side


def liquidated_by_fill(fill: Mapping[str, Any]) -> bool:
    """Is a fill of our own stream that carries a ``liquidation`` object our liquidation, read
    from the fill alone (the account's address unknown)?

    A liquidation sends the liquidated position to the book as a market order: the liquidated
    account's fill is the taker's (``crossed`` true) and reduces its position; the fill of a
    resting order it hit is a maker's (``crossed`` false), whatever it did to that position. So a
    maker fill, or one that opens or adds to a position, is a resting order of ours that another
    account's liquidation hit; any other (a closing taker fill) is our liquidation.
    """
    if fill.get("crossed") is False:
        return False
    return closes_position(fill) is not False


def liquidated_here(fill: Mapping[str, Any], user: str | None) -> bool:
    """Is this fill (a userFills entry, or ccxt's ``info`` of one) our own liquidation?

    Every fill of our fill stream is ours; the question is whose liquidation made it. Both sides
    of a liquidation's trade carry its ``liquidation`` object, and ``liquidatedUser`` names the
    account whose position was liquidated: with ``user``, the feed's user, known, the fill is
    our liquidation exactly when that is ``user``. With it unknown (an account named by a label,
    a payload naming no user), the fill itself says (:func:`liquidated_by_fill`). A
    ``liquidation`` object without ``liquidatedUser`` says so alone.
    """
    if not isinstance(fill.get("liquidation"), Mapping):
        return False
    liquidated = liquidated_user(fill)
    if liquidated is None:
        return True
    if user is not None:
        return liquidated.lower() == user.lower()
    return liquidated_by_fill(fill)


class SpotNames:
    """Spot pair names by index, read from an info ``spotMeta`` reply."""

    def __init__(self, meta: Mapping[str, Any] | None = None) -> None:
        self.names: dict[str, str] = {}
        self.learned: list[tuple[str, str]] = []  # (context kind, value) learned, for the feed to take
        if meta is not None:
            self.load(meta)

    def load(self, meta: Mapping[str, Any]) -> int:
        """Learn the pairs of a spotMeta reply; returns how many."""
        tokens = {}
        for token in _list(meta, "tokens"):
            if isinstance(token, Mapping):
                index, name = text_or_none(token.get("index")), text_or_none(token.get("name"))
                if index is not None and name is not None:
                    tokens[index] = name
        count = 0
        for pair in _list(meta, "universe"):
            if not isinstance(pair, Mapping):
                raise AdapterError("spotMeta universe entries must be objects")
            index = text_or_none(pair.get("index"))
            name = text_or_none(pair.get("name"))
            ids = pair.get("tokens")
            if index is None or name is None:
                raise AdapterError("a spotMeta universe entry needs index and name")
            if name.startswith("@") and isinstance(ids, list) and len(ids) == 2:
                base, quote = tokens.get(str(ids[0])), tokens.get(str(ids[1]))
                if base is not None and quote is not None:
                    name = f"{base}/{quote}"
            self.names[f"@{index}"] = name
            self.learned.append((SPOT_PAIR, f"@{index}"))
            count += 1
        return count

    def instrument(self, coin: str) -> str:
        """The ledger instrument of a Hyperliquid coin name."""
        if not coin.startswith("@"):
            return coin  # a perpetual's coin, or a spot pair already named BASE/QUOTE
        name = self.names.get(coin)
        if name is None:
            raise MissingContext(SPOT_PAIR, coin, f"Hyperliquid spot pair {coin}'s name (spotMeta)")
        return name


class HyperliquidAdapter:
    """Translates one ingest's Hyperliquid inputs, keeping the state they need between lines:
    the spot names, and the last ``webData2`` open orders per user (for the diff)."""

    def __init__(
        self,
        *,
        venue: str,
        account: str,
        spot_meta: Mapping[str, Any] | None = None,
        source: str = SOURCE,
        address: str | None = None,
    ) -> None:
        self.venue = venue
        self.account = account
        self.source = source
        self.spot = SpotNames(spot_meta)
        if address is not None and not ADDRESS.fullmatch(address):
            raise AdapterError(
                f"address {address[:60]!r} is not a Hyperliquid address (0x and 40 hex digits)"
            )
        # Whose fills a payload that names no user holds: the address given, else the account's.
        self.user = address or user_of(account)
        self._named: set[str] = set()  # the users this ingest's frames named
        self._open: dict[str, OpenOrdersDiffer] = {}

    def feed_user(self, named: str | None = None) -> str | None:
        """The user whose fills a payload holds: the one it names (userFills, webData2 and
        userFundings frames do), else the ``address`` given, else ``account`` when it is an
        address, else the one user the
        earlier frames of this ingest named (a feed follows one user); None when unknown."""
        if named is not None:
            self._named.add(named.lower())
            return named
        if self.user is not None:
            return self.user
        return next(iter(self._named)) if len(self._named) == 1 else None

    # ------------------------------------------------------------------ dispatch

    def messages(self, payload: Any, notes: list[str] | None = None) -> list[Message]:
        """The ledger messages of one Hyperliquid payload (see the module docstring); a
        liquidation's fills in it share one external request, sized by their sum; the
        perpetuals it names are defined first (:func:`perp_definitions`)."""
        found = sized_by_fills(self._messages(payload, notes if notes is not None else []))
        return [*perp_definitions(found, self.venue, self.source), *found]

    def _messages(self, payload: Any, notes: list[str]) -> list[Message]:
        if isinstance(payload, Mapping) and "channel" in payload:
            return in_applying_order(self._channel(payload, notes))
        if isinstance(payload, Mapping):
            if "universe" in payload and "tokens" in payload:
                notes.append(f"spot meta: {self.spot.load(payload)} {SPOT_META_NOTE}")
                return []
            if payload.get("status") == "order" and isinstance(payload.get("order"), Mapping):
                return in_applying_order(self.order_status(payload["order"], notes))
            if payload.get("status") == "unknownOid":
                notes.append("orderStatus: unknown oid at the venue")
                return []
            raise AdapterError(
                "not a Hyperliquid payload: expected a channel envelope, a list or orderStatus"
            )
        if not isinstance(payload, list):
            raise AdapterError("a Hyperliquid payload is a JSON object or array")
        out: list[Message] = []
        for index, item in enumerate(payload):
            if not isinstance(item, Mapping):
                raise AdapterError(f"payload[{index}] is not an object")
            if "tid" in item:
                out += self.fill(item, self.feed_user(), notes)
            elif isinstance(item.get("delta"), Mapping):
                out += self.funding(item["delta"], item.get("time"), notes)
            elif isinstance(item.get("order"), Mapping):
                out += self.order_status(item, notes)
            elif "oid" in item:
                out += self.order(item, None, None, notes)
            else:
                raise AdapterError(f"payload[{index}] is neither a Hyperliquid order nor a fill")
        return in_applying_order(out)

    def _channel(self, envelope: Mapping[str, Any], notes: list[str]) -> list[Message]:
        channel = text_or_none(envelope.get("channel")) or ""
        data = envelope.get("data")
        if channel in IGNORED_CHANNELS:
            notes.append(f"{channel}: no order fact")
            return []
        if channel == "orderUpdates":
            if not isinstance(data, list):
                raise AdapterError("orderUpdates data must be a list")
            return [m for item in data for m in self.order_status(_object(item, "orderUpdates[]"), notes)]
        if channel in ("userFills", "user"):
            data = _object(data, channel)
            if channel == "user" and "fills" not in data:
                notes.append(f"userEvents {', '.join(sorted(data))[:60]}: not an order fact, not booked")
                return []
            user = self.feed_user(text_or_none(data.get("user")))
            return [
                m for fill in _list(data, "fills") for m in self.fill(_object(fill, "fills[]"), user, notes)
            ]
        if channel == "webData2":
            return self.web_data(_object(data, "webData2"), notes)
        if channel == "userFundings":
            data = _object(data, channel)
            self.feed_user(text_or_none(data.get("user")))
            return [
                m
                for item in _list(data, "fundings")
                for m in self.funding(
                    _object(item, "fundings[]"), _object(item, "fundings[]").get("time"), notes
                )
            ]
        raise AdapterError(f"Hyperliquid channel {channel[:40]!r} is not one the adapter reads")

    # ------------------------------------------------------------------ orders

    def order_status(self, item: Mapping[str, Any], notes: list[str]) -> list[Message]:
        """``{order, status, statusTimestamp}`` (orderUpdates, historicalOrders, orderStatus)."""
        order = _object(item.get("order"), "order")
        status = text_or_none(item.get("status"))
        when = time_from_millis(item.get("statusTimestamp"), "statusTimestamp")
        return self.order(order, status, when, notes)

    def order(
        self, order: Mapping[str, Any], status: str | None, when: str | None, notes: list[str]
    ) -> list[Message]:
        """The messages of one order in a given status (None: a bare open-orders entry)."""
        oid = text_or_none(order.get("oid"))
        if oid is None:
            raise AdapterError("a Hyperliquid order needs an oid")
        cloid = text_or_none(order.get("cloid"))
        created = time_from_millis(order.get("timestamp"), "timestamp")
        if created is None:
            raise AdapterError(f"Hyperliquid order {oid} has no timestamp")
        when = when or created
        request = self._request(order, oid, cloid, created)
        out: list[Message] = [request]
        # What each report of the order states of it, for the ledger to compare (check_stated).
        stated = {"account": self.account, "instrument": request.instrument, "side": request.side.value}
        status = status or "open"
        if status.endswith("Rejected") or status == "rejected":
            # Never acknowledged: the rejection keeps the oid the venue gave the order (a
            # rejection's venue order ID names the order; it acknowledges nothing).
            named = cloid or external_client_order_id(self.venue, oid)
            out.append(
                message(
                    RejectedMessage,
                    client_order_id=named,
                    venue=self.venue,
                    venue_order_id=oid,
                    **stated,
                    ts=when,
                    source=self.source,
                    reason=status,
                )
            )
            return out
        key = {"client_order_id": cloid, "venue": self.venue, "venue_order_id": oid, **stated}
        out.append(message(AcceptedMessage, **key, ts=created, source=self.source))
        if status.endswith("Canceled") or status in ("canceled", "scheduledCancel"):
            out.append(message(CanceledMessage, **key, ts=when, source=self.source, reason=status))
        elif status == "triggered":  # a trigger order's triggerPx was reached: now it works
            out.append(message(TriggeredMessage, **key, ts=when, source=self.source))
        elif status not in ("open", "filled"):
            notes.append(f"order {oid}: status {status[:40]!r} is not booked")
        return out

    def _request(self, order: Mapping[str, Any], oid: str, cloid: str | None, ts: str) -> RequestMessage:
        coin = text_or_none(order.get("coin"))
        side = SIDES.get(text_or_none(order.get("side")) or "")
        quantity = positive_text(order.get("origSz"), "origSz") or positive_text(order.get("sz"), "sz")
        if coin is None or side is None or quantity is None:
            raise AdapterError(f"Hyperliquid order {oid} needs coin, side B/A and a positive origSz")
        order_type, terms = order_terms(order)
        price = positive_text(order.get("limitPx"), "limitPx")
        tif = text_or_none(order.get("tif"))
        return message(
            RequestMessage,
            client_order_id=cloid,
            venue=self.venue,
            venue_order_id=None if cloid else oid,
            external=None if cloid else True,
            account=self.account,
            instrument=self.spot.instrument(coin),
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price if order_type in PRICED else None,
            time_in_force=None if tif is None else tif.upper(),
            post_only=None if tif is None else tif.lower() == "alo",  # Alo: add liquidity only
            **terms,
            ts=ts,
            source=self.source,
        )

    # ------------------------------------------------------------------ funding

    def funding(self, delta: Mapping[str, Any], time: object, notes: list[str]) -> list[Message]:
        """One funding payment: a ``userFunding`` reply's ``delta`` (with the entry's ``time``)
        or a ``userFundings`` channel entry (``time`` in it). ``usdc`` is what the position
        received (positive) or paid; ``szi`` the signed position it was paid on."""
        kind = text_or_none(delta.get("type"))
        if kind not in (None, "funding"):
            notes.append(f"ledger update {kind[:40]!r}: not a position's cash flow, not booked")
            return []
        coin = text_or_none(delta.get("coin"))
        amount = decimal_text(delta.get("usdc"), "usdc")
        ts = time_from_millis(time, "time")
        if coin is None or amount is None or ts is None:
            raise AdapterError("a Hyperliquid funding payment needs coin, usdc and time")
        return [
            message(
                CashFlowMessage,
                kind="funding",
                account=self.account,
                venue=self.venue,
                instrument=self.spot.instrument(coin),
                flow_id=funding_flow_id(coin, time),
                amount=amount,
                currency="USDC",
                rate=decimal_text(delta.get("fundingRate"), "fundingRate"),
                position_quantity=decimal_text(delta.get("szi"), "szi"),
                ts=ts,
                source=self.source,
            )
        ]

    # ------------------------------------------------------------------ fills

    def fill(
        self, fill: Mapping[str, Any], user: str | None, notes: list[str] | None = None
    ) -> list[Message]:
        """One fill of ``user``'s userFills (WebSocket or info), preceded by an external request
        when it is that user's liquidation (:func:`liquidated_here`)."""
        tid = text_or_none(fill.get("tid"))
        oid = text_or_none(fill.get("oid"))
        if tid is None or oid is None:
            raise AdapterError("a Hyperliquid fill needs tid and oid")
        coin = text_or_none(fill.get("coin"))
        side = SIDES.get(text_or_none(fill.get("side")) or "")
        quantity = positive_text(fill.get("sz"), "sz")
        price = positive_text(fill.get("px"), "px")
        ts = time_from_millis(fill.get("time"), "time")
        if coin is None or side is None or quantity is None or price is None or ts is None:
            raise AdapterError(f"Hyperliquid fill {tid} needs coin, side B/A, positive sz and px, and time")
        cloid = text_or_none(fill.get("cloid"))
        instrument = self.spot.instrument(coin)
        fee = decimal_text(fill.get("fee"), "fee")
        builder = decimal_text(fill.get("builderFee"), "builderFee")
        if builder is not None:
            fee = decimal_text(Decimal(fee or "0") + Decimal(builder), "fee")
        out: list[Message] = []
        ours = liquidated_here(fill, user)
        named = liquidated_user(fill)
        if cloid is None and user is None and named is not None and notes is not None:
            notes.append(
                f"fill {tid}: the liquidation of {named}, read from the fill as our address is unknown"
                " (no `address`, the account no address, no frame naming a user): "
                + ("ours, a closing taker fill" if ours else f"a fill of our resting order {oid} it hit")
            )
        if cloid is None and ours:
            out.append(
                message(
                    RequestMessage,
                    venue=self.venue,
                    venue_order_id=oid,
                    external=True,
                    account=self.account,
                    instrument=instrument,
                    side=side,
                    order_type="market",
                    quantity=quantity,
                    tags={"liquidation": "true"},
                    ts=ts,
                    source=self.source,
                )
            )
        crossed = fill.get("crossed")
        out.append(
            message(
                FillMessage,
                client_order_id=cloid,
                venue=self.venue,
                venue_order_id=oid,
                account=self.account,  # what the fill states of its order (check_stated)
                instrument=instrument,
                side=side,
                trade_id=tid,
                quantity=quantity,
                price=price,
                fee=fee,
                fee_currency=text_or_none(fill.get("feeToken")) if fee is not None else None,
                liquidity=None if not isinstance(crossed, bool) else ("taker" if crossed else "maker"),
                venue_realized_pnl=decimal_text(fill.get("closedPnl"), "closedPnl"),
                ts=ts,
                source=self.source,
            )
        )
        return out

    # ------------------------------------------------------------------ webData2

    def web_data(self, data: Mapping[str, Any], notes: list[str]) -> list[Message]:
        """webData2: its open orders against the previous webData2 of the same user.

        New orders are requested and acknowledged; an order that left the list, or whose size
        changed, is only noted: why it left (filled, canceled) and what filled come from
        orderUpdates and userFills, which say so.
        """
        user = text_or_none(data.get("user")) or "-"
        if user != "-":
            self.feed_user(user)
        orders = [_object(o, "openOrders[]") for o in _list(data, "openOrders")]
        rows = [open_order_row(order, self.spot) for order in orders]
        differ = self._open.get(user)
        if differ is None:
            differ = OpenOrdersDiffer()
        changes = differ.diff(rows)  # refused rows leave the previous snapshot in place
        self._open[user] = differ
        new = {o.venue_order_id for o in changes.new}
        out = [
            m
            for order in orders
            if text_or_none(order.get("oid")) in new
            for m in self.order(order, None, None, notes)
        ]
        for update in changes.updated:
            notes.append(
                f"webData2: order {update.current.venue_order_id} changed {', '.join(update.changed)}"
            )
        for gone in changes.closed:
            notes.append(
                f"webData2: order {gone.venue_order_id} left the open orders"
                " (its outcome comes from orderUpdates)"
            )
        if not out and not changes:
            notes.append("webData2: open orders unchanged")
        return out


PERP_SETTLE = "USDC"
"""What Hyperliquid's perpetuals (the first perp dex's, named by a bare coin) settle in: their
margin, P&L, fees and funding are USDC."""


def perp_definitions(messages: list[Message], venue: str, source: str = SOURCE) -> list[Message]:
    """An ``instrument`` definition for each perpetual the messages name, so that its position
    and P&L are in its settle currency without ``instruments load``: a swap of contract size 1,
    linear, settling in USDC for a bare coin (``HYPE``); a builder-deployed perpetual
    (``dex:COIN``) settles in its dex's collateral token, which its fills' fees are paid in
    (``feeToken``: USDH for ``flx:CRCL``), so it is defined by a fill, not by an order alone.
    Spot pairs (``BASE/QUOTE``) name their quote currency already."""
    settles: dict[str, tuple[str, str]] = {}  # instrument → (settle currency, time)
    for m in messages:
        instrument = getattr(m, "instrument", None)
        if not isinstance(instrument, str) or "/" in instrument or instrument in settles:
            continue
        if ":" not in instrument:
            settles[instrument] = (PERP_SETTLE, format_timestamp(m.ts))
        elif type(m) is FillMessage and m.fee_currency is not None:
            settles[instrument] = (m.fee_currency, format_timestamp(m.ts))
    return [
        message(
            InstrumentMessage,
            venue=venue,
            instrument=instrument,
            kind="swap",
            settle_currency=settle,
            quote_currency=settle,
            ts=ts,
            source=source,
        )
        for instrument, (settle, ts) in settles.items()
    ]


TRIGGER_TYPES = {
    "stop market": "stop_market",
    "stop limit": "stop_limit",
    "take profit market": "take_profit_market",
    "take profit limit": "take_profit_limit",
}
"""A trigger order's ``orderType`` (as frontendOpenOrders, orderStatus and historicalOrders name
it) → the ledger's order type; its trigger is ``triggerPx`` (``isTrigger`` true)."""
PRICED = frozenset({"limit", "stop_limit", "take_profit_limit"})
"""The ledger's order types booked with ``limitPx`` as their price (a trigger market order's
``limitPx`` is its slippage bound, not a limit)."""


def order_terms(order: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ledger's order type of a Hyperliquid order and the request fields it states beyond
    price and time in force: ``trigger_price`` (``triggerPx`` of a trigger order) and
    ``reduce_only`` (``reduceOnly`` true). A Limit or Market order (or a bare open-orders entry,
    which names no type) keeps the two plain types: priced by ``limitPx`` unless it says market."""
    kind = (text_or_none(order.get("orderType")) or "").lower()
    order_type = TRIGGER_TYPES.get(kind)
    if order_type is None:
        market = "market" in kind or positive_text(order.get("limitPx"), "limitPx") is None
        order_type = "market" if market else "limit"
    terms: dict[str, Any] = {}
    if kind in TRIGGER_TYPES:
        trigger = positive_text(order.get("triggerPx"), "triggerPx") if order.get("isTrigger") else None
        if trigger is None:
            raise AdapterError(f"Hyperliquid {kind} order {order.get('oid')!r} needs isTrigger and triggerPx")
        terms["trigger_price"] = trigger
    if order.get("reduceOnly") is True:
        terms["reduce_only"] = True
    return order_type, terms


def open_order_row(order: Mapping[str, Any], spot: SpotNames) -> dict[str, Any]:
    """One open order (webData2 ``openOrders``, info ``frontendOpenOrders`` / ``openOrders``)
    as a row of a reconciliation snapshot's ``open_orders`` (docs/reconciliation.md)."""
    oid, coin = text_or_none(order.get("oid")), text_or_none(order.get("coin"))
    side = SIDES.get(text_or_none(order.get("side")) or "")
    if oid is None or coin is None or side is None:
        raise AdapterError("a Hyperliquid open order needs oid, coin and side B/A")
    size, original = decimal_text(order.get("sz"), "sz"), decimal_text(order.get("origSz"), "origSz")
    filled = decimal_text(Decimal(original) - Decimal(size or "0"), "filled") if original else "0"
    market = "market" in (text_or_none(order.get("orderType")) or "").lower()
    return {
        "venue_order_id": oid,
        "client_order_id": text_or_none(order.get("cloid")),
        "instrument": spot.instrument(coin),
        "side": side,
        "order_type": "market" if market else "limit",
        "quantity": original or size,
        "price": None if market else positive_text(order.get("limitPx"), "limitPx"),
        "filled_quantity": filled,
        "status": "open",
        # When the order was placed: an order a snapshot read out of turn finds is stamped then.
        "created_at": time_from_millis(order.get("timestamp"), "timestamp"),
    }


def web_data_snapshot(data: Any, spot: SpotNames, *, venue: str, as_of: datetime) -> dict[str, Any]:
    """A ``webData2`` frame's ``data`` (a trader's complete open orders) as a reconciliation
    snapshot of the account named by the trader's address (``snapshots`` format), as of the
    frame's ``serverTime`` when it has one, else ``as_of`` (or the latest time an order it holds
    was placed, if later: the clocks of the venue and the collector differ)."""
    data = _object(data, "webData2")
    user = text_or_none(data.get("user"))
    if user is None or not ADDRESS.fullmatch(user):
        raise AdapterError("a webData2 frame must name its user's address")
    rows = [open_order_row(_object(o, "openOrders[]"), spot) for o in _list(data, "openOrders")]
    server = time_from_millis(data.get("serverTime"), "serverTime")
    orders = parse_open_orders(rows)
    if server is None:  # the collector's clock: never before an order the frame holds was placed
        placed = [parse_timestamp(o.created_at) for o in orders if o.created_at is not None]
        as_of = max([as_of, *placed])
    return snapshot_document(orders, venue=venue, account=user, as_of=server or as_of)


def funding_flow_id(coin: str, time: object) -> str:
    """The ID of one funding payment: Hyperliquid gives none (the info reply's ``hash`` is all
    zeros, the channel's entries have no hash), and pays one per coin per funding time, so
    (coin, time in milliseconds) identifies it, alike in the reply, the channel and ccxt."""
    return f"funding:{coin}:{decimal_text(time, 'time')}"


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AdapterError(f"{where} must be an object")
    return value


def _list(structure: Mapping[str, Any], key: str) -> list[Any]:
    value = structure.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AdapterError(f"{key} must be a list")
    return value


__all__ = [
    "SOURCE",
    "SPOT_META_NOTE",
    "HyperliquidAdapter",
    "SpotNames",
    "closes_position",
    "funding_flow_id",
    "liquidated_by_fill",
    "liquidated_here",
    "liquidated_user",
    "open_order_row",
    "perp_definitions",
    "user_of",
    "web_data_snapshot",
]
