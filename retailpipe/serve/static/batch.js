/* The batch dashboard: KPI tiles, charts and the heat map from /api/batch/... */
"use strict";

(() => {
  const query = document.body.dataset.query;
  const suffix = query ? "?" + query : "";
  const api = (name) => RP.getJSON("/api/batch/" + name + suffix);
  const label = (text) => String(text).replace(/_/g, " ");
  const narrow = () => window.innerWidth < 600;
  /* Long axis labels are cut on narrow screens; the tooltip keeps the full name. */
  const short = (text, limit) => (text.length > limit ? text.slice(0, limit - 1) + "\u2026" : text);

  /* Writes each slice's share on the doughnut itself (slices under 4 % stay unlabelled;
     the legend carries every share). */
  const sliceShares = (shares) => ({
    id: "sliceShares",
    afterDatasetsDraw(chart) {
      const { ctx } = chart;
      ctx.save();
      ctx.font = "600 12px " + Chart.defaults.font.family;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      chart.getDatasetMeta(0).data.forEach((arc, i) => {
        if (!shares[i] || Number(shares[i]) < 0.04) return;
        const { x, y } = arc.tooltipPosition();
        ctx.fillStyle = i === 0 || i === 2 ? "#fff" : "#1f2733";
        ctx.fillText(Math.round(Number(shares[i]) * 100) + "%", x, y);
      });
      ctx.restore();
    },
  });

  function bar(canvas, rows, key, nameOf, horizontal) {
    RP.draw(canvas, {
      type: "bar",
      data: {
        labels: rows.map(nameOf),
        datasets: [{
          label: "Net revenue",
          data: rows.map((r) => Number(r.net_revenue)),
          backgroundColor: RP.PALETTE[0],
          borderRadius: 3,
          // One bar (a filtered view) stays a bar, not a slab across the whole chart.
          maxBarThickness: 44,
        }],
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        plugins: { legend: { display: false }, tooltip: RP.moneyTooltip() },
        scales: horizontal
          ? { x: RP.moneyAxis(),
              y: { grid: { display: false },
                   ticks: { callback(v) { return short(this.getLabelForValue(v), narrow() ? 16 : 30); } } } }
          : { y: RP.moneyAxis(), x: { grid: { display: false } } },
      },
    });
  }

  function daily(rows) {
    const hasPrevious = rows.some((r) => r.previous_net_revenue !== null);
    const datasets = [{
      label: "This period",
      data: rows.map((r) => Number(r.net_revenue)),
      borderColor: RP.PALETTE[0],
      backgroundColor: RP.PALETTE[0],
      tension: 0,
      pointRadius: 2,
    }];
    if (hasPrevious) {
      datasets.push({
        label: "Previous period",
        data: rows.map((r) => (r.previous_net_revenue === null ? null : Number(r.previous_net_revenue))),
        borderColor: RP.PALETTE[1],
        backgroundColor: RP.PALETTE[1],
        borderDash: [6, 4],
        tension: 0,
        pointRadius: 0,
      });
    }
    RP.draw(document.getElementById("chart-daily"), {
      type: "line",
      data: { labels: rows.map((r) => r.sale_date), datasets },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: {
          tooltip: RP.moneyTooltip(),
          legend: { labels: { usePointStyle: true, pointStyle: "line" } },
        },
        scales: {
          y: RP.moneyAxis(),
          // "MM-DD" on a narrow screen: the year is in the page's subtitle.
          x: { ticks: { maxRotation: 0, autoSkipPadding: 8,
                        callback(v) { const d = this.getLabelForValue(v); return narrow() ? d.slice(5) : d; } } },
        },
      },
    });
  }

  function payments(rows) {
    RP.draw(document.getElementById("chart-payments"), {
      type: "doughnut",
      plugins: [sliceShares(rows.map((r) => r.share))],
      data: {
        labels: rows.map((r) => `${label(r.payment_method)} ${RP.percent(r.share)}`),
        datasets: [{
          data: rows.map((r) => Number(r.net_revenue)),
          backgroundColor: rows.map((_, i) => RP.PALETTE[i % RP.PALETTE.length]),
          borderColor: "#fff",
        }],
      },
      options: {
        plugins: {
          legend: { position: narrow() ? "bottom" : "right" },
          tooltip: {
            callbacks: {
              label: (ctx) => `${label(rows[ctx.dataIndex].payment_method)}: ` +
                `${RP.money(rows[ctx.dataIndex].net_revenue)} (${RP.percent(rows[ctx.dataIndex].share)})`,
            },
          },
        },
      },
    });
  }

  /* The hour x weekday heat map, over the trading hours only (the first to the last hour
     with sales). Weekdays are rows on a wide screen and columns on a narrow one, so that it
     fits a phone without scrolling sideways. */
  function heatmap(rows) {
    const table = document.getElementById("heatmap");
    const max = Math.max(1, ...rows.map((r) => Number(r.net_revenue)));
    const trading = rows.filter((r) => Number(r.net_revenue) !== 0).map((r) => r.hour);
    const first = trading.length ? Math.min(...trading) : 0;
    const last = trading.length ? Math.max(...trading) : 23;
    const hours = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    const days = [0, 1, 2, 3, 4, 5, 6];
    const dayName = (w) => rows.find((r) => r.weekday === w).weekday_name;
    const hourName = (h) => String(h).padStart(2, "0");
    const cell = new Map(rows.map((r) => [`${r.weekday}-${r.hour}`, r]));
    const [across, down] = narrow() ? [days, hours] : [hours, days];
    const name = narrow() ? [dayName, hourName] : [hourName, dayName];
    const head = document.createElement("tr");
    head.appendChild(document.createElement("th"));
    for (const a of across) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = name[0](a);
      head.appendChild(th);
    }
    const thead = document.createElement("thead");
    thead.appendChild(head);
    const tbody = document.createElement("tbody");
    for (const d of down) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = name[1](d);
      tr.appendChild(th);
      for (const a of across) {
        const r = narrow() ? cell.get(`${a}-${d}`) : cell.get(`${d}-${a}`);
        const td = document.createElement("td");
        const share = Number(r.net_revenue) / max;
        td.style.backgroundColor = `rgba(0, 114, 178, ${(0.04 + 0.96 * share).toFixed(3)})`;
        td.classList.toggle("dark", share > 0.55);
        td.textContent = Number(r.net_revenue) ? RP.compactMoney(r.net_revenue) : "";
        td.title = `${r.weekday_name} ${hourName(r.hour)}:00 ${RP.money(r.net_revenue)}`;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    table.replaceChildren(thead, tbody);
    table.dataset.hours = `${first}-${last}`;
    table.dataset.rendered = String(Date.now());
  }

  const jobs = [
    ["kpis", (d) => {
      const tiles = document.querySelector(".kpis");
      RP.fillKpis(tiles, d.kpis);
      RP.fillDeltas(tiles, d);
      tiles.dataset.rendered = String(Date.now());
    }, ".kpis"],
    ["daily", (d) => daily(d.rows), "#chart-daily"],
    ["stores", (d) => bar(document.getElementById("chart-stores"), d.rows, "store_id",
                          (r) => RP.storeLabel(r.store_id, r.store_name), true), "#chart-stores"],
    ["categories", (d) => bar(document.getElementById("chart-categories"), d.rows, "category",
                              (r) => label(r.category), false), "#chart-categories"],
    ["products", (d) => bar(document.getElementById("chart-products"), d.rows, "product_id",
                            (r) => r.product_name, true), "#chart-products"],
    ["payments", (d) => payments(d.rows), "#chart-payments"],
    ["heatmap", (d) => heatmap(d.rows), "#heatmap"],
  ];
  for (const [name, render, selector] of jobs) {
    api(name).then(render).catch((error) => {
      const el = document.querySelector(selector);
      RP.showError(el.closest(".chart, .heatmap-wrap, .kpis") || el, error);
    });
  }
})();
