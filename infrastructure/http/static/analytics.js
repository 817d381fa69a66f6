// The Analytics tab: execution quality per group (GET /analytics/execution, docs/analytics.md),
// a table and two bar charts (slippage and fees in basis points, positive = cost). Self-contained:
// it adds its own section to the page and draws with plotly.js served by the app
// (/assets/plotly.min.js), loaded on the first chart.
"use strict";

(() => {
  const GROUPINGS = ["venue", "instrument", "account", "tag:strategy", "parent", "hour", "day"];
  const COLUMNS = [
    ["orders", "orders"], ["fill", "fill_ratio"], ["slip/limit bp", "slippage_vs_limit_bps"],
    ["slip/decision bp", "slippage_vs_decision_bps"], ["fee bp", "fee_bps"], ["maker", "maker_share"],
    ["ack s", "ack_seconds_median"], ["1st fill s", "first_fill_seconds_median"],
    ["done s", "completion_seconds_median"], ["reject", "reject_rate"], ["cancel", "cancel_rate"],
    ["replace", "replace_rate"],
  ];
  let plotlyLoading = null;

  function make(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) node[key] = value;
    node.append(...children);
    return node;
  }

  function plotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!plotlyLoading) {
      plotlyLoading = new Promise((resolve, reject) => {
        const script = make("script", { src: "/assets/plotly.min.js" });
        script.onload = () => resolve(window.Plotly);
        script.onerror = () => { plotlyLoading = null; reject(new Error("plotly.js did not load")); };
        document.head.append(script);
      });
    }
    return plotlyLoading;
  }

  // ratios, basis points and seconds to two places; the count of orders as it is
  function cell(value, key) {
    if (value === null || value === undefined) return "";
    return typeof value === "number" && key !== "orders" ? value.toFixed(2) : String(value);
  }

  function label(row) {
    const parts = Object.values(row.group).map((v) => (v === null ? "(none)" : v));
    return parts.length ? parts.join(" · ") : "all orders";
  }

  async function load(form, out) {
    const query = new URLSearchParams();
    for (const name of ["by", "since", "until"]) {
      const value = form.elements[name].value.trim();
      if (value) query.set(name, value);
    }
    const headers = {};
    const token = sessionStorage.getItem("orderledger-token");
    if (token) headers.Authorization = `Bearer ${token}`;
    out.status.textContent = "loading…";
    const response = await fetch(`/analytics/execution?${query}`, { headers });
    const body = await response.json();
    if (!response.ok) {
      out.status.textContent = body.detail || `HTTP ${response.status}`;
      return;
    }
    out.status.textContent = `${body.length} group${body.length === 1 ? "" : "s"}`;
    const head = make("tr", {}, make("th", {}, "group"), ...COLUMNS.map(([title]) => make("th", {}, title)));
    const rows = body.map((row) => make("tr", {}, make("td", {}, label(row)),
      ...COLUMNS.map(([, key]) => make("td", { className: "num" }, cell(row[key], key)))));
    out.table.replaceChildren(make("table", {}, make("thead", {}, head), make("tbody", {}, ...rows)));
    const Plotly = await plotly().catch((error) => { out.status.textContent += ` (${error.message})`; });
    if (!Plotly) return;
    // plotly reads a few tags and entities in its text: stored text is escaped, shown as written
    const names = body.map((row) => label(row).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"));
    const bars = (key, name) => ({ type: "bar", name, x: names, y: body.map((row) => row[key]) });
    const layout = (title) => ({ title: { text: title }, yaxis: { title: { text: "bps (positive = cost)" } },
      barmode: "group", margin: { t: 40 } });
    const config = { displayModeBar: false, responsive: true };
    Plotly.react(out.slippage, [bars("slippage_vs_limit_bps", "vs limit"),
      bars("slippage_vs_decision_bps", "vs decision price")], layout("Slippage"), config);
    Plotly.react(out.fees, [bars("fee_bps", "fees")], layout("Fees"), config);
  }

  function build() {
    const section = document.getElementById("analytics");
    if (!section || section.childElementCount) return;
    const by = make("input", { name: "by", value: "venue,tag:strategy", size: 24, title: GROUPINGS.join(", ") });
    const form = make("form", { className: "bar" }, make("h2", {}, "Execution quality"),
      make("label", {}, "by ", by), make("label", {}, "since ", make("input", { name: "since", size: 22 })),
      make("label", {}, "until ", make("input", { name: "until", size: 22 })),
      make("button", { type: "submit" }, "Show"));
    const out = {
      status: make("span", { className: "status" }), table: make("div", { className: "scroll" }),
      slippage: make("div", { id: "analytics-slippage" }), fees: make("div", { id: "analytics-fees" }),
    };
    form.addEventListener("submit", (event) => { event.preventDefault(); load(form, out); });
    section.append(form, out.status, out.table, out.slippage, out.fees);
    return () => load(form, out);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const show = build();
    // The page's own tab switching (app.js) shows the section and calls its loader; live events
    // need no redraw here: the report is read when asked for.
    if (show && typeof LOADERS !== "undefined") LOADERS.analytics = show;
    if (typeof LIVE !== "undefined") LIVE.analytics = () => {};
  });
})();
