// The operator's page. Plain JS, no build step, nothing loaded from elsewhere (the charts'
// library, plotly.js, is served by the app from its installed Python package: charts.js).
// Every value from the ledger is inserted as text (textContent / createTextNode), never as
// markup, so an ID like <img src=x onerror=alert(1)> is shown, not run; and through visible(),
// so a control, bidi or zero-width character in stored text is shown as an escape (\u202e),
// never acting on the text around it.
//
// At a desk's size (100,000 trades) nothing reads a whole list: every table shows one page the
// server sorted and filtered (Paged below), a live event refetches only the rows it changed, and
// an order's timeline or a parent reads only that order's history or that parent's children.
"use strict";

// rows one page of a table shows (the server's limit parameter)
const PAGE_ROWS = 100;

const state = {
  token: sessionStorage.getItem("orderledger-token") || "",
  tab: "orders",
  lastEventId: null,
  timelineOrder: null,
  timelineOrders: new Set(), // the orders the timeline's parent tree shows
  parentOpen: null, // the parent the Parents tab shows, and its orders
  parentOrders: new Set(),
  fresh: new Set(),
  changed: new Set(), // orders named by live events not yet applied
  liveTimer: null,
  pnlTimer: null,
  pnlStale: false, // fills arrived since the P&L tab was last read
  pnlLoading: false,
  others: 0, // live events of no order (a limit, a trading state, a mark) not yet applied
};

// ---------------------------------------------------------------- DOM helpers (text only)

// Unicode categories Cc, Cf, Zl and Zp, and the fillers that show as nothing: the characters the
// ledger refuses in IDs and never shows as themselves (UNSAFE_CATEGORIES and INVISIBLE_FILLERS in
// domain/values.py; the command line escapes them alike).
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0]/gu;

function visible(value, keep = "") {
  return String(value).replace(UNSAFE, (c) => {
    if (keep.includes(c)) return c;
    const code = c.codePointAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "onclick") node.addEventListener("click", value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    // A <pre> keeps its line breaks (a pretty-printed raw message); nothing else does.
    node.append(child instanceof Node ? child : document.createTextNode(visible(child, tag === "pre" ? "\n" : "")));
  }
  return node;
}

function replace(id, ...children) {
  const target = document.getElementById(id);
  target.replaceChildren(...children);
  return target;
}

function orderLink(id) {
  if (!id) return "";
  return el("button", { className: "link", type: "button", title: "open the timeline", onclick: () => openTimeline(id) }, id);
}

// A column: [key, label, kind]; kind "num" right-aligns, a function renders the cell.
function tableRow(columns, row, rowKey) {
  const tr = el("tr", {}, ...columns.map(([key, , kind, render]) => {
    const value = render ? render(row) : row[key];
    const cell = el("td", { className: kind || "" });
    cell.append(value instanceof Node ? value : document.createTextNode(value === null || value === undefined ? "" : visible(value)));
    if (key) cell.dataset.col = key;
    return cell;
  }));
  if (rowKey) {
    tr.dataset.key = rowKey(row);
    if (state.fresh.delete(tr.dataset.key)) tr.className = "fresh"; // highlighted once
  }
  return tr;
}

function heading([, label, kind]) {
  return el("th", { className: kind === "num" ? "num" : "" }, label);
}

function table(columns, rows, rowKey) {
  if (!rows.length) return el("p", { className: "empty" }, "nothing to show");
  return el("table", {},
    el("thead", {}, el("tr", {}, ...columns.map(heading))),
    el("tbody", {}, ...rows.map((row) => tableRow(columns, row, rowKey))));
}
// ---------------------------------------------------------------- figures for people

// The API's figures are exact decimal text; a row's `precision` field says how many places a
// person is shown (the instrument's tick and lot, the currency's cents: application/display.py).
// Rounded here, half to even on the digits (never through a float), and marked with … with the
// exact figure as the cell's title.
const PLAIN = /^-?[0-9]+(\.[0-9]+)?$/;

function roundText(text, places) {
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
  if (fraction.length <= places) return text;
  const divisor = 10n ** BigInt(fraction.length - places);
  const digits = BigInt(whole + fraction);
  let kept = digits / divisor;
  const twice = (digits % divisor) * 2n;
  if (twice > divisor || (twice === divisor && kept % 2n === 1n)) kept += 1n;
  let shown = kept.toString().padStart(places + 1, "0");
  if (places > 0) shown = `${shown.slice(0, -places)}.${shown.slice(-places)}`;
  return negative && kept !== 0n ? `-${shown}` : shown;
}

// A figure to at most `places` decimals: a text node, or a span titled with the exact figure.
function figure(value, places) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  if (places === undefined || places === null || !PLAIN.test(text)) return text;
  const shown = roundText(text, places);
  return shown === text ? text : el("span", { className: "rounded", title: text }, `${shown}…`);
}

// A numeric column: [key, label, "num", render], rounded to the row's places of `what`
// (price, quantity or money).
function num(key, label, what) {
  return [key, label, "num", (r) => figure(r[key], r.precision && r.precision[what])];
}

function fees(map, row) {
  const places = (row && row.precision && row.precision.currencies) || {};
  return Object.entries(map || {}).map(([currency, amount]) => {
    const shown = figure(amount, places[currency]);
    return `${shown instanceof Node ? shown.textContent : shown} ${currency}`;
  }).join(", ");
}

function side(row) {
  return el("span", { className: `side-${row.side}` }, row.side);
}

// A flag the request may leave unsaid (null): yes, no, or empty.
function flag(key) {
  return (row) => (row[key] === true ? "yes" : row[key] === false ? "no" : "");
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {}

// The headers with the page's token, if it holds one, as a bearer.
function authorized(headers) {
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  return headers;
}

// The response and its JSON body; every answer from the views says how far they are behind.
// A read the server's bounds refuse for now (429: this client's list reads at once; 503: all
// clients', or a whole-log read) is asked again after the Retry-After it names, at least
// RETRY_FLOOR_MS later, up to READ_ATTEMPTS times in all: the page's own tabs and live refreshes
// ask for several lists at once, and a tab left empty by a refusal would not fill in by itself.
const READ_ATTEMPTS = 6;
const RETRY_FLOOR_MS = 250;

async function apiResponse(path, options = {}) {
  const headers = authorized(Object.assign({ Accept: "application/json" }, options.headers || {}));
  const reading = !options.method || options.method === "GET";
  let response = await fetch(path, Object.assign({}, options, { headers }));
  for (let attempt = 1; reading && attempt < READ_ATTEMPTS; attempt++) {
    const retryAfter = response.headers.get("Retry-After");
    if ((response.status !== 429 && response.status !== 503) || retryAfter === null) break;
    const pause = Math.max(RETRY_FLOOR_MS, 1000 * Number(retryAfter) || 0);
    await new Promise((resolve) => setTimeout(resolve, pause));
    response = await fetch(path, Object.assign({}, options, { headers }));
  }
  const body = await response.json().catch(() => null);
  if (response.status === 401) document.getElementById("token-form").hidden = false;
  if (!response.ok) throw new ApiError((body && body.detail) || `${response.status} ${response.statusText}`);
  const behind = response.headers.get("Views-Behind");
  if (behind !== null) showViewsBehind(Number(behind));
  return { body, response };
}

async function api(path, options = {}) {
  return (await apiResponse(path, options)).body;
}

// A write whose body is a JSON object (POST /state, POST /check): its answer's body.
function postJson(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function showError(error) {
  const box = document.getElementById("error");
  box.textContent = error ? visible(error.message || error) : "";
  box.hidden = !error;
}

async function guarded(action) {
  try {
    await action();
    showError(null);
  } catch (error) {
    showError(error);
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else if (value !== "" && value !== null && value !== undefined) search.append(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// The values of a form's named inputs and choices, trimmed (empty ones are left out by query()).
function formValues(id) {
  const params = {};
  for (const input of document.getElementById(id).querySelectorAll("input[name], select[name]")) {
    params[input.name] = input.type === "checkbox" ? (input.checked ? "true" : "") : input.value.trim();
  }
  return params;
}

// ---------------------------------------------------------------- the status area

function showViewsBehind(behind) {
  const views = document.getElementById("views");
  views.dataset.behind = String(behind);
  views.textContent = behind ? `views ${behind.toLocaleString("en")} behind` : "views current";
  views.className = behind ? "status off" : "status on";
}

// The collectors running on this ledger (orderledger collect), from GET /health: one line each
// with the figures of the command's status line; the rest (owner, latency, the last error) in
// its title. Read again every COLLECTORS_EVERY ms: the collectors' heartbeats are not events.
const COLLECTORS_EVERY = 2000;

function collectorText(c) {
  const who = c.account ? `${c.venue} ${c.account}` : c.venue;
  if (c.state === undefined) return `${who}: starting`;
  const age = c.last_frame_age === null ? "—" : `${Number(c.last_frame_age).toFixed(1)}s ago`;
  return `${who}: ${c.stale ? "stale" : c.state} · ${c.frames_per_second} frames/s · ${c.events_per_second} events/s`
    + ` · last frame ${age} · backlog ${c.backlog} · reconnects ${c.reconnects} · parked ${c.parked}`;
}

function collectorTitle(c) {
  const lines = [`${c.owner} (pid ${c.pid}) since ${c.started}, heartbeat ${c.heartbeat}`];
  if (c.state !== undefined) {
    const ms = (seconds) => (seconds === null ? "—" : `${(seconds * 1000).toFixed(1)} ms`);
    lines.push(`${c.frames} frames, ${c.events} events; latency p50 ${ms(c.latency_p50)}, p99 ${ms(c.latency_p99)}`);
  }
  if (c.error) lines.push(`last error: ${c.error}`);
  return lines.join("\n");
}

async function loadCollectors() {
  let shown;
  try {
    const rows = (await api("/health")).collectors || [];
    shown = rows.map((c) => el("span", {
      className: `status collector ${c.stale || c.error ? "off" : c.state === "streaming" ? "on" : ""}`,
      title: visible(collectorTitle(c), "\n"),
    }, collectorText(c)));
    if (!shown.length) shown = [el("span", { className: "status" }, "no collectors")];
  } catch (error) {
    shown = [el("span", { className: "status off", title: visible(error.message || error) }, "collectors unknown")];
  }
  replace("collectors", ...shown);
}

// The state an account's orders are checked under (GET /state's effective_state: the stricter
// of its own and every account's), as the command's table shows it: "halted (global); own active".
function shownState(s) {
  const inForce = s.effective_state.replace("_", "-");
  return s.account && s.effective_from === "global" ? `${inForce} (global); own ${s.state.replace("_", "-")}` : inForce;
}

// The trading states (GET /state): "trading active", or each state not active that was set
// (every account's first) and who set it; why and since when in its title (an account held by
// the global state alone is said by every account's). Read with the collectors: a state set by
// another process is seen within COLLECTORS_EVERY ms.
async function loadTradingState() {
  let shown;
  try {
    // (a state scheduled for later is not in force: the Risk & exposure tab lists it)
    const rows = (await api("/state")).filter((s) => !s.scheduled && s.effective_state !== "active" && s.effective_from === (s.account ? "account" : "global"));
    shown = rows.map((s) => el("span", {
      className: "status off trading",
      title: visible(`${s.reason || "no reason given"} (since ${s.since || s.ts_event})`),
    }, `${s.account || "every account"}: ${s.state.replace("_", "-")} by ${s.set_by}`));
    if (!shown.length) shown = [el("span", { className: "status on" }, "trading active")];
  } catch (error) {
    shown = [el("span", { className: "status off", title: visible(error.message || error) }, "trading state unknown")];
  }
  replace("trading", ...shown);
}

async function watchCollectors() {
  await Promise.all([loadCollectors(), loadTradingState()]);
  setTimeout(watchCollectors, COLLECTORS_EVERY);
}

// The sections of a verify report that found something (the CLI's sections: the chain, the
// views, the journal, the schema, ...): a report names a problem in "broken" or in a list.
function failedSections(report) {
  const failed = [];
  for (const [name, value] of Object.entries(report)) {
    if (name === "broken" && value) failed.push({ name: "chain", problems: [value] });
    else if (name.endsWith("_problems") && Array.isArray(value) && value.length) {
      failed.push({ name: name.slice(0, -"_problems".length), problems: value });
    }
  }
  return failed;
}

const VERIFY_POLL = 500; // ms between looks at a running verify's progress

// Verify runs in the server's background (POST /verify): the page asks how far it is until it
// is done, so neither the page nor the server waits on it.
async function runVerify() {
  const result = document.getElementById("verify-result");
  result.textContent = "verifying…";
  result.className = "status";
  result.title = "";
  let job = await api("/verify", { method: "POST" });
  while (job.state === "running") {
    if (job.total) {
      const figure = (n) => Number(n).toLocaleString("en");
      result.textContent = `verifying… ${figure(job.checked)} of ${figure(job.total)} events`;
    }
    await new Promise((resolve) => setTimeout(resolve, VERIFY_POLL));
    job = await api("/verify/progress");
  }
  if (job.state === "failed") {
    result.textContent = "verify did not finish";
    result.className = "status off";
    throw new ApiError(`verify: ${job.error}`);
  }
  showVerifyReport(job.report);
}

function showVerifyReport(report) {
  const result = document.getElementById("verify-result");
  const failed = failedSections(report);
  result.dataset.ok = String(report.ok);
  if (report.ok) {
    result.textContent = `verify ok · ${Number(report.events).toLocaleString("en")} events`;
    result.className = "status on";
    result.title = report.head || "";
  } else {
    const names = failed.map((s) => `${s.name} (${s.problems.length})`);
    result.textContent = `verify failed: ${names.join(", ") || "see the CLI"}`;
    result.className = "status off";
    result.title = visible(failed.map((s) => `${s.name}: ${s.problems.join("; ")}`).join("\n"), "\n");
  }
}

// ---------------------------------------------------------------- paged tables

// One page of a list, sorted and filtered by the server: `limit` rows, the `sort` a column
// header chose, and the `cursor` the previous answer's Next-Cursor header gave for the next
// page. The pages before are kept as a stack of cursors, so "previous" goes back.
class Paged {
  // id: the container; path: the list endpoint; columns and key: as table(); sorts: column key
  // → the server's sort name for the columns one can sort by; sort: the one to start with;
  // params: the filters, read when a page is loaded.
  // newest: the sorts that put the newest rows first (where live rows go on top).
  constructor({ id, path, columns, key, sorts = {}, sort = "newest", newest = ["newest"], params = () => ({}) }) {
    Object.assign(this, { id, path, columns, key, sorts, sort, params });
    this.newestFirst = newest;
    this.before = [];
    this.cursor = null;
    this.next = null;
    this.rows = [];
    this.total = null;
    this.capped = false; // Total-Count-Capped: more rows match than were counted
  }

  get first() {
    return this.before.length === 0;
  }

  // The first page again (a filter or the sort changed).
  reset() {
    this.before = [];
    this.cursor = null;
    return this.load();
  }

  async load() {
    const params = Object.assign(this.params(), { sort: this.sort, limit: PAGE_ROWS, cursor: this.cursor, count: "true" });
    const { body, response } = await apiResponse(`${this.path}${query(params)}`);
    this.rows = body;
    this.next = response.headers.get("Next-Cursor");
    const total = response.headers.get("Total-Count");
    this.total = total === null ? null : Number(total);
    this.capped = response.headers.get("Total-Count-Capped") === "true";
    this.render();
  }

  older() {
    if (!this.next) return null;
    this.before.push(this.cursor);
    this.cursor = this.next;
    return this.load();
  }

  newer() {
    if (this.first) return null;
    this.cursor = this.before.pop();
    return this.load();
  }

  // A click on a column: sorted by it ascending, a second click descending.
  sortBy(name) {
    this.sort = this.sort === name ? `-${name}` : name;
    return this.reset();
  }

  heading(column) {
    const [key, label, kind] = column;
    const name = this.sorts[key];
    if (!name) return heading(column);
    const order = this.sort === name ? "ascending" : this.sort === `-${name}` ? "descending" : "none";
    const mark = { ascending: " ▲", descending: " ▼", none: "" }[order];
    return el("th", { className: `sortable ${kind === "num" ? "num" : ""}`, dataset: { sort: name }, ariaSort: order },
      el("button", { type: "button", title: `sort by ${label}`, onclick: () => guarded(() => this.sortBy(name)) }, `${label}${mark}`));
  }

  range() {
    const start = this.before.length * PAGE_ROWS;
    const shown = this.rows.length ? `rows ${(start + 1).toLocaleString("en")}–${(start + this.rows.length).toLocaleString("en")}` : "no rows";
    return this.total === null ? shown : `${shown} of ${this.total.toLocaleString("en")}${this.capped ? "+" : ""}`;
  }

  render() {
    const pager = el("div", { className: "pager" },
      el("button", { type: "button", className: "previous", disabled: this.first, onclick: () => guarded(() => this.newer()) }, "← previous"),
      el("span", { className: "range" }, this.range()),
      el("button", { type: "button", className: "next", disabled: !this.next, onclick: () => guarded(() => this.older()) }, "next →"));
    const body = this.rows.length
      ? el("div", { className: "scroll" }, el("table", {},
          el("thead", {}, el("tr", {}, ...this.columns.map((c) => this.heading(c)))),
          el("tbody", {}, ...this.rows.map((row) => tableRow(this.columns, row, this.key)))))
      : el("p", { className: "empty" }, "nothing to show");
    replace(this.id, pager, body);
  }

  // The row shown for this key, if this page shows it.
  shown(key) {
    return document.querySelector(`#${this.id} tbody tr[data-key="${CSS.escape(key)}"]`);
  }

  // A changed row replaces its old self in place, highlighted; false if this page does not show it.
  patch(row) {
    const key = this.key(row);
    const old = this.shown(key);
    if (!old) return false;
    state.fresh.add(key);
    old.replaceWith(tableRow(this.columns, row, this.key));
    this.rows[this.rows.findIndex((r) => this.key(r) === key)] = row;
    return true;
  }

  // Live rows on the first page in an order newest first: the newest `count` rows
  // matching the filters are read, and those not shown yet are put on top. A page that has
  // grown to twice its size is read again.
  async newest(count) {
    if (!this.first || !this.newestFirst.includes(this.sort) || count <= 0) return;
    const params = Object.assign(this.params(), { sort: this.sort, limit: Math.min(count, PAGE_ROWS) });
    const rows = await api(`${this.path}${query(params)}`);
    const added = rows.filter((row) => !this.patch(row));
    if (!added.length) return;
    if (this.rows.length + added.length > 2 * PAGE_ROWS || !this.rows.length) {
      await this.load();
      return;
    }
    for (const row of added) state.fresh.add(this.key(row));
    document.querySelector(`#${this.id} tbody`).prepend(...added.map((row) => tableRow(this.columns, row, this.key)));
    this.rows.unshift(...added);
    if (this.total !== null) this.total += added.length;
    document.querySelector(`#${this.id} .range`).textContent = this.range();
  }
}

// ---------------------------------------------------------------- orders and trades

// The orders table's columns are not written here: they are the order's declaration
// (domain/order_state.py, ShownOrder's Listed fields), which GET /assets/columns.json serves
// with each column's heading, how it is shown, its places and the server's sort by it. A field
// declared there shows here with no change to this file.
const SHOWN_AS = {
  text: (c) => [c.field, c.heading],
  time: (c) => [c.field, c.heading],
  side: (c) => [c.field, c.heading, "", side],
  flag: (c) => [c.field, c.heading, "", flag(c.field)],
  figure: (c) => num(c.field, c.heading, c.places),
  list: (c) => [c.field, c.heading, "", (r) => (r[c.field] || []).join(", ")],
  link: (c) => [c.field, c.heading, "", (r) => orderLink(r[c.field])],
};

const orderKey = (r) => `order:${r.client_order_id}`;

// Filled in from the served columns before the first page is read (loadColumns).
const orders = new Paged({
  id: "orders-table", path: "/orders", columns: [], key: orderKey, params: () => formValues("order-filters"),
});

// The tables' columns as the server declares them: each a column for table() and Paged, and,
// where the list can be sorted by it, the server's sort name (docs/http.md, "Paged lists").
async function loadColumns() {
  const declared = (await api("/assets/columns.json")).orders;
  orders.columns = declared.columns.map((c) => (SHOWN_AS[c.shown] || SHOWN_AS.text)(c));
  orders.sorts = Object.fromEntries(declared.columns.filter((c) => c.sort).map((c) => [c.field, c.sort]));
  orders.newestFirst = declared.newest;
}

async function loadOrders() {
  if (!orders.columns.length) await loadColumns(); // not read at start: try again
  const open = document.querySelector('#order-filters input[name="open"]').checked;
  document.getElementById("orders-title").textContent = open ? "Open orders" : "Orders";
  return orders.reset();
}

const TRADE_COLUMNS = [
  ["ts_event", "ts_event"],
  ["account", "account"],
  ["venue", "venue"],
  ["instrument", "instrument"],
  ["side", "side", "", side],
  ["client_order_id", "order", "", (r) => orderLink(r.client_order_id)],
  ["trade_id", "trade_id"],
  num("quantity", "quantity", "quantity"),
  num("price", "price", "price"),
  num("fee", "fee", "money"),
  ["fee_currency", "fee-ccy"],
  ["liquidity", "liquidity"],
  ["parent_id", "parent"],
];

const tradeKey = (r) => `trade:${r.client_order_id}:${r.trade_id}`;

const TRADE_SORTS = {
  ts_event: "ts", account: "account", venue: "venue", instrument: "instrument", side: "side",
  client_order_id: "client_order_id", quantity: "quantity", price: "price", fee: "fee",
};

const trades = new Paged({
  id: "trades-table", path: "/trades", columns: TRADE_COLUMNS, key: tradeKey, sorts: TRADE_SORTS, newest: ["newest", "-ts"],
  params: () => formValues("trade-filters"),
});

// ---------------------------------------------------------------- positions and P&L

const POSITION_COLUMNS = [
  ["account", "account"],
  ["venue", "venue"],
  ["instrument", "instrument"],
  num("quantity", "quantity", "quantity"),
  num("average_price", "avg-price", "price"),
  ["pnl_currency", "pnl-ccy"],
  num("realized_pnl", "realized_pnl", "money"),
  num("realized_pnl_net", "realized_pnl_net", "money"),
  num("unrealized_pnl", "unrealized_pnl", "money"),
  ["fees", "fees", "num", (r) => fees(r.fees, r)],
];

function marks() {
  return document.getElementById("marks").value.split(",").map((m) => m.trim()).filter(Boolean);
}

const positions = new Paged({
  id: "positions-table", path: "/positions", columns: POSITION_COLUMNS,
  key: (r) => `position:${r.account}:${r.venue}:${r.instrument}`,
  sorts: { account: "account", venue: "venue", instrument: "instrument", quantity: "quantity", realized_pnl: "realized_pnl", unrealized_pnl: "unrealized_pnl" },
  sort: "instrument", params: () => ({ mark: marks() }),
});

const DAILY_COLUMNS = [
  ["day", "day"],
  ["account", "account"],
  ["pnl_currency", "pnl-ccy"],
  num("realized_pnl", "realized_pnl", "money"),
  ["fees", "fees", "num", (r) => fees(r.fees, r)],
  ["funding", "funding", "num", (r) => fees(r.funding, r)],
  num("realized_pnl_net", "realized_pnl_net", "money"),
  num("unrealized_pnl", "unrealized_pnl", "money"),
];

// The positions first (what the tab's first paint waits for), then each of the rest as it
// arrives: the P&L reads fold every fill, and on a large ledger one of them must not hold back
// the others. What arrives after the tab was left is not drawn (drawing a chart holds the
// page's one thread for a moment): opening the tab again reads it again, answered by the
// server from what it kept (docs/http.md, "Bounded work"). The charts' library loads once, on
// the first chart drawn.
async function loadPnl() {
  const by = document.getElementById("pnl-by").value;
  await positions.reset();
  chooseInstruments(positions.rows);
  const columns = [
    [by, by],
    ["pnl_currency", "pnl-ccy"],
    num("realized_pnl", "realized_pnl", "money"),
    num("realized_pnl_net", "realized_pnl_net", "money"),
    ["fees", "fees", "num", (r) => fees(r.fees, r)],
    ["fills", "fills", "num"],
  ];
  const shown = (draw) => (rows) => (state.tab === "pnl" ? draw(rows) : null);
  // Asked cheapest first: the server folds them one after another (the daily P&L the longest)
  await Promise.all([
    loadFills(),
    pnlTable(by, columns).then(shown((drawn) => replace("pnl-table", drawn))),
    api(`/pnl/series${query({ points: SERIES_POINTS })}`).then(shown((series) => pnlCharts("pnl-charts", series))),
    api("/pnl/daily").then(shown((daily) => {
      replace("daily-table", table(DAILY_COLUMNS, daily));
      return dailyCharts("daily-charts", daily);
    })),
  ]);
}

// The realized P&L by the group chosen, in the desk currency typed if one is (each group's P&L
// currencies converted at the rates recorded as marks and summed); a refusal (no rate recorded,
// a name that is no currency) is one line in the table's place.
async function pnlTable(by, columns) {
  const currency = document.getElementById("pnl-in-currency").value.trim();
  try {
    return table(columns, await api(`/pnl${query({ by, in_currency: currency })}`));
  } catch (error) {
    return el("p", { className: "error", role: "alert" }, visible(error.message || error));
  }
}

// The instruments of the positions shown, to choose the one whose fills are drawn.
function chooseInstruments(rows) {
  const select = document.getElementById("fills-instrument");
  const chosen = select.value;
  const quotes = new Map(rows.map((r) => [r.instrument, r.pnl_currency || r.quote_currency || ""]));
  select.replaceChildren(...[...quotes.keys()].sort().map((i) => el("option", { value: i, dataset: { quote: quotes.get(i) } }, i)));
  if (quotes.has(chosen)) select.value = chosen;
}

async function loadFills() {
  const select = document.getElementById("fills-instrument");
  const instrument = select.value;
  if (!instrument) {
    replace("fills-chart", el("p", { className: "empty" }, "no position yet"));
    return;
  }
  const option = select.selectedOptions[0];
  const rows = await api(`/trades${query({ instrument, sort: "newest", limit: FILLS_DRAWN })}`);
  if (state.tab !== "pnl") return;
  // The latest fills, drawn in time order (ISO 8601 text sorts as time)
  rows.sort((a, b) => (a.ts_event < b.ts_event ? -1 : a.ts_event > b.ts_event ? 1 : 0));
  await fillsChart("fills-chart", instrument, option ? option.dataset.quote : "", rows);
}

// ---------------------------------------------------------------- an order's timeline

function openTimeline(id) {
  document.getElementById("timeline-id").value = id;
  state.timelineOrder = id;
  showTab("timeline");
}

function payloadText(payload) {
  return Object.entries(payload || {})
    .filter(([, v]) => v !== null && v !== undefined && !(typeof v === "object" && !Object.keys(v).length))
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join("  ");
}

function prettyRaw(raw) {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch (error) {
    return raw; // FIX or other text: shown as received
  }
}

async function loadTimeline() {
  const id = state.timelineOrder;
  if (!id) return;
  const path = `/orders/${encodeURIComponent(id)}`;
  const [order, history] = await Promise.all([api(path), api(`${path}/history`)]);
  // Every field the order shows, in the API's order (as `orderledger order` shows them).
  const list = el("dl", { className: "kv", id: "timeline-summary" });
  for (const [field, value] of Object.entries(order)) {
    if (field === "precision") continue; // the places its figures are shown to, not a field
    const text = Array.isArray(value) ? value.join(", ") : value && typeof value === "object" ? JSON.stringify(value) : value;
    list.append(el("dt", {}, field), el("dd", { dataset: { field } }, text === null || text === undefined ? "" : text));
  }
  replace("timeline-order", list);
  const items = history.map((entry) => {
    const head = el("div", { className: "head" },
      el("span", { className: "num" }, `v${entry.version}`),
      el("span", { className: "type" }, entry.type),
      el("span", {}, `venue ${entry.ts_event}`),
      el("span", {}, `recorded ${entry.ts_recorded}`),
      el("span", {}, `source ${entry.source}`),
      el("span", {}, `log #${entry.position}`));
    const body = el("div", { className: "payload" }, payloadText(entry.payload));
    const raw = entry.message
      ? el("details", { className: "message" },
          el("summary", {}, `message #${entry.message.message_id} from ${entry.message.origin}${entry.message.line ? ` line ${entry.message.line}` : ""}`),
          el("pre", { className: "raw-message" }, prettyRaw(entry.message.raw)))
      : el("div", { className: "empty" }, "no message (recorded by the ledger itself)");
    return el("li", { dataset: { type: entry.type } }, head, body, raw);
  });
  replace("timeline-events", ...items);
  await loadLinks(order);
}

// The linkage parent → orders → trades for the order's parent: that parent's children and
// their trades only (the parent filter), never every order.
async function loadLinks(order) {
  state.timelineOrders = new Set([order.client_order_id]);
  if (!order.parent_id) {
    replace("timeline-links");
    return;
  }
  const tree = await parentView(order.parent_id);
  state.timelineOrders = tree.orders;
  replace("timeline-links", tree.node);
}

// One parent's children and their trades, read with the parent filter (a parent of more than
// a page of children shows the first page of each and says so).
async function parentView(parent) {
  const limit = 5000;
  const [children, fills] = await Promise.all([
    api(`/orders${query({ parent, sort: "oldest", limit })}`),
    api(`/trades${query({ parent, sort: "oldest", limit })}`),
  ]);
  const node = el("div", { className: "tree" }, parentTree(parent, children, fills));
  if (children.length === limit || fills.length === limit) node.append(el("p", { className: "empty" }, `the first ${limit} orders and trades`));
  return { node, orders: new Set(children.map((o) => o.client_order_id)) };
}

function parentTree(parent, orders, trades) {
  const children = orders.map((o) => {
    const fills = trades.filter((t) => t.client_order_id === o.client_order_id);
    return el("li", {},
      orderLink(o.client_order_id), ` ${o.side} ${o.quantity} ${o.instrument} @ ${o.price ?? "market"} — ${o.status}`,
      fills.length
        ? el("ul", {}, ...fills.map((t) => el("li", {}, `trade ${t.trade_id}: ${t.quantity} @ ${t.price} (${t.ts_event})`)))
        : null);
  });
  return el("ul", {}, el("li", {}, el("strong", {}, `parent ${parent}`), el("ul", {}, ...children)));
}

// ---------------------------------------------------------------- parents

// The columns of GET /parents (a ParentRow each) and the server's sorts of them.
const PARENT_COLUMNS = [
  ["parent_id", "parent", "", (r) => el("button", { className: "link", type: "button", onclick: () => guarded(() => openParent(r.parent_id, true)) }, r.parent_id)],
  ["orders", "orders", "num"],
  ["open_orders", "open", "num"],
  ["accounts", "accounts", "", (r) => r.accounts.join(", ")],
  ["instruments", "instruments", "", (r) => r.instruments.join(", ")],
  ["created_at", "created"],
  ["updated_at", "updated"],
];

const parents = new Paged({
  id: "parents-table", path: "/parents", columns: PARENT_COLUMNS, key: (r) => `parent:${r.parent_id}`,
  sorts: { parent_id: "parent_id", orders: "orders", open_orders: "open_orders", created_at: "created", updated_at: "updated" },
  sort: "-created", // the parents whose first order is newest first
});

// A parent chosen in the list: its tree below the list, scrolled into view (a live refresh of
// the parent shown, or the tab opened again, leaves the scroll where the operator put it).
async function openParent(parent, reveal = false) {
  state.parentOpen = parent;
  const tree = await parentView(parent);
  state.parentOrders = tree.orders;
  replace("linkage-tree", tree.node);
  if (reveal) document.getElementById("linkage-title").scrollIntoView({ block: "start" });
}

async function loadLinkage() {
  await parents.reset();
  if (state.parentOpen) await openParent(state.parentOpen);
}

// ---------------------------------------------------------------- the journal

const JOURNAL_COLUMNS = [
  ["message_id", "id", "num"],
  ["received_at", "received_at"],
  ["origin", "origin", "", (r) => `${r.origin}${r.line ? `:${r.line}` : ""}`],
  ["format", "format"],
  ["outcome", "outcome"],
  ["reason", "reason"],
  ["client_order_id", "order", "", (r) => orderLink(r.client_order_id)],
  ["raw", "raw", "raw"],
];

async function loadJournal() {
  const outcome = document.getElementById("journal-outcome").value;
  const rows = await api(`/messages${query({ outcome, sort: "newest", limit: 1000 })}`);
  replace("journal-table", table(JOURNAL_COLUMNS, rows));
}

// ---------------------------------------------------------------- reconciliation

async function reconcile(apply) {
  if (apply && !window.confirm("Record every correction in the ledger?")) return;
  const body = document.getElementById("snapshot").value;
  const report = await api(`/reconcile${query({ apply: apply ? "true" : "" })}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  const columns = [
    ["kind", "kind"],
    ["client_order_id", "order", "", (r) => orderLink(r.client_order_id)],
    ["venue_order_id", "venue_order_id"],
    ["detail", "detail"],
    ["corrections", apply ? "applied" : "would record", "", (r) => (apply ? r.applied || "" : r.corrections.map((c) => c.type).join(", "))],
  ];
  replace("reconcile-report",
    el("h2", {}, `${report.venue}/${report.account}: ${report.differences.length} differences ${apply ? "(applied)" : "(dry run: nothing recorded)"}`),
    table(columns, report.differences));
}

// ---------------------------------------------------------------- tabs

const LOADERS = {
  orders: loadOrders,
  trades: () => trades.reset(),
  pnl: loadPnl,
  timeline: loadTimeline,
  linkage: loadLinkage,
  journal: loadJournal,
  reconcile: async () => {},
};

function showTab(name) {
  state.tab = name;
  for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.tab === name);
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== name;
  return guarded(LOADERS[name]);
}

// ---------------------------------------------------------------- live updates, row by row

// What a batch of events changes on the tab shown: each changed order's row is read alone
// (GET /orders/{id}) and patched where it is shown; new orders and trades come from one read of
// the newest rows; the timeline and a parent are read again when they show a changed order.
// Nothing reads a whole list again.
const LIVE = {
  orders: async (changed) => {
    const known = changed.filter((id) => orders.shown(`order:${id}`));
    await Promise.all(known.map(async (id) => orders.patch(await api(`/orders/${encodeURIComponent(id)}`))));
    await orders.newest(changed.length - known.length);
  },
  trades: async (changed, fills) => trades.newest(fills),
  pnl: async (changed, fills) => {
    // Positions and P&L move with fills; read again at most once a second, and never while
    // the last reading runs (on a large ledger its folds take seconds): then once after it.
    if (fills) state.pnlStale = true;
    if (!state.pnlStale || state.pnlTimer || state.pnlLoading) return;
    state.pnlTimer = setTimeout(async () => {
      state.pnlTimer = null;
      if (state.tab !== "pnl") return;
      state.pnlStale = false;
      state.pnlLoading = true;
      await guarded(loadPnl);
      state.pnlLoading = false;
      if (state.pnlStale) LIVE.pnl([], 0);
    }, 1000);
  },
  timeline: async (changed) => {
    if (changed.some((id) => id === state.timelineOrder || state.timelineOrders.has(id))) await loadTimeline();
  },
  linkage: async (changed) => {
    if (state.parentOpen && changed.some((id) => state.parentOrders.has(id))) await openParent(state.parentOpen);
  },
  journal: async () => {},
  reconcile: async () => {},
};

// Events arrive in bursts: they are gathered for a moment and applied together.
function applyLive() {
  state.liveTimer = null;
  const changed = [...state.changed];
  const fills = state.fills;
  const others = state.others;
  state.changed.clear();
  state.fills = 0;
  state.others = 0;
  return guarded(() => LIVE[state.tab](changed, fills, others));
}

// ---------------------------------------------------------------- the live stream (SSE over fetch)

// fetch rather than EventSource so the bearer token travels in a header, not in the URL.
async function follow() {
  const live = document.getElementById("live");
  for (;;) {
    try {
      const headers = authorized({ Accept: "text/event-stream" });
      if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
      const response = await fetch("/stream", { headers });
      if (!response.ok) throw new Error(`stream: ${response.status}`);
      live.textContent = "live";
      live.className = "status on";
      await eachFrame(response, received);
    } catch (error) {
      // fall through: reconnect below, resuming after the last event seen
    }
    live.textContent = "reconnecting…";
    live.className = "status off";
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// Each frame of a Server-Sent Events response as it arrives (its id, event and data lines),
// until the response ends.
async function eachFrame(response, onFrame) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const fields = { id: null, event: null, data: null };
      for (const line of buffer.slice(0, end).split("\n")) {
        const named = /^(id|event|data): (.*)$/.exec(line);
        if (named) fields[named[1]] = named[2];
      }
      buffer = buffer.slice(end + 2);
      onFrame(fields);
    }
  }
}

function received({ id, data }) {
  if (id === null || data === null) return;
  state.lastEventId = id;
  const event = JSON.parse(data);
  document.getElementById("live").textContent = `live · event ${id}`;
  if (!event.client_order_id) {
    state.others = (state.others || 0) + 1;  // a limit, a trading state, a mark …: no order's
  } else {
    state.changed.add(event.client_order_id);
    if (event.payload && event.payload.trade_id) state.fills = (state.fills || 0) + 1;
  }
  if (!state.liveTimer) state.liveTimer = setTimeout(applyLive, 20);
}

// ---------------------------------------------------------------- wiring

function onFilter(formId, load) {
  const form = document.getElementById(formId);
  form.addEventListener("submit", (e) => { e.preventDefault(); guarded(load); });
  form.addEventListener("reset", () => setTimeout(() => guarded(load), 0));
  for (const box of form.querySelectorAll('input[type="checkbox"]')) box.addEventListener("change", () => guarded(load));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => showTab(button.dataset.tab));
  onFilter("order-filters", loadOrders);
  onFilter("trade-filters", () => trades.reset());
  document.getElementById("marks-apply").addEventListener("click", () => guarded(loadPnl));
  document.getElementById("pnl-by").addEventListener("change", () => guarded(loadPnl));
  document.getElementById("pnl-in-currency").addEventListener("change", () => guarded(loadPnl));
  document.getElementById("fills-instrument").addEventListener("change", () => guarded(loadFills));
  document.getElementById("journal-outcome").addEventListener("change", () => guarded(loadJournal));
  document.getElementById("verify").addEventListener("click", () => guarded(runVerify));
  document.getElementById("timeline-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.timelineOrder = document.getElementById("timeline-id").value.trim();
    guarded(loadTimeline);
  });
  document.getElementById("snapshot-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (file) document.getElementById("snapshot").value = await file.text();
  });
  document.getElementById("reconcile-dry").addEventListener("click", () => guarded(() => reconcile(false)));
  document.getElementById("reconcile-apply").addEventListener("click", () => guarded(() => reconcile(true)));
  document.getElementById("token").value = state.token;
  document.getElementById("token-form").hidden = !state.token;
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = document.getElementById("token").value.trim();
    sessionStorage.setItem("orderledger-token", state.token);
    showTab(state.tab);
  });
  // The orders table's columns first: the first page and the live rows are drawn with them.
  guarded(loadColumns).then(() => {
    showTab("orders");
    follow();
  });
  watchCollectors();
});
