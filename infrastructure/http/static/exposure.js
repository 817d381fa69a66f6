// The Risk & exposure tab (docs/risk.md). First the trading state of each account (GET /state)
// and the limits in force with how close each stands (GET /risk: ok, near, breached, unknown,
// per_order), who set each and when; then the exposure per underlying (GET /exposure), grouped
// by account, venue or neither, one row per group and underlying: the net units and their value
// at the latest marks, the gross value (not netted), beside the open orders' worst case per side. Two forms write: the trading
// state of an account or of every account (POST /state: halt, reduce-only, resume, with who and
// why), and the pre-trade check of an order (POST /check: allowed, or denied with every reason;
// it records no order). The denials and breaches the risk door recorded (GET /denials), newest
// first, each breach as "limit value → figure", with a row added for each `breach` frame of
// /risk/stream as it comes. The exposure may be asked in one desk currency (in_currency: net
// and gross converted at the rates recorded as marks). Self-contained: it adds its own section's contents and registers its
// loader with the page (app.js).
"use strict";

(() => {
  const GROUPINGS = ["account,underlying", "underlying", "account,venue,underlying"];
  const FIGURES = [
    ["net", "net_units"], ["net value", "net_value"], ["gross value", "gross_value"],
    ["options", "option_units"],
    ["open long", "open_long_units"], ["open short", "open_short_units"],
    ["worst long", "worst_long_units"], ["worst short", "worst_short_units"],
    ["worst long value", "worst_long_value"], ["worst short value", "worst_short_value"],
  ];
  const LIMIT_COLUMNS = ["status", "kind", "scope", "target", "value", "figure", "set by", "since", "reason"];
  const DENIAL_COLUMNS = ["at", "action", "order", "account", "venue", "instrument", "breaches", "by", "why"];
  const DENIALS_SHOWN = 100;
  // the breach facts shown, by log position (a row read and its frame are one), and whether
  // /risk/stream is followed (from the tab's first showing on)
  const state = { timer: null, loading: false, stale: false, denials: new Map(), following: false };

  function make(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) node[key] = value;
    node.append(...children);
    return node;
  }

  // an amount per currency as "186050 USDT"; units as the API gives them (exact text)
  function cell(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "object") return Object.entries(value).map(([ccy, v]) => `${v} ${ccy}`).join(" ");
    return visible(value);
  }

  function notes(row, currency) {
    const said = [];
    if (row.unmapped.length) said.push(`own underlying: ${row.unmapped.join(", ")}`);
    if (row.unpriced.length) said.push(`no price: ${row.unpriced.join(", ")}`);
    if (row.unconverted && row.unconverted.length) said.push(`no rate into ${currency}: ${row.unconverted.join(", ")}`);
    return visible(said.join("; "));
  }

  // The figures' columns: with a desk currency, net and gross in it after the gross value.
  function figures(currency) {
    if (!currency) return FIGURES;
    const at = FIGURES.findIndex(([, key]) => key === "gross_value") + 1;
    return [...FIGURES.slice(0, at), [`net in ${currency}`, "net_in"], [`gross in ${currency}`, "gross_in"],
      ...FIGURES.slice(at)];
  }

  // The exposure, in the currency asked if one is; a refusal (a currency that is not one) is
  // one line in the table's place.
  async function load(form, out) {
    const by = form.elements.by.value;
    const currency = form.elements.in_currency.value.trim();
    let rows;
    try {
      rows = await api(`/exposure?${new URLSearchParams(currency ? { by, in_currency: currency } : { by })}`);
    } catch (error) {
      out.status.textContent = "";
      out.table.replaceChildren(make("p", { className: "error", role: "alert" }, visible(error.message || error)));
      return;
    }
    const groups = by.split(",").filter((name) => name !== "underlying");
    const shown = figures(currency && visible(currency));
    out.status.textContent = `${rows.length} row${rows.length === 1 ? "" : "s"}`;
    const head = make("tr", {}, ...[...groups, "underlying", ...shown.map(([title]) => title), "notes"]
      .map((title) => make("th", {}, title)));
    const body = rows.map((row) => make("tr", {},
      ...groups.map((name) => make("td", {}, visible(row[name]))),
      make("td", {}, visible(row.underlying)),
      ...shown.map(([, key]) => make("td", { className: "num" }, cell(row[key]))),
      make("td", {}, notes(row, currency))));
    out.table.replaceChildren(make("table", {}, make("thead", {}, head), make("tbody", {}, ...body)));
  }

  // a breach as "limit value → figure" (a trading state: its name; a figure not worked out: unknown)
  function breachText(b) {
    if (b.limit === "trading_state") return visible(`${b.limit} ${b.value}`);
    return visible(`${b.limit} ${b.value} → ${b.figure === undefined ? "unknown" : b.figure}`);
  }

  // The denials and breaches held, newest first (the one just come marked fresh).
  function showDenials(risk, fresh = null) {
    const rows = [...state.denials.values()].sort((a, b) => b.position - a.position).slice(0, DENIALS_SHOWN);
    state.denials = new Map(rows.map((row) => [row.position, row]));  // the older ones are let go
    const counts = ["denied", "overridden", "flagged"].map((action) =>
      `${rows.filter((d) => d.action === action).length} ${action}`);
    risk.denialsSummary.textContent = counts.join(", ");
    risk.denials.replaceChildren(table(DENIAL_COLUMNS, rows.map((d) =>
      make("tr", { className: d.position === fresh ? "fresh" : "", title: visible(d.breaches.map((b) => b.reason).join("; ")) },
        make("td", {}, d.ts), make("td", {}, make("span", { className: `verdict ${d.action}` }, d.action)),
        make("td", {}, visible(d.client_order_id)), make("td", {}, visible(d.account)),
        make("td", {}, visible(d.venue)), make("td", {}, visible(d.instrument)),
        make("td", {}, d.breaches.map(breachText).join("; ")),
        make("td", {}, visible(d.by || "")), make("td", {}, visible(d.why || "")))),
      "no denial or breach recorded"));
  }

  async function loadDenials(risk) {
    const rows = await api(`/denials?${new URLSearchParams({ last: DENIALS_SHOWN })}`);
    state.denials = new Map(rows.map((row) => [row.position, row]));
    showDenials(risk);
  }

  // /risk/stream's breach frames, each a row added at the top as it comes; at each (re)connection
  // the rows recorded so far are read again (a frame for one of them is the same row). The
  // promise settles with the first reading.
  function followDenials(risk) {
    state.following = true;
    return new Promise((read, refused) => {
      (async () => {
        for (;;) {
          let response = null;
          try {
            response = await fetch("/risk/stream", { headers: authorized({ Accept: "text/event-stream" }) });
            if (!response.ok) throw new ApiError(`risk stream: ${response.status}`);
            await loadDenials(risk);
            read();
            await eachFrame(response, ({ event, data }) => {
              if (event !== "breach" || data === null) return;
              const row = JSON.parse(data);
              state.denials.set(row.position, row);
              showDenials(risk, row.position);
            });
          } catch (error) {
            refused(error);  // said once, at the first reading; the stream is asked again
            if (response && response.body) response.body.cancel().catch(() => {});  // its place given back
          }
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      })();
    });
  }

  function table(titles, rows, empty) {
    if (!rows.length) return make("p", { className: "empty" }, empty);
    return make("table", {}, make("thead", {}, make("tr", {}, ...titles.map((t) => make("th", {}, t)))),
      make("tbody", {}, ...rows));
  }

  // each account's state in force, and its own as set (every account's first)
  function showStates(out, states) {
    out.states.replaceChildren(table(["account", "state", "set by", "since", "until", "reason"], states.map((s) =>
      make("tr", { className: `trading-${s.scheduled ? "scheduled" : s.effective_state}` },
        make("td", {}, s.account ? visible(s.account) : "every account"),
        make("td", { className: s.scheduled || s.effective_state === "active" ? "status on" : "status off" },
          s.scheduled ? `${s.state.replace("_", "-")} (scheduled)` : shownState(s)),
        make("td", {}, visible(s.set_by)), make("td", {}, s.ts_event), make("td", {}, s.until || ""),
        make("td", {}, visible(s.reason || "")))),
      "every account active (no state ever set)"));
  }

  // the states, then each limit beside its status
  async function loadRisk(out) {
    const [states, limits] = await Promise.all([api("/state"), api("/risk")]);
    showStates(out, states);
    const alerts = limits.filter((l) => l.status === "near" || l.status === "breached").length;
    out.summary.textContent = `${limits.length} limit${limits.length === 1 ? "" : "s"}, ${alerts} near or breached`;
    out.limits.replaceChildren(table(LIMIT_COLUMNS, limits.map((l) => {
      const value = (l.interval ? `${l.value} per ${l.interval}s` : l.value) + (l.response ? ` (${l.response})` : "");
      const figure = l.figure !== undefined ? l.figure : l.reason_unknown || "";
      return make("tr", { className: `limit-${l.status}` },
        make("td", { className: `limit-status ${l.status}` }, l.status.replace("_", " ")),
        make("td", {}, l.kind), make("td", {}, l.scope), make("td", {}, visible(l.target)),
        make("td", { className: "num" }, value), make("td", { className: "num" }, visible(figure)),
        make("td", {}, visible(l.set_by)), make("td", {}, l.ts_event), make("td", {}, visible(l.reason || "")));
    }), "no limit in force"));
  }

  // A write's refusal (a 400 or 403 problem, a server gone) as one line where its answer goes.
  async function answered(out, action) {
    try {
      await action();
    } catch (error) {
      out.replaceChildren(make("p", { className: "error", role: "alert" }, visible(error.message || error)));
    }
  }

  // The filled fields of a form (an empty account: every account; an empty price: none).
  function filled(form) {
    return Object.fromEntries(Object.entries(formValues(form.id)).filter(([, value]) => value !== ""));
  }

  // Set the state the button names; the tab's table and the header show it at once. An empty
  // account sets every account's state, which one click must not do unasked: a dialog names it.
  async function setState(form, risk, chosen, label) {
    const terms = Object.assign(filled(form), { state: chosen });
    if (terms.account === undefined
        && !window.confirm(`${label} every account? This sets the trading state of every account to ${chosen.replace("_", "-")}.`)) {
      risk.stateResult.replaceChildren(make("p", { className: "status" }, "not sent: every account's state is unchanged"));
      return;
    }
    const states = await postJson("/state", terms);
    showStates(risk, states);
    risk.stateResult.replaceChildren();
    await loadTradingState();
  }

  // allowed, or denied with every breach's reason (and the account's trading state)
  async function runCheck(form, out) {
    const answer = await postJson("/check", filled(form));
    const verdict = answer.allowed ? "allowed" : "denied";
    const said = answer.breaches.length ? `${answer.breaches.length} reason${answer.breaches.length === 1 ? "" : "s"}` : "no limit breached";
    out.replaceChildren(
      make("p", { className: "bar" }, make("span", { className: `verdict ${verdict}` }, verdict),
        make("span", { className: "status" }, `${said} · account ${answer.state.replace("_", "-")}`)),
      ...(answer.breaches.length ? [make("ul", { className: "breaches" },
        ...answer.breaches.map((b) => make("li", {}, visible(b.reason))))] : []));
  }

  function input(name, label, props = {}) {
    return make("label", {}, `${label} `, make("input", Object.assign({ name, size: 10 }, props)));
  }

  function choice(name, label, values) {
    return make("label", {}, `${label} `, make("select", { name }, ...values.map((value) => make("option", { value }, value))));
  }

  function stateForm(risk) {
    const form = make("form", { id: "risk-state-form", className: "bar" },
      input("account", "account", { placeholder: "every account" }), input("set_by", "set by"),
      input("reason", "reason", { size: 24 }),
      ...[["halt", "halted"], ["reduce-only", "reduce_only"], ["resume", "active"]].map(([label, chosen]) => {
        const button = make("button", { type: "button", value: chosen, title: `POST /state: ${chosen}` }, label);
        button.addEventListener("click", () => answered(risk.stateResult, () => setState(form, risk, chosen, label)));
        return button;
      }));
    form.addEventListener("submit", (event) => event.preventDefault());  // a button says which state
    return form;
  }

  function checkForm(out) {
    const form = make("form", { id: "risk-check-form", className: "bar" },
      input("account", "account"), input("venue", "venue"), input("instrument", "instrument"),
      choice("side", "side", ["buy", "sell"]), choice("order_type", "type", ["limit", "market"]),
      input("quantity", "quantity", { size: 8 }), input("price", "price", { size: 8, placeholder: "none for market" }),
      make("button", { type: "submit", title: "POST /check: records no order" }, "Check"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      answered(out, () => runCheck(form, out));
    });
    return form;
  }

  function build() {
    const section = document.getElementById("exposure");
    if (!section || section.childElementCount) return null;
    const by = make("select", { name: "by", title: "group by" },
      ...GROUPINGS.map((value) => make("option", { value }, value.replace(/,/g, " · "))));
    const form = make("form", { className: "bar" }, make("h2", {}, "Exposure per underlying"),
      make("label", {}, "by ", by));
    const out = { status: make("span", { className: "status" }), table: make("div", { id: "exposure-table", className: "scroll" }) };
    const risk = {
      states: make("div", { id: "risk-states", className: "scroll" }),
      summary: make("span", { className: "status" }),
      limits: make("div", { id: "risk-limits", className: "scroll" }),
      stateResult: make("div", { id: "risk-state-result" }),
      denialsSummary: make("span", { className: "status" }),
      denials: make("div", { id: "risk-denials", className: "scroll" }),
    };
    const checked = make("div", { id: "risk-check-result" });
    const currency = make("input", { name: "in_currency", size: 6, placeholder: "as recorded",
      title: "the exposure's net and gross also in this one currency, at the rates recorded as marks (GET /exposure?in_currency)" });
    form.append(make("label", {}, "in currency ", currency));
    // the denials are read when the tab is shown; then each breach frame adds its row
    const refresh = () => Promise.all([loadRisk(risk), load(form, out)]);
    const show = () => Promise.all([refresh(), state.following ? loadDenials(risk) : followDenials(risk)]);
    by.addEventListener("change", () => guarded(() => load(form, out)));
    currency.addEventListener("change", () => guarded(() => load(form, out)));
    form.addEventListener("submit", (event) => { event.preventDefault(); guarded(() => load(form, out)); });
    section.append(make("h2", {}, "Trading state"), risk.states, stateForm(risk), risk.stateResult,
      make("div", { className: "bar" }, make("h2", {}, "Limits"), risk.summary), risk.limits,
      make("div", { className: "bar" }, make("h2", {}, "Denials and breaches"), risk.denialsSummary), risk.denials,
      make("h2", {}, "Pre-trade check"),
      make("p", { className: "status" }, "Whether an order may be sent now; a check records no order."),
      checkForm(checked), checked,
      form, out.status, out.table);
    return [show, refresh];
  }

  // Exposure and the limits' figures move with fills, orders and marks, the limits and states
  // with their facts: on any event, read again at most once a second, and never while the last
  // reading runs (then once after it).
  function live(show) {
    return async (changed, fills, others) => {
      if (changed.length || fills || others) state.stale = true;
      if (!state.stale || state.timer || state.loading) return;
      state.timer = setTimeout(async () => {
        state.timer = null;
        if (document.getElementById("exposure").hidden) return;  // read again when shown
        state.stale = false;
        state.loading = true;
        await guarded(show);
        state.loading = false;
        if (state.stale) live(show)([], 0);
      }, 1000);
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    const built = build();
    if (!built) return;
    LOADERS.exposure = built[0];
    LIVE.exposure = live(built[1]);
  });
})();
