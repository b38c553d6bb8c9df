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

  /* 1234567 -> "1.23M", 123456 -> "123.5k", with `prefix` ("$" or "") after the sign. */
  function scaled(n, prefix) {
    const abs = Math.abs(n);
    const sign = n < 0 ? "-" : "";
    if (abs >= 1e9) return sign + prefix + (abs / 1e9).toFixed(2) + "B";
    if (abs >= 1e6) return sign + prefix + (abs / 1e6).toFixed(2) + "M";
    return sign + prefix + (abs / 1e3).toFixed(1) + "k";
  }

  /* Tile formats: short enough never to wrap; the exact figure goes in the tile's title.
     Money below $10,000 and counts below 100,000 are shown exactly. */
  const TILE_FORMATS = {
    money: (value) => (value === null || value === undefined || Math.abs(Number(value)) < 1e4
      ? money(value) : scaled(Number(value), "$")),
    count: (value) => (value === null || value === undefined || Math.abs(Number(value)) < 1e5
      ? count(value) : scaled(Number(value), "")),
    percent,
  };

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

  /* Write each [data-kpi] element of `root` from `values`: compact text by its data-format,
     the exact figure in its title (shown on hover) and its raw API value in data-value. */
  function fillKpis(root, values) {
    root.querySelectorAll("[data-kpi]").forEach((el) => {
      const raw = values[el.dataset.kpi];
      el.textContent = TILE_FORMATS[el.dataset.format](raw);
      el.title = FORMATS[el.dataset.format](raw);
      el.dataset.value = raw === null || raw === undefined ? "" : String(raw);
    });
  }

  /* "+4.2%" for a relative change, "+0.12 pts" for a change of a rate. */
  function change(value, points) {
    // The API's four decimals are whole ten-thousandths: hundredths of a percent, exactly.
    const n = Math.round(Number(value) * 10000);
    // A relative change shows tenths of a percent, rounded half away from zero.
    const units = points ? Math.abs(n) : Math.floor((Math.abs(n) + 5) / 10);
    const digits = points ? 2 : 1;
    const shown = (units / 10 ** digits).toFixed(digits);
    const sign = units === 0 ? "\u00b1" : n > 0 ? "+" : "\u2212";
    return points ? `${sign}${shown} pts` : `${sign}${shown}%`;
  }

  /* Write each [data-delta] element of `root`: the change against the previous period
     (`body.change`, `body.previous` as /api/batch/kpis returns them). */
  function fillDeltas(root, body) {
    root.querySelectorAll("[data-delta]").forEach((el) => {
      const raw = (body.change || {})[el.dataset.delta];
      const points = el.dataset.points === "true";
      el.dataset.change = raw === null || raw === undefined ? "" : String(raw);
      el.classList.remove("up", "down", "flat", "none");
      if (!body.previous) {
        el.textContent = "no earlier period";
        el.classList.add("none");
        el.title = "the period of the same length before this one starts before the data";
        return;
      }
      if (raw === null || raw === undefined) {
        el.textContent = "–";
        el.classList.add("none");
        return;
      }
      const text = change(raw, points);
      el.textContent = text + " vs prior";
      el.classList.add(text.startsWith("+") ? "up" : text.startsWith("\u2212") ? "down" : "flat");
      el.title = `against ${body.previous.start} to ${body.previous.end}`;
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

  /* A money axis always starts at zero: bars and lines are read against it. */
  function moneyAxis() {
    return {
      beginAtZero: true,
      ticks: { callback: (v) => compactMoney(v), maxTicksLimit: window.innerWidth < 600 ? 4 : 6 },
      grid: { color: "#e6e9ef" },
    };
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

  return { PALETTE, money, count, percent, compactMoney, change, storeLabel, ago, getJSON, fillKpis,
           fillDeltas, draw, moneyAxis, moneyTooltip, showError };
})();
