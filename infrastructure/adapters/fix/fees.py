"""A fill's fee: Commission (12/13) and the MiscFees group (136)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from orderledger.infrastructure.adapters.common import decimal_text
from orderledger.infrastructure.adapters.fix.codes import MISC_FEE_TYPES, WHOLE, FixError, Report
from orderledger.infrastructure.adapters.fix.framing import FixFields, value_of
from orderledger.infrastructure.adapters.fix.scales import Context, shortened


@dataclass(frozen=True)
class _Charge:
    amount: Decimal
    currency: str | None
    what: str


def fees(report: Report, quantity: str | None, ctx: Context, trade_id: str) -> tuple[str | None, str | None]:
    """The fill's fee and currency: Commission (12/13) plus MiscFees in that currency."""
    charges = [
        c
        for c in (_commission(report, quantity, ctx, trade_id), *_misc_fees(report, quantity, ctx, trade_id))
        if c
    ]
    if not charges:
        return None, None
    currency = next((c.currency for c in charges if c.currency is not None), None)
    total = Decimal(0)
    for charge in charges:
        if charge.currency in (None, currency):
            total += charge.amount
        else:
            shown = f"{charge.what} {decimal_text(charge.amount, 'fee')} {shortened(charge.currency)}"
            ctx.notes.append(
                f"trade {shortened(trade_id)}: {shown} not booked: the fill's fee is in"
                f" {shortened(currency or '')}, and a fill carries one fee currency"
            )
    return decimal_text(total, "fee"), currency


def _per_basis(
    amount: str, basis: str | None, quantity: str | None, what: str, ctx: Context, trade_id: str
) -> Decimal | None:
    """An amount on its basis: absolute, or per unit × LastQty; another basis is noted, not guessed."""
    if basis in (None, "absolute"):
        return Decimal(amount)
    if basis == "per unit" and quantity is not None:
        return Decimal(amount) * Decimal(quantity)
    ctx.notes.append(
        f"trade {shortened(trade_id)}: {what} {shortened(amount)} on a {basis} basis"
        " not booked (venue-specific)"
    )
    return None


def _commission(report: Report, quantity: str | None, ctx: Context, trade_id: str) -> _Charge | None:
    amount = decimal_text(value_of(report, 12), "Commission(12)")
    if amount is None:
        return None
    basis = {None: None, "3": "absolute", "1": "per unit", "2": "percentage"}.get(
        value_of(report, 13), "CommType"
    )
    if basis == "CommType":
        basis = f"CommType {shortened(value_of(report, 13) or '')}"
    value = _per_basis(amount, basis, quantity, "Commission (12)", ctx, trade_id)
    if value is None:
        return None
    return _Charge(value, value_of(report, 479) or value_of(report, 15), "Commission (12)")


def _misc_fees(report: Report, quantity: str | None, ctx: Context, trade_id: str) -> list[_Charge]:
    """The MiscFees group (136; 137 amount, 138 currency, 139 type, 891 basis per entry)."""
    count_text = value_of(report, 136)
    if count_text is None:
        return []
    if not WHOLE.match(count_text):
        raise FixError(f"NoMiscFees (136) is not a count: {count_text[:20]!r}")
    entries = _group(report, 136, 137, (137, 138, 139, 891))
    if len(entries) != int(count_text):
        raise FixError(
            f"NoMiscFees (136) is {int(count_text)} but the message holds {len(entries)} MiscFeeAmt (137)"
        )
    charges = []
    for entry in entries:
        amount = decimal_text(entry.get(137), "MiscFeeAmt(137)")
        if amount is None:
            continue
        kind = entry.get(139)
        what = f"MiscFee ({_fee_type(kind)})"
        basis = {None: None, "0": "absolute", "1": "per unit", "2": "percentage"}.get(
            entry.get(891), "MiscFeeBasis"
        )
        value = _per_basis(amount, basis, quantity, what, ctx, trade_id)
        if value is not None:
            charges.append(_Charge(value, entry.get(138) or value_of(report, 15), what))
    return charges


def _fee_type(kind: str | None) -> str:
    if kind is None:
        return "untyped"
    return MISC_FEE_TYPES.get(kind) or f"type {shortened(kind)}"


def _group(report: Report, count_tag: int, first: int, members: tuple[int, ...]) -> list[dict[int, str]]:
    """The entries of a repeating group; a plain mapping can hold only one entry."""
    if not isinstance(report, FixFields):
        entry = {tag: value for tag in members if (value := value_of(report, tag)) is not None}
        return [entry] if entry else []
    entries: list[dict[int, str]] = []
    inside = False
    for tag, value in report.pairs:
        if tag == count_tag:
            inside = True
        elif inside and tag == first:
            entries.append({tag: value})
        elif inside and entries and tag in members and tag not in entries[-1]:
            entries[-1][tag] = value
        elif inside and entries:
            inside = False  # the first field outside the group ends it
    return entries
