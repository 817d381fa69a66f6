// The Exposure tab: positions and open orders per underlying (GET /exposure, docs/risk.md),
// grouped by account, venue or neither, one row per group and underlying: the net units and
// their value at the latest marks beside the open orders' worst case per side. Self-contained:
// it adds its own section's contents and registers its loader with the page (app.js).
"use strict";

(() => {
  const GROUPINGS = ["account,underlying", "underlying", "account,venue,underlying"];
  const FIGURES = [
    ["net", "net_units"], ["net value", "net_value"], ["options", "option_units"],
    ["open long", "open_long_units"], ["open short", "open_short_units"],
    ["worst long", "worst_long_units"], ["worst short", "worst_short_units"],
    ["worst long value", "worst_long_value"], ["worst short value", "worst_short_value"],
  ];
  const state = { timer: null, loading: false, stale: false };

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

  function notes(row) {
    const said = [];
    if (row.unmapped.length) said.push(`own underlying: ${row.unmapped.join(", ")}`);
    if (row.unpriced.length) said.push(`no price: ${row.unpriced.join(", ")}`);
    return visible(said.join("; "));
  }

  async function load(form, out) {
    const by = form.elements.by.value;
    const rows = await api(`/exposure?${new URLSearchParams({ by })}`);
    const groups = by.split(",").filter((name) => name !== "underlying");
    out.status.textContent = `${rows.length} row${rows.length === 1 ? "" : "s"}`;
    const head = make("tr", {}, ...[...groups, "underlying", ...FIGURES.map(([title]) => title), "notes"]
      .map((title) => make("th", {}, title)));
    const body = rows.map((row) => make("tr", {},
      ...groups.map((name) => make("td", {}, visible(row[name]))),
      make("td", {}, visible(row.underlying)),
      ...FIGURES.map(([, key]) => make("td", { className: "num" }, cell(row[key]))),
      make("td", {}, notes(row))));
    out.table.replaceChildren(make("table", {}, make("thead", {}, head), make("tbody", {}, ...body)));
  }

  function build() {
    const section = document.getElementById("exposure");
    if (!section || section.childElementCount) return null;
    const by = make("select", { name: "by", title: "group by" },
      ...GROUPINGS.map((value) => make("option", { value }, value.replace(/,/g, " · "))));
    const form = make("form", { className: "bar" }, make("h2", {}, "Exposure per underlying"),
      make("label", {}, "by ", by));
    const out = { status: make("span", { className: "status" }), table: make("div", { className: "scroll" }) };
    const show = () => load(form, out);
    by.addEventListener("change", () => guarded(show));
    form.addEventListener("submit", (event) => { event.preventDefault(); guarded(show); });
    section.append(form, out.status, out.table);
    return show;
  }

  // Exposure moves with fills, new orders and marks: read again at most once a second, and
  // never while the last reading runs (then once after it).
  function live(show) {
    return async (changed, fills) => {
      if (changed.length || fills) state.stale = true;
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
    const show = build();
    if (!show) return;
    LOADERS.exposure = show;
    LIVE.exposure = live(show);
  });
})();
