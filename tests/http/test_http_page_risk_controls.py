"""The page's Risk & exposure tab writes: the pre-trade check of an order (POST /check: allowed, or
denied with every reason, recording nothing) and the trading state of an account (POST /state:
halt, reduce-only, resume, with who and why), in headless Chromium against a real server; a
refused body is one line where the answer goes, a secured server takes the state from a token
of the risk role only, as set by its name, and a state of every account is asked for by a
dialog naming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from orderledger import OrderLedger
from tests.support.browser import chromium
from tests.support.http_api import (
    READ_TOKEN,
    RISK_TOKEN,
    TOKENS,
    WRITE_TOKEN,
    bearer,
    running_server,
    wait_until,
)
from tests.support.page import click, forget_requests, live_page, requests_made, tab, texts

NINE = datetime(2026, 11, 20, 9, tzinfo=UTC)
ORDER = {"account": "alpha", "venue": "venue-x", "instrument": "BTC-USDT", "side": "buy",
         "order_type": "limit", "quantity": "3", "price": "100"}  # fmt: skip


def _fill(browser: Any, form: str, values: dict[str, str]) -> None:
    """Type each value into the form's field of that name (a choice is chosen)."""
    from selenium.webdriver.support.select import Select

    for name, value in values.items():
        field = browser.find_element("css selector", f"#{form} [name={name}]")
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)


def _answer(browser: Any) -> list[str]:
    """The check's verdict, then each reason (or the one line of its error)."""
    return texts(browser, "#risk-check-result .verdict, #risk-check-result li, #risk-check-result .error")


def _check(browser: Any, values: dict[str, str], before: list[str]) -> list[str]:
    _fill(browser, "risk-check-form", values)
    click(browser, "#risk-check-form button[type=submit]")
    found: list[str] = wait_until(lambda: (now := _answer(browser)) != before and now, "the check's answer")
    return found


def _dialog(browser: Any) -> Any:
    """The dialog the page opened (``window.confirm``), once it is open."""
    from selenium.common.exceptions import NoAlertPresentException

    def opened() -> Any:
        try:
            return browser.switch_to.alert
        except NoAlertPresentException:
            return None

    return wait_until(opened, "the dialog")


def _states(server: Any, token: str | None = None) -> list[tuple[str, str, str, str]]:
    headers = bearer(token) if token else {}
    rows = httpx2.get(f"{server.url}/state", headers=headers).json()
    return [(r["account"], r["state"], r["set_by"], r.get("reason", "")) for r in rows]


def test_a_check_from_the_page_says_allowed_or_denied_with_each_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'risk.db'}"
    with OrderLedger(url) as setup:
        # Given orders of alpha of at most 250 in notional
        setup.risk_controls.set_limit("account", "alpha", "max_order_notional", "250", set_by="bob", ts=NINE)
    with running_server(url) as server, live_page(server) as browser:
        events = httpx2.get(f"{server.url}/events").json()
        tab(browser, "exposure")
        wait_until(lambda: texts(browser, "#risk-limits tbody tr"), "the limits")
        forget_requests(browser)
        # When a buy of 3 at 100 is checked: 3 × 100 = 300 > 250, denied with the limit's reason
        denied = _check(browser, ORDER, [])
        assert denied == ["denied", "max_order_notional 250 on account alpha: would be 300"]
        assert texts(browser, "#risk-check-result .status") == ["1 reason · account active"]
        # And 2 at 100 = 200 ≤ 250 is allowed, with no reason
        assert _check(browser, {"quantity": "2"}, denied) == ["allowed"]
        assert texts(browser, "#risk-check-result .status") == ["no limit breached · account active"]
        # And a market order without a mark is denied: its notional cannot be worked out
        market = _check(browser, {"order_type": "market", "price": ""}, ["allowed"])
        assert market[0] == "denied" and "max_order_notional" in market[1], market
        # And a limit order without its price is refused in one line, the last verdict gone
        refused = _check(browser, {"order_type": "limit"}, market)
        assert refused == ["price is required"], refused
        # The checks asked POST /check alone and recorded nothing: no event, so no reading again
        assert [path for path, _ in requests_made(browser)] == ["/check"] * 4
        assert httpx2.get(f"{server.url}/events").json() == events


def test_halting_an_account_from_the_page_and_resuming_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'risk.db'}"
    with running_server(url) as server, live_page(server) as browser:
        tab(browser, "exposure")
        wait_until(lambda: texts(browser, "#trading") == ["trading active"], "trading active")
        # Given no one named: the state is refused in one line and nothing is set
        _fill(browser, "risk-state-form", {"account": "alpha", "reason": "flash crash"})
        click(browser, '#risk-state-form button[value="halted"]')
        wait_until(lambda: texts(browser, "#risk-state-result .error") == ["a state needs set_by"],
                   "the refusal")  # fmt: skip
        assert _states(server) == []
        # When carol halts alpha from the page
        _fill(browser, "risk-state-form", {"set_by": "carol"})
        click(browser, '#risk-state-form button[value="halted"]')
        # Then the ledger says alpha is halted by carol, and the tab and the header show it
        wait_until(lambda: _states(server) == [("alpha", "halted", "carol", "flash crash")], "the halt")
        wait_until(
            lambda: texts(browser, "#risk-states tbody td")[:3] == ["alpha", "halted", "carol"], "the row"
        )
        wait_until(lambda: texts(browser, "#trading") == ["alpha: halted by carol"], "the header")
        assert texts(browser, "#risk-state-result .error") == []
        # And a check of alpha's order is denied for the halt
        denied = _check(browser, {**ORDER, "quantity": "1"}, [])
        assert denied == ["denied", "trading is halted (set by carol: flash crash)"], denied
        # When she resumes it, the account is active again and so is the check
        _fill(browser, "risk-state-form", {"reason": "calm"})
        click(browser, '#risk-state-form button[value="active"]')
        wait_until(lambda: _states(server) == [("alpha", "active", "carol", "calm")], "the resumption")
        wait_until(lambda: texts(browser, "#trading") == ["trading active"], "the header active")
        assert _check(browser, {}, denied) == ["allowed"]
        # And reduce-only with no account is every account's, shown as such
        _fill(browser, "risk-state-form", {"account": "", "set_by": "ops", "reason": "venue incident"})
        click(browser, '#risk-state-form button[value="reduce_only"]')
        _dialog(browser).accept()  # every account's: asked first (test_a_state_of_every_account_…)
        wait_until(lambda: ("", "reduce_only", "ops", "venue incident") in _states(server), "reduce-only")
        wait_until(lambda: texts(browser, "#trading") == ["every account: reduce-only by ops"], "the header")
        # a buy of 1 from no position grows it: 0 → 1
        assert _check(browser, {}, ["allowed"]) == [
            "denied", "reduce-only: the position 0 would become 1 (set by ops: venue incident)"
        ]  # fmt: skip


def test_a_secured_server_takes_the_state_from_a_risk_token_only_as_set_by_its_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'risk.db'}"
    with running_server(url, TOKENS) as server, chromium() as browser:
        # Given the page holds a read token
        browser.get(f"{server.url}/")
        browser.execute_script("sessionStorage.setItem('orderledger-token', arguments[0])", READ_TOKEN)
        browser.refresh()
        tab(browser, "exposure")
        wait_until(lambda: texts(browser, "#trading") == ["trading active"], "the states read")

        def typed(token: str) -> None:  # as a person enters a token: the header's field, then save
            browser.find_element("id", "token").clear()
            browser.find_element("id", "token").send_keys(token)
            click(browser, "#token-form button[type=submit]")

        # When it halts alpha: refused in one line naming the role, and nothing set; so with the
        # bot's write token: trading does not make a risk officer
        _fill(browser, "risk-state-form", {"account": "alpha"})
        for token, role in ((READ_TOKEN, "read"), (WRITE_TOKEN, "write")):
            typed(token)
            browser.execute_script("document.getElementById('risk-state-result').replaceChildren()")
            click(browser, '#risk-state-form button[value="halted"]')
            refused = wait_until(lambda: texts(browser, "#risk-state-result .error"), "the refusal")
            assert refused == [f"this token's role is {role}; SetTradingState needs risk"], refused
        assert _states(server, READ_TOKEN) == []
        # And with the risk officer's token (named rita) typed in, naming someone else is refused
        typed(RISK_TOKEN)
        _fill(browser, "risk-state-form", {"set_by": "carol"})
        browser.execute_script("document.getElementById('risk-state-result').replaceChildren()")
        click(browser, '#risk-state-form button[value="halted"]')
        refused = wait_until(lambda: texts(browser, "#risk-state-result .error"), "the refusal")
        assert refused == [
            "a state: set_by 'carol' is not this token's name 'rita'; a fact written over HTTP is set"
            " by the token that sends it (leave set_by out)"
        ], refused
        assert _states(server, READ_TOKEN) == []
        # And with no one named, the halt is set by rita, the token's name, and shown so
        _fill(browser, "risk-state-form", {"set_by": ""})
        click(browser, '#risk-state-form button[value="halted"]')
        wait_until(lambda: _states(server, READ_TOKEN) == [("alpha", "halted", "rita", "")], "the halt")
        wait_until(lambda: texts(browser, "#trading") == ["alpha: halted by rita"], "the header")
        assert texts(browser, "#risk-states tbody td")[:3] == ["alpha", "halted", "rita"]


def test_a_state_of_every_account_is_asked_for_by_a_dialog_and_shown_in_force(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'risk.db'}"
    with OrderLedger(url) as setup:
        # Given alpha resumed by carol: its own state is active
        setup.risk_controls.set_trading_state("active", account="alpha", set_by="carol", reason="calm")
    with running_server(url) as server, live_page(server) as browser:
        tab(browser, "exposure")
        wait_until(
            lambda: texts(browser, "#risk-states tbody td")[:3] == ["alpha", "active", "carol"], "alpha"
        )
        # When ops clicks halt with the account left empty, a dialog names every account
        _fill(browser, "risk-state-form", {"set_by": "ops", "reason": "venue incident"})
        forget_requests(browser)
        click(browser, '#risk-state-form button[value="halted"]')
        dialog = _dialog(browser)
        assert dialog.text == "halt every account? This sets the trading state of every account to halted."
        # And dismissed, nothing is sent and nothing is set
        dialog.dismiss()
        wait_until(
            lambda: texts(browser, "#risk-state-result") == ["not sent: every account's state is unchanged"],
            "the line",
        )
        assert [path for path, _ in requests_made(browser)] == []
        assert _states(server) == [("alpha", "active", "carol", "calm")]
        # When asked again and accepted, every account is halted
        click(browser, '#risk-state-form button[value="halted"]')
        _dialog(browser).accept()
        wait_until(lambda: ("", "halted", "ops", "venue incident") in _states(server), "the halt")

        # Then alpha, whose own state is active, is shown halted from the global state (red,
        # not green), as its checks are denied; the header says every account is halted
        def shown() -> list[list[str]]:  # account, state, set by, reason (not since, until) of each row
            cells = texts(browser, "#risk-states tbody td")
            return [[*cells[i : i + 3], cells[i + 5]] for i in range(0, len(cells), 6)]

        wait_until(
            lambda: shown()
            == [["every account", "halted", "ops", "venue incident"],
                ["alpha", "halted (global); own active", "carol", "calm"]],
            "the rows",
        )  # fmt: skip
        classes = browser.execute_script(
            "return Array.from(document.querySelectorAll('#risk-states td:nth-child(2)'), (e) => e.className)"
        )
        assert classes == ["status off", "status off"], classes
        wait_until(lambda: texts(browser, "#trading") == ["every account: halted by ops"], "the header")
        denied = _check(browser, {**ORDER, "quantity": "1"}, [])
        assert denied == ["denied", "trading is halted (set by ops: venue incident)"], denied
        # And an account named sets its own state at once, with no dialog
        _fill(browser, "risk-state-form", {"account": "alpha", "reason": "review"})
        click(browser, '#risk-state-form button[value="reduce_only"]')
        wait_until(lambda: ("alpha", "reduce_only", "ops", "review") in _states(server), "alpha's own")
        wait_until(
            lambda: (
                texts(browser, "#risk-states tbody td")[6:8] == ["alpha", "halted (global); own reduce-only"]
            ),
            "alpha's row",
        )


def test_markup_typed_into_the_forms_is_shown_as_text(tmp_path: Path) -> None:
    markup = "<img src=x onerror=alert(1)>"
    with running_server(f"sqlite:///{tmp_path / 'risk.db'}") as server, live_page(server) as browser:
        tab(browser, "exposure")
        # When markup is typed as who halts and why
        _fill(browser, "risk-state-form", {"account": "alpha", "set_by": markup, "reason": markup})
        click(browser, '#risk-state-form button[value="halted"]')
        wait_until(lambda: _states(server) == [("alpha", "halted", markup, markup)], "the halt")
        # Then the state's row, the header and a check's reason show it as text, never as an image
        wait_until(lambda: texts(browser, "#risk-states tbody td")[2:3] == [markup], "the row")
        wait_until(lambda: texts(browser, "#trading") == [f"alpha: halted by {markup}"], "the header")
        denied = _check(browser, {**ORDER, "quantity": "1"}, [])
        assert denied == ["denied", f"trading is halted (set by {markup}: {markup})"], denied
        assert browser.execute_script("return document.querySelectorAll('img').length") == 0


def test_a_cooldown_is_shown_with_its_end_and_lifts_itself(tmp_path: Path) -> None:
    now = [NINE]
    with running_server(f"sqlite:///{tmp_path / 'risk.db'}", clock=lambda: now[0]) as server:
        # Given alpha halted for 30 minutes from 09:00
        server.ledger.risk_controls.set_trading_state(
            "halted", account="alpha", set_by="ops", lasting=timedelta(minutes=30)
        )
        with live_page(server) as browser:
            tab(browser, "exposure")
            # Then the tab shows the halt with its end, 09:30
            wait_until(
                lambda: (
                    texts(browser, "#risk-states tbody td")[:5]
                    == [
                        "alpha",
                        "halted",
                        "ops",
                        "2026-11-20T09:00:00.000000Z",
                        "2026-11-20T09:30:00.000000Z",
                    ]
                ),
                "the cooldown's row",
            )
        # And once the clock reaches 09:30 the state answered is active again, since 09:30
        now[0] = NINE + timedelta(minutes=30)
        [row] = httpx2.get(f"{server.url}/state").json()
        assert (row["state"], row["ts_event"], row.get("until")) == (
            "active",
            "2026-11-20T09:30:00.000000Z",
            None,
        )
