"""A repeated request is compared field by field as each field's ``Repeat`` marker says
(``OrderSpec``, ``domain.order_fields``), and one that differs in any field is never a silent
duplicate: it adds what the order lacks, or it is a conflict (refused from the party that made
the request, an anomaly holding both values from anyone else).

And the declaration itself: every field of a request carries its markers, a field without a
repeat rule is found, and each field a repeat may add is one ``OrderDetailsAdded`` carries.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import given as given_
from hypothesis import settings
from hypothesis import strategies as st

from orderledger.domain import order_terms
from orderledger.domain.errors import ClientOrderIdReuseError, ContradictionError
from orderledger.domain.events import (
    REQUEST_FIELDS,
    WHEN_GIVEN,
    AnomalyRecorded,
    OrderDetailsAdded,
    OrderSpec,
    stored_when_given,
)
from orderledger.domain.order import REPEATS
from orderledger.domain.order_fields import CHANGES, Check, Repeat, Says, field_markers, unmarked
from orderledger.domain.order_state import FROM_REQUEST
from orderledger.domain.order_terms import TERM_NAMES, OrderTerms
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import Contingency, OrderType, Side, TrailingOffsetType, TriggerReference
from tests.support.builders import CLIENT_ORDER_ID, accepted, given, only_event, refused, spec, stamp

OTHER_PARTY = "venue-report"
"""A source other than the request's (``stamp``'s default ``test``): a venue's report."""


# ---------------------------------------------------------------------- the declaration


def test_every_field_of_a_request_carries_its_message_rule_and_its_repeat_rule() -> None:
    assert unmarked(OrderSpec, Says, Repeat) == []
    assert set(REPEATS) == set(field_markers(OrderSpec, Says)) == set(REQUEST_FIELDS)
    # The terms are fields of their own in the request's flat form, held as one value
    assert set(REQUEST_FIELDS) == (set(OrderSpec.model_fields) - {"terms"}) | set(OrderTerms.model_fields)


def test_a_field_without_a_repeat_rule_is_found() -> None:
    # Given a copy of the declaration with one more field, its message rule said, its repeat rule not
    class Unruled(OrderSpec):
        shown_size: Annotated[Decimal | None, WHEN_GIVEN, Says(Check.FIGURE, "shown size")] = None

    # Then the field is named as lacking a marker, as is one marked twice
    assert unmarked(Unruled, Says, Repeat) == ["shown_size"]

    class Twice(OrderSpec):
        shown_size: Annotated[
            Decimal | None, Says(Check.FIGURE, "shown size"), Repeat.MAY_ADD, Repeat.MUST_MATCH
        ] = None

    assert unmarked(Twice, Says, Repeat) == ["shown_size"]


def test_a_term_without_a_repeat_rule_is_found_in_the_request() -> None:
    # Given the terms with one more, its message rule said, its repeat rule not, held by a request
    class UnruledTerms(OrderTerms):
        shown_size: Annotated[Decimal | None, Says(Check.FIGURE, "shown size")] = None

    class Holding(OrderSpec):
        terms: Annotated[UnruledTerms | None, WHEN_GIVEN] = None

    # Then the request names the term as lacking a marker
    assert unmarked(Holding, Says, Repeat) == ["shown_size"]


def test_each_term_is_declared_for_the_type_checker_as_it_is_read() -> None:
    # TermsRead's properties are made of the terms' declaration; their types, for the type
    # checker, are declared beside them: both name the same terms
    tree = ast.parse(Path(order_terms.__file__).read_text(encoding="utf-8"))
    read = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TermsRead")
    typed = next(n for n in read.body if isinstance(n, ast.If))
    declared = {
        n.target.id for n in typed.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    assert declared == {"terms", *order_terms.TERMS}
    assert all(isinstance(getattr(order_terms.TermsRead, name), property) for name in order_terms.TERMS)


def test_what_a_repeat_may_add_or_change_is_carried_by_the_details_added_fact() -> None:
    added = [name for name, repeat in REPEATS.items() if repeat in CHANGES]
    assert added == [
        "time_in_force",
        "tags",
        "parent_id",
        "post_only",
        "trigger_reference",
        "display_quantity",
        "group_id",
        "contingency",
    ]
    carried = OrderDetailsAdded.model_fields
    for name in added:
        if name in TERM_NAMES:  # a term: carried among the terms the report added
            assert carried["terms"].annotation == OrderSpec.model_fields["terms"].annotation
            continue
        assert name in carried, f"OrderDetailsAdded must carry {name}, which a repeat may add"
        assert carried[name].annotation == OrderSpec.model_fields[name].annotation
    # A field added to the fact after the first ones is stored only when given (same bytes)
    first = ["time_in_force", "parent_id", "tags", "aliases"]
    later = [name for name in added if name not in first and name not in TERM_NAMES] + ["terms"]
    assert set(later) <= set(stored_when_given(OrderDetailsAdded))


def test_every_field_of_a_request_but_the_venue_order_id_is_taken_by_the_order() -> None:
    # The venue order ID is one of the order's names: it is kept in its venue_order_ids. A
    # conditional term is kept in the order's terms, the rest each in its own value.
    taken = [*FROM_REQUEST.values(), "terms"]
    assert set(taken) == set(OrderSpec.model_fields) - {"venue_order_id"}
    assert "terms" not in FROM_REQUEST.values()
    assert REPEATS["venue_order_id"] is Repeat.NAMES


# ---------------------------------------------------------------------- the repeats


@pytest.mark.parametrize(
    ("first", "again", "field"),
    [
        ({"quote_currency": "USDT"}, {"quote_currency": "USD"}, "quote_currency"),
        ({"instrument": "BTC-USDT"}, {"instrument": "BTC-USDT", "quote_currency": "USD"}, "quote_currency"),
        ({"parent_id": "P-1"}, {"parent_id": "P-2"}, "parent_id"),
        ({"tags": {"strategy": "mm"}}, {"tags": {"strategy": "arb"}}, "tags"),
        ({"decision_price": Decimal(99)}, {"decision_price": Decimal(98)}, "decision_price"),
        ({}, {"decision_price": Decimal(98)}, "decision_price"),
        ({"time_in_force": "GTC"}, {"time_in_force": "IOC"}, "time_in_force"),
        ({"post_only": True}, {"post_only": False}, "post_only"),
    ],
)
def test_a_repeat_of_ours_that_states_another_value_is_refused(
    first: dict[str, Any], again: dict[str, Any], field: str
) -> None:
    # Given an order requested with ``first`` (BTC-USDT's quote currency, unsaid, is USDT)
    order = given(accepted(), **first)
    # When the same party requests it again with another value: refused, naming the field, nothing
    # recorded or changed
    error = refused(
        order, ClientOrderIdReuseError, lambda o: o.request_again(spec(**{**first, **again}), stamp(5))
    )
    assert isinstance(error, ClientOrderIdReuseError)
    assert error.differences == [field]
    assert f"client order ID {CLIENT_ORDER_ID!r} is already used by an order with different {field}" in str(
        error.message
    )
    assert "\n" not in error.message


def test_a_venue_report_stating_another_quote_currency_parent_or_tag_is_an_anomaly() -> None:
    order = given(accepted(), quote_currency="USDT", parent_id="P-1", tags={"strategy": "mm"})
    again = spec(quote_currency="USD", parent_id="P-2", tags={"strategy": "arb"})

    decided = order.request_again(again, stamp(5, OTHER_PARTY))

    assert decided.kind is Outcome.APPLIED
    anomalies = [
        (e.anomaly, e.recorded, e.reported) for e in decided.events if isinstance(e, AnomalyRecorded)
    ]
    assert anomalies == [
        ("quote_currency_mismatch", "USDT", "USD"),
        ("tags_mismatch", "{'strategy': 'mm'}", "{'strategy': 'arb'}"),
        ("parent_id_mismatch", "P-1", "P-2"),
    ]
    # The order keeps its own values
    assert (order.quote_currency, order.parent_id, order.tags) == ("USDT", "P-1", {"strategy": "mm"})


def test_a_repeat_adds_a_parent_and_tags_the_order_lacks() -> None:
    order = given(accepted(), tags={"strategy": "mm"})

    decided = order.request_again(spec(tags={"strategy": "mm", "desk": "eu"}, parent_id="P-1"), stamp(5))

    added = only_event(decided, OrderDetailsAdded)
    assert (added.parent_id, added.tags) == ("P-1", {"desk": "eu"})
    assert (order.parent_id, order.tags) == ("P-1", {"strategy": "mm", "desk": "eu"})


COMPARED = {
    "account": "ACC-2",
    "venue": "SIM-2",
    "instrument": "ETH-USD",
    "side": Side.SELL,
    "order_type": OrderType.MARKET,
    "quantity": Decimal(11),
    "price": Decimal("100.5"),
    "time_in_force": "IOC",
    "quote_currency": "EUR",
    "tags": {"strategy": "arb"},
    "parent_id": "P-2",
    "decision_price": Decimal(98),
    "post_only": False,
    "trigger_price": Decimal(96),
    "trigger_reference": TriggerReference.LAST,
    "trailing_offset": Decimal(3),
    "trailing_offset_type": TrailingOffsetType.PERCENT,
    "reduce_only": False,
    "display_quantity": Decimal(2),
    "expire_at": datetime(2026, 3, 2, tzinfo=UTC),
    "group_id": "G-2",
    "contingency": Contingency.BRACKET,
    "linked_ids": ["S-2"],
    "contingent_on": "P-9",
}
"""For each field a repeat is compared by, a value other than the order's below."""


@pytest.mark.parametrize("source", ["test", OTHER_PARTY])
@pytest.mark.parametrize("field", sorted(COMPARED))
def test_a_repeat_that_differs_in_any_field_is_never_a_silent_duplicate(field: str, source: str) -> None:
    # Every compared field has its case here (the names, and the flag our request clears, aside)
    assert set(COMPARED) == {n for n, r in REPEATS.items() if r not in (Repeat.NAMES, Repeat.CLEARS)}
    first: dict[str, Any] = {"time_in_force": "GTC", "tags": {"strategy": "mm"}, "parent_id": "P-1"}
    first |= {"decision_price": Decimal(99), "post_only": True, "quote_currency": "USD"}
    first |= {
        "trigger_price": Decimal(95),
        "trigger_reference": TriggerReference.MARK,
        "trailing_offset": Decimal(2),
    }
    first |= {
        "trailing_offset_type": TrailingOffsetType.PRICE,
        "reduce_only": True,
        "display_quantity": Decimal(1),
    }
    first |= {
        "expire_at": datetime(2026, 3, 1, tzinfo=UTC),
        "group_id": "G-1",
        "contingency": Contingency.OCO,
    }
    first |= {"linked_ids": ["S-1"], "contingent_on": "P-0"}
    order = given(accepted(), **first)
    again = spec(**{**first, field: COMPARED[field]})
    try:
        decided = order.request_again(again, stamp(5, source))
    except ClientOrderIdReuseError as error:
        assert field in error.differences
        return
    except ContradictionError as error:  # a report stating another account, instrument or side
        assert field in error.message
        return
    assert decided.kind is Outcome.APPLIED, decided
    assert any(isinstance(e, AnomalyRecorded) and e.field == field for e in decided.events)


NEW_TERMS = tuple(OrderTerms.model_fields)
"""The terms of the venues' order kinds (stops, reduce-only, icebergs, GTD, linked orders)."""


@settings(max_examples=200)
@given_(
    stated=st.sets(st.sampled_from(NEW_TERMS)),
    changed=st.sets(st.sampled_from(NEW_TERMS), min_size=1),
    source=st.sampled_from(["test", OTHER_PARTY]),
)
def test_a_repeat_stating_any_new_term_otherwise_is_never_a_silent_duplicate(
    stated: set[str], changed: set[str], source: str
) -> None:
    # Given an order that stated some of the new terms (the COMPARED values' others below)
    first = {name: OTHER[name] for name in stated}
    order = given(accepted(), **first)
    # When a repeat states the changed terms with values other than the order's (or that it lacks)
    again = spec(**{**first, **{name: COMPARED[name] for name in changed}})
    try:
        decided = order.request_again(again, stamp(5, source))
    except ClientOrderIdReuseError as error:  # our own request, stated otherwise: refused
        assert set(error.differences) <= changed and error.differences
        return
    # Then it is never a silent duplicate: each change is added or kept as an anomaly
    assert decided.kind is Outcome.APPLIED, decided
    recorded = {e.field for e in decided.events if isinstance(e, AnomalyRecorded)}
    for event in decided.events:
        if isinstance(event, OrderDetailsAdded) and event.terms is not None:
            recorded |= {name for name in changed if getattr(event.terms, name) is not None}
    assert recorded == changed


OTHER: dict[str, Any] = {
    "trigger_price": Decimal(95),
    "trigger_reference": TriggerReference.MARK,
    "trailing_offset": Decimal(2),
    "trailing_offset_type": TrailingOffsetType.PRICE,
    "reduce_only": True,
    "display_quantity": Decimal(1),
    "expire_at": datetime(2026, 3, 1, tzinfo=UTC),
    "group_id": "G-1",
    "contingency": Contingency.OCO,
    "linked_ids": ["S-1"],
    "contingent_on": "P-0",
}
"""A value of each new term other than ``COMPARED``'s."""
