// The page's charts, drawn by plotly.js: the app serves it from the installed plotly package
// (GET /assets/plotly.min.js), loaded on the first chart, never from elsewhere.
//
// The API's figures are exact decimal text; they become floats only to place a point on the
// drawing, and every point's hover shows the exact text. A chart never mixes currencies: each
// currency gets its own chart, its axis titled with the currency.
"use strict";

// the most recent fills of an instrument drawn on its price chart
const FILLS_DRAWN = 2000;
// the slices of time a P&L line is drawn with (GET /pnl/series?points=N: the running total at the
// end of each)
const SERIES_POINTS = 500;

let plotlyLoading = null;

function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/assets/plotly.min.js";
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        plotlyLoading = null;
        reject(new Error("the charting library did not load (GET /assets/plotly.min.js)"));
      };
      document.head.append(script);
    });
  }
  return plotlyLoading;
}

// plotly reads a few tags and entities in its text (<b>, <br>, &lt;): stored text is escaped
// so it is shown as written.
function chartText(value) {
  return visible(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// No tool bar: its look is a <style> element the page's Content-Security-Policy refuses
// (style-src 'self'); zooming by dragging and the hover work without it.
const CHART_CONFIG = { displayModeBar: false, displaylogo: false, responsive: true };

function chartLayout(title, yTitle, more = {}) {
  return Object.assign({
    title: { text: chartText(title), font: { size: 13 }, x: 0.01, xanchor: "left" },
    height: 280,
    margin: { l: 72, r: 16, t: 56, b: 36 },
    showlegend: true,
    legend: { orientation: "h", x: 1, y: 1.02, yanchor: "bottom", xanchor: "right", bgcolor: "rgba(0,0,0,0)" },
    xaxis: { type: "date", automargin: true },
    yaxis: { title: { text: chartText(yTitle) }, automargin: true, zeroline: true, zerolinecolor: "#9aa5b1", exponentformat: "none", separatethousands: true },
    font: { family: "system-ui, sans-serif", size: 11, color: "#1d232a" },
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
  }, more);
}

// One chart per currency in `containerId`: draw(currency, rows) gives its traces and layout.
async function perCurrency(containerId, rows, currencyOf, draw, empty) {
  const groups = new Map();
  for (const row of rows) {
    const currency = currencyOf(row) || "(no currency)";
    if (!groups.has(currency)) groups.set(currency, []);
    groups.get(currency).push(row);
  }
  if (!groups.size) {
    replace(containerId, el("p", { className: "empty" }, empty));
    return;
  }
  const Plotly = await plotly();
  const boxes = [...groups.keys()].sort().map((currency) => el("div", { className: "chart", dataset: { currency } }));
  replace(containerId, ...boxes);
  for (const box of boxes) {
    const { traces, layout } = draw(box.dataset.currency, groups.get(box.dataset.currency));
    await Plotly.newPlot(box, traces, layout, CHART_CONFIG);
  }
}

// Cumulative realized P&L per quote currency over venue time (GET /pnl/series?points=N), one
// step line per account and currency: the running sum of that account's rows, each the realized
// P&L of a slice of time (the server sums the fills of each slice: exact at every slice's end).
function pnlCharts(containerId, series) {
  return perCurrency(containerId, series, (p) => p.quote_currency, (currency, points) => {
    const byAccount = new Map();
    for (const p of points) {
      if (!byAccount.has(p.account)) byAccount.set(p.account, { total: 0, points: [] });
      const line = byAccount.get(p.account);
      line.total += Number(p.realized_pnl);
      line.points.push({ ts: p.ts_event, total: line.total, text: `${p.realized_pnl} (last: ${p.instrument})` });
    }
    const traces = [...byAccount.entries()].sort().map(([account, line]) => ({
      type: "scatter", mode: "lines", line: { shape: "hv", width: 2 }, name: chartText(`${account} (${currency})`),
      x: line.points.map((q) => q.ts), y: line.points.map((q) => q.total), text: line.points.map((q) => chartText(q.text)),
      hovertemplate: `%{x}<br>%{y} ${chartText(currency)}<br>realized in the step: %{text}<extra>${chartText(account)}</extra>`,
    }));
    return { traces, layout: chartLayout(`Realized P&L in ${currency}, cumulative`, `realized P&L (${currency})`) };
  }, "no realized P&L yet");
}

// Net realized P&L per UTC day (GET /pnl/daily), one bar per group and day, per currency.
function dailyCharts(containerId, rows) {
  const drawn = rows.filter((r) => r.realized_pnl_net !== null);
  return perCurrency(containerId, drawn, (r) => r.pnl_currency, (currency, days) => {
    const groups = new Map();
    for (const row of days) {
      const group = row.account ?? row.parent ?? Object.values(row)[1];
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(row);
    }
    const traces = [...groups.entries()].sort().map(([group, list]) => ({
      type: "bar", name: chartText(group), x: list.map((r) => r.day), y: list.map((r) => Number(r.realized_pnl_net)),
      text: list.map((r) => chartText(r.realized_pnl_net)), textposition: "none",
      hovertemplate: `%{x}<br>%{text} ${chartText(currency)}<extra>${chartText(group)}</extra>`,
    }));
    return {
      traces,
      layout: chartLayout(`Daily net realized P&L in ${currency}`, `net realized P&L (${currency})`, {
        barmode: "relative", xaxis: { type: "category", automargin: true },
      }),
    };
  }, "no daily P&L yet");
}

// An instrument's fills on its price: the traded prices as a line, buys as upward triangles,
// sells as downward ones; the hover names the order, the quantity and the exact price.
async function fillsChart(containerId, instrument, quote, rows) {
  if (!rows.length) {
    replace(containerId, el("p", { className: "empty" }, `no fills of ${instrument}`));
    return;
  }
  const Plotly = await plotly();
  const markers = (wanted, name, symbol, colour) => {
    const list = rows.filter((r) => r.side === wanted);
    return {
      type: "scatter", mode: "markers", name, marker: { symbol, size: 9, color: colour },
      x: list.map((r) => r.ts_event), y: list.map((r) => Number(r.price)),
      text: list.map((r) => chartText(`${r.side} ${r.quantity} @ ${r.price} · ${r.account} · order ${r.client_order_id}`)),
      hovertemplate: "%{x}<br>%{text}<extra></extra>",
    };
  };
  const traces = [
    { type: "scatter", mode: "lines", name: "traded price", line: { color: "#9aa5b1", width: 1, shape: "hv" },
      x: rows.map((r) => r.ts_event), y: rows.map((r) => Number(r.price)), hoverinfo: "skip" },
    markers("buy", "buy (entry long / exit short)", "triangle-up", "#1a7f37"),
    markers("sell", "sell (entry short / exit long)", "triangle-down", "#b42318"),
  ];
  const box = el("div", { className: "chart", dataset: { instrument } });
  replace(containerId, box);
  const unit = quote ? `price (${quote})` : "price";
  const title = `Fills of ${instrument}${rows.length === FILLS_DRAWN ? ` (the latest ${FILLS_DRAWN})` : ""}`;
  await Plotly.newPlot(box, traces, chartLayout(title, unit), CHART_CONFIG);
}
