// The operator's page. Plain JS, no build step, nothing loaded from elsewhere.
// Every value from the ledger is inserted as text (textContent / createTextNode), never as
// markup, so an ID like <img src=x onerror=alert(1)> is shown, not run; and through visible(),
// so a control, bidi or zero-width character in stored text is shown as an escape (\u202e),
// never acting on the text around it.
"use strict";

const state = {
  token: sessionStorage.getItem("orderledger-token") || "",
  tab: "orders",
  lastEventId: null,
  timelineOrder: null,
  fresh: new Set(),
  refreshTimer: null,
};

// ---------------------------------------------------------------- DOM helpers (text only)

// Unicode categories Cc, Cf, Zl and Zp: the characters the ledger refuses in IDs and never shows
// as themselves (UNSAFE_CATEGORIES in domain/values.py; the command line escapes them alike).
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

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
function table(columns, rows, rowKey) {
  if (!rows.length) return el("p", { className: "empty" }, "nothing to show");
  const head = el("tr", {}, ...columns.map(([, label, kind]) => el("th", { className: kind === "num" ? "num" : "" }, label)));
  const body = rows.map((row) => {
    const tr = el("tr", {}, ...columns.map(([key, , kind, render]) => {
      const value = render ? render(row) : row[key];
      const cell = el("td", { className: kind || "" });
      cell.append(value instanceof Node ? value : document.createTextNode(value === null || value === undefined ? "" : visible(value)));
      if (key) cell.dataset.col = key;
      return cell;
    }));
    if (rowKey) {
      tr.dataset.key = rowKey(row);
      if (state.fresh.has(tr.dataset.key)) tr.className = "fresh";
    }
    return tr;
  });
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
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

// ---------------------------------------------------------------- the API

class ApiError extends Error {}

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => null);
  if (response.status === 401) document.getElementById("token-form").hidden = false;
  if (!response.ok) throw new ApiError((body && body.detail) || `${response.status} ${response.statusText}`);
  return body;
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

// ---------------------------------------------------------------- orders

const ORDER_COLUMNS = [
  ["client_order_id", "order", "", (r) => orderLink(r.client_order_id)],
  ["account", "account"],
  ["venue", "venue"],
  ["instrument", "instrument"],
  ["side", "side", "", side],
  ["order_type", "type"],
  num("quantity", "quantity", "quantity"),
  num("price", "price", "price"),
  num("filled_quantity", "filled", "quantity"),
  num("leaves_quantity", "leaves", "quantity"),
  num("average_price", "avg price", "price"),
  ["status", "status"],
  ["parent_id", "parent"],
  ["updated_at", "updated"],
];

async function loadOrders() {
  const openOnly = document.getElementById("orders-open").checked;
  const parent = document.getElementById("orders-parent").value.trim();
  let rows = await api(`/orders${query({ open: openOnly ? "true" : "" })}`);
  if (parent) rows = rows.filter((r) => r.parent_id === parent);
  document.getElementById("orders-title").textContent = `${openOnly ? "Open orders" : "Orders"} (${rows.length})`;
  replace("orders-table", table(ORDER_COLUMNS, rows, (r) => `order:${r.client_order_id}`));
}

// ---------------------------------------------------------------- trades

const TRADE_COLUMNS = [
  ["ts_event", "time"],
  ["account", "account"],
  ["venue", "venue"],
  ["instrument", "instrument"],
  ["side", "side", "", side],
  ["client_order_id", "order", "", (r) => orderLink(r.client_order_id)],
  ["trade_id", "trade"],
  num("quantity", "quantity", "quantity"),
  num("price", "price", "price"),
  num("fee", "fee", "money"),
  ["fee_currency", "fee ccy"],
  ["liquidity", "liquidity"],
  ["parent_id", "parent"],
];

function tradeFilters() {
  const form = document.getElementById("trade-filters");
  const params = {};
  for (const input of form.querySelectorAll("input")) params[input.name] = input.value.trim();
  return params;
}

async function loadTrades() {
  const rows = await api(`/trades${query(tradeFilters())}`);
  replace("trades-table", table(TRADE_COLUMNS, rows.slice().reverse(), (r) => `trade:${r.client_order_id}:${r.trade_id}`));
}

// ---------------------------------------------------------------- positions and P&L

const POSITION_COLUMNS = [
  ["account", "account"],
  ["venue", "venue"],
  ["instrument", "instrument"],
  num("quantity", "quantity", "quantity"),
  num("average_price", "avg price", "price"),
  ["pnl_currency", "currency"],
  num("realized_pnl", "realized", "money"),
  num("realized_pnl_net", "realized net", "money"),
  num("unrealized_pnl", "unrealized", "money"),
  ["fees", "fees", "num", (r) => fees(r.fees, r)],
];

async function loadPnl() {
  const marks = document.getElementById("marks").value.split(",").map((m) => m.trim()).filter(Boolean);
  const by = document.getElementById("pnl-by").value;
  const [positions, series, grouped, daily] = await Promise.all([
    api(`/positions${query({ mark: marks })}`),
    api("/pnl/series"),
    api(`/pnl${query({ by })}`),
    api("/pnl/daily"),
  ]);
  replace("positions-table", table(POSITION_COLUMNS, positions, (r) => `position:${r.account}:${r.venue}:${r.instrument}`));
  replace("pnl-chart", chart(series));
  const columns = [
    [by, by],
    ["quote_currency", "quote"],
    num("realized_pnl", "realized", "money"),
    num("realized_pnl_net", "realized net", "money"),
    ["fees", "fees", "num", (r) => fees(r.fees, r)],
    ["fills", "fills", "num"],
  ];
  replace("pnl-table", table(columns, grouped));
  replace("daily-chart", dailyChart(daily));
  replace("daily-table", table(DAILY_COLUMNS, daily));
}

const DAILY_COLUMNS = [
  ["day", "day"],
  ["account", "account"],
  ["pnl_currency", "currency"],
  num("realized_pnl", "realized", "money"),
  ["fees", "fees", "num", (r) => fees(r.fees, r)],
  ["funding", "funding", "num", (r) => fees(r.funding, r)],
  num("realized_pnl_net", "realized net", "money"),
  num("unrealized_pnl", "unrealized (day's last mark)", "money"),
];

// Each day's net realized P&L (realized − fees + funding) per currency, summed over accounts,
// as the same step lines as the chart above: the running total over the days.
function dailyChart(rows) {
  const totals = new Map();
  for (const row of rows) {
    if (row.realized_pnl_net === null) continue;
    const key = `${row.day}\u0000${row.pnl_currency}`;
    totals.set(key, (totals.get(key) || 0) + Number(row.realized_pnl_net));
  }
  const running = new Map();
  const points = [...totals.entries()].sort().map(([key, value]) => {
    const [day, currency] = key.split("\u0000");
    running.set(currency, (running.get(currency) || 0) + value);
    const total = String(Number(running.get(currency).toPrecision(12)));
    return { ts_event: `${day}T23:59:59Z`, quote_currency: currency, instrument: day, realized_pnl: String(value), cumulative_realized_pnl: total };
  });
  return chart(points);
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = visible(text);
  return node;
}

// Cumulative realized P&L per quote currency against venue time, as step lines. The numbers
// are the server's exact decimals; floats are used only to place points on the drawing.
function chart(series) {
  if (!series.length) return el("p", { className: "empty" }, "no realized P&L yet");
  const width = 960, height = 240, left = 70, right = 90, top = 14, bottom = 28;
  const byQuote = new Map();
  for (const point of series) {
    const key = point.quote_currency || "(no quote)";
    if (!byQuote.has(key)) byQuote.set(key, []);
    byQuote.get(key).push(point);
  }
  const times = series.map((p) => Date.parse(p.ts_event));
  const values = series.map((p) => Number(p.cumulative_realized_pnl)).concat([0]);
  let t0 = Math.min(...times), t1 = Math.max(...times);
  if (t1 === t0) { t0 -= 1000; t1 += 1000; }
  let v0 = Math.min(...values), v1 = Math.max(...values);
  if (v1 === v0) { v0 -= 1; v1 += 1; }
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + (1 - (v - v0) / (v1 - v0)) * (height - top - bottom);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "cumulative realized P&L over time" });
  root.append(svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }));
  root.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
  root.append(svg("line", { class: "zero", x1: left, y1: y(0), x2: width - right, y2: y(0) }));
  root.append(svg("text", { x: left - 6, y: y(v1) + 4, "text-anchor": "end" }, String(v1.toPrecision(6) * 1)));
  root.append(svg("text", { x: left - 6, y: y(v0) + 4, "text-anchor": "end" }, String(v0.toPrecision(6) * 1)));
  root.append(svg("text", { x: left, y: height - 8 }, new Date(t0).toISOString().slice(0, 19).replace("T", " ")));
  root.append(svg("text", { x: width - right, y: height - 8, "text-anchor": "end" }, new Date(t1).toISOString().slice(0, 19).replace("T", " ")));
  const colours = ["#1c64b8", "#b4531c", "#1a7f37", "#7a3cb8", "#b8a21c"];
  let index = 0;
  for (const [quote, points] of byQuote) {
    const colour = colours[index++ % colours.length];
    let path = `M ${x(Date.parse(points[0].ts_event))} ${y(0)}`;
    for (const p of points) {
      const px = x(Date.parse(p.ts_event));
      path += ` H ${px} V ${y(Number(p.cumulative_realized_pnl))}`;
    }
    root.append(svg("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2 }));
    for (const p of points) {
      const dot = svg("circle", { cx: x(Date.parse(p.ts_event)), cy: y(Number(p.cumulative_realized_pnl)), r: 2.5, fill: colour });
      dot.append(svg("title", {}, `${p.ts_event} ${p.instrument} ${p.client_order_id || ""} ${p.realized_pnl} → ${p.cumulative_realized_pnl} ${quote}`));
      root.append(dot);
    }
    const last = points[points.length - 1];
    root.append(svg("text", { x: width - right + 6, y: y(Number(last.cumulative_realized_pnl)) + 4, fill: colour }, `${last.cumulative_realized_pnl} ${quote}`));
  }
  return root;
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
  const fields = ["client_order_id", "status", "account", "venue", "instrument", "side", "order_type", "quantity", "price",
    "filled_quantity", "leaves_quantity", "average_price", "parent_id", "venue_order_ids", "anomalies", "tags"];
  const list = el("dl", { className: "kv", id: "timeline-summary" });
  for (const field of fields) {
    const value = order[field];
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

// The linkage parent → orders → trades for the order's parent (or the order alone).
async function loadLinks(order) {
  if (!order.parent_id) {
    replace("timeline-links");
    return;
  }
  const [orders, trades] = await Promise.all([api("/orders"), api("/trades")]);
  const siblings = orders.filter((o) => o.parent_id === order.parent_id);
  replace("timeline-links", el("div", { className: "tree" }, parentTree(order.parent_id, siblings, trades)));
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

async function loadLinkage() {
  const [orders, trades] = await Promise.all([api("/orders"), api("/trades")]);
  const parents = new Map();
  for (const o of orders) {
    if (!o.parent_id) continue;
    if (!parents.has(o.parent_id)) parents.set(o.parent_id, []);
    parents.get(o.parent_id).push(o);
  }
  if (!parents.size) {
    replace("linkage-tree", el("p", { className: "empty" }, "no order names a parent"));
    return;
  }
  replace("linkage-tree", el("div", { className: "tree" }, ...[...parents].map(([p, os]) => parentTree(p, os, trades))));
}

// ---------------------------------------------------------------- the journal

const JOURNAL_COLUMNS = [
  ["message_id", "#", "num"],
  ["received_at", "received"],
  ["origin", "origin", "", (r) => `${r.origin}${r.line ? `:${r.line}` : ""}`],
  ["format", "format"],
  ["outcome", "outcome"],
  ["reason", "reason"],
  ["client_order_id", "order", "", (r) => orderLink(r.client_order_id)],
  ["raw", "raw message", "raw"],
];

async function loadJournal() {
  const outcome = document.getElementById("journal-outcome").value;
  const rows = await api(`/messages${query({ outcome, limit: 1000 })}`);
  replace("journal-table", table(JOURNAL_COLUMNS, rows.reverse()));
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
    ["kind", "difference"],
    ["client_order_id", "order", "", (r) => orderLink(r.client_order_id)],
    ["venue_order_id", "venue order"],
    ["detail", "detail"],
    ["corrections", apply ? "applied" : "would record", "", (r) => (apply ? r.applied || "" : r.corrections.map((c) => c.type).join(", "))],
  ];
  replace("reconcile-report",
    el("h2", {}, `${report.venue}/${report.account}: ${report.differences.length} differences ${apply ? "(applied)" : "(dry run: nothing recorded)"}`),
    table(columns, report.differences));
}

// ---------------------------------------------------------------- tabs and refreshing

const LOADERS = {
  orders: loadOrders,
  trades: loadTrades,
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
  guarded(LOADERS[name]);
}

function refreshSoon() {
  // Many events in a burst cause one reload of what is shown.
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    guarded(LOADERS[state.tab]).then(() => state.fresh.clear());
  }, 100);
}

// ---------------------------------------------------------------- the live stream (SSE over fetch)

// fetch rather than EventSource so the bearer token travels in a header, not in the URL.
async function follow() {
  const live = document.getElementById("live");
  for (;;) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (state.token) headers.Authorization = `Bearer ${state.token}`;
      if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
      const response = await fetch("/stream", { headers });
      if (!response.ok) throw new Error(`stream: ${response.status}`);
      live.textContent = "live";
      live.className = "status on";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          received(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      // fall through: reconnect below, resuming after the last event seen
    }
    live.textContent = "reconnecting…";
    live.className = "status off";
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function received(frame) {
  let id = null, data = null;
  for (const line of frame.split("\n")) {
    if (line.startsWith("id: ")) id = line.slice(4);
    else if (line.startsWith("data: ")) data = line.slice(6);
  }
  if (id === null || data === null) return;
  state.lastEventId = id;
  const event = JSON.parse(data);
  document.getElementById("live").textContent = `live · event ${id}`;
  state.fresh.add(`order:${event.client_order_id}`);
  if (event.payload && event.payload.trade_id) state.fresh.add(`trade:${event.client_order_id}:${event.payload.trade_id}`);
  if (state.tab !== "timeline" || event.client_order_id === state.timelineOrder) refreshSoon();
}

// ---------------------------------------------------------------- wiring

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => showTab(button.dataset.tab));
  document.getElementById("orders-open").addEventListener("change", () => guarded(loadOrders));
  document.getElementById("orders-parent").addEventListener("change", () => guarded(loadOrders));
  document.getElementById("trade-filters").addEventListener("submit", (e) => { e.preventDefault(); guarded(loadTrades); });
  document.getElementById("trade-filters").addEventListener("reset", () => setTimeout(() => guarded(loadTrades), 0));
  document.getElementById("marks-apply").addEventListener("click", () => guarded(loadPnl));
  document.getElementById("pnl-by").addEventListener("change", () => guarded(loadPnl));
  document.getElementById("journal-outcome").addEventListener("change", () => guarded(loadJournal));
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
  showTab("orders");
  follow();
});
