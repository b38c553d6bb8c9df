/* Shared helpers for the retailpipe dashboards: formatting, fetching, charts. */
"use strict";

const RP = (() => {
  // Okabe-Ito: distinguishable with the common colour-vision deficiencies.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                   "#F0E442", "#000000", "#999999"];

  function group(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  /* "1234567.8" -> "$1,234,567.80"; works on the exact decimal string, never a float. */
  function money(value) {
    if (value === null || value === undefined) return "–";
    const text = String(value);
    const negative = text.startsWith("-");
    const [whole, frac = ""] = (negative ? text.slice(1) : text).split(".");
    return (negative ? "-" : "") + "$" + group(whole) + "." + (frac + "00").slice(0, 2);
  }

  function count(value) {
    if (value === null || value === undefined) return "–";
    const text = String(value);
    return text.startsWith("-") ? "-" + group(text.slice(1)) : group(text);
  }

  function percent(value) {
    if (value === null || value === undefined) return "–";
    return (Number(value) * 100).toFixed(2) + "%";
  }

  function compactMoney(value) {
    const n = Number(value);
    const abs = Math.abs(n);
    if (abs >= 1e6) return "$" + (n / 1e6).toFixed(1) + "M";
    if (abs >= 1e3) return "$" + (n / 1e3).toFixed(1) + "k";
    return "$" + n.toFixed(0);
  }

  /* "S001 · Downtown" when the store has a name of its own, else just the id. */
  function storeLabel(id, name) {
    return name && name !== id ? `${id} · ${name}` : id;
  }

  function ago(seconds) {
    if (seconds < 120) return `${seconds} s ago`;
    if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
    return `${count(Math.round(seconds / 86400))} days ago`;
  }

  const FORMATS = { money, count, percent };

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.message || response.statusText);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  }

  /* Write each [data-kpi] element of `root` from `values`, formatted by its data-format. */
  function fillKpis(root, values) {
    root.querySelectorAll("[data-kpi]").forEach((el) => {
      const raw = values[el.dataset.kpi];
      el.textContent = FORMATS[el.dataset.format](raw);
      el.dataset.value = raw === null || raw === undefined ? "" : String(raw);
    });
  }

  /* Draw (or redraw in place) a Chart.js chart on `canvas`; marks it rendered for tests. */
  function draw(canvas, config) {
    const existing = Chart.getChart(canvas);
    if (existing) {
      existing.data = config.data;
      existing.update("none");
    } else {
      config.options = Object.assign({
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
      }, config.options || {});
      new Chart(canvas, config);
    }
    canvas.dataset.rendered = String(Date.now());
  }

  function moneyAxis() {
    return { ticks: { callback: (v) => compactMoney(v) }, grid: { color: "#e6e9ef" } };
  }

  function moneyTooltip() {
    return {
      callbacks: {
        label: (ctx) => `${ctx.dataset.label || ctx.label}: ${money(Number(ctx.raw).toFixed(2))}`,
      },
    };
  }

  function showError(el, error) {
    const p = document.createElement("p");
    p.className = "warn";
    p.textContent = "Could not load: " + error.message;
    el.replaceChildren(p);
  }

  if (window.Chart) {
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#2b3340";
  }

  return { PALETTE, money, count, percent, compactMoney, storeLabel, ago, getJSON, fillKpis, draw, moneyAxis,
           moneyTooltip, showError };
})();
