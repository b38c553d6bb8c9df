/* The batch dashboard: KPI tiles, charts and the heat map from /api/batch/... */
"use strict";

(() => {
  const query = document.body.dataset.query;
  const suffix = query ? "?" + query : "";
  const api = (name) => RP.getJSON("/api/batch/" + name + suffix);
  const label = (text) => String(text).replace(/_/g, " ");

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
        }],
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        plugins: { legend: { display: false }, tooltip: RP.moneyTooltip() },
        scales: horizontal ? { x: RP.moneyAxis(), y: { grid: { display: false } } }
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
        plugins: { tooltip: RP.moneyTooltip() },
        scales: { y: RP.moneyAxis() },
      },
    });
  }

  function payments(rows) {
    RP.draw(document.getElementById("chart-payments"), {
      type: "doughnut",
      data: {
        labels: rows.map((r) => label(r.payment_method)),
        datasets: [{
          data: rows.map((r) => Number(r.net_revenue)),
          backgroundColor: rows.map((_, i) => RP.PALETTE[i % RP.PALETTE.length]),
          borderColor: "#fff",
        }],
      },
      options: {
        plugins: {
          legend: { position: "right" },
          tooltip: {
            callbacks: {
              label: (ctx) => `${ctx.label}: ${RP.money(rows[ctx.dataIndex].net_revenue)} ` +
                `(${RP.percent(rows[ctx.dataIndex].share)})`,
            },
          },
        },
      },
    });
  }

  function heatmap(rows) {
    const table = document.getElementById("heatmap");
    const max = Math.max(1, ...rows.map((r) => Number(r.net_revenue)));
    const head = document.createElement("tr");
    head.appendChild(document.createElement("th"));
    for (let h = 0; h < 24; h++) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = String(h).padStart(2, "0");
      head.appendChild(th);
    }
    const thead = document.createElement("thead");
    thead.appendChild(head);
    const tbody = document.createElement("tbody");
    for (let w = 0; w < 7; w++) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      tr.appendChild(th);
      rows.filter((r) => r.weekday === w).forEach((r) => {
        th.textContent = r.weekday_name;
        const td = document.createElement("td");
        const share = Number(r.net_revenue) / max;
        td.style.backgroundColor = `rgba(0, 114, 178, ${(0.04 + 0.96 * share).toFixed(3)})`;
        td.classList.toggle("dark", share > 0.55);
        td.textContent = Number(r.net_revenue) ? RP.compactMoney(r.net_revenue) : "";
        td.title = `${r.weekday_name} ${String(r.hour).padStart(2, "0")}:00 ${RP.money(r.net_revenue)}`;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    table.replaceChildren(thead, tbody);
    table.dataset.rendered = String(Date.now());
  }

  const jobs = [
    ["kpis", (d) => RP.fillKpis(document.querySelector(".kpis"), d.kpis), ".kpis"],
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
