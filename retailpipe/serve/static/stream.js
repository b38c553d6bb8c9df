/* The stream dashboard: polls /api/stream/... and redraws without reloading the page. */
"use strict";

(() => {
  const body = document.body;
  const pollMs = Number(body.dataset.pollMs) || 5000;
  const top = body.dataset.top || "5";
  const noData = document.getElementById("no-data");
  let updatedAt = null;
  let clockSkewMs = 0;

  function timeLabel(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function tickFreshness() {
    const el = document.getElementById("freshness");
    if (!updatedAt) return;
    const seconds = Math.max(0, Math.round((Date.now() + clockSkewMs - updatedAt) / 1000));
    el.textContent = "updated " + RP.ago(seconds);
  }

  function summary(data) {
    const latest = data.latest_window || {};
    RP.fillKpis(document.querySelector(".kpis"), Object.assign({}, latest, {
      late_events: data.late_events,
      dead_letter_events: data.dead_letter_events,
    }));
    updatedAt = data.updated_at ? Date.parse(data.updated_at) : null;
    clockSkewMs = data.server_time ? Date.parse(data.server_time) - Date.now() : 0;
    document.getElementById("watermark").textContent = data.watermark ? timeLabel(data.watermark) : "–";
    document.getElementById("status").textContent = data.status || "–";
    document.getElementById("window-label").textContent = data.latest_window
      ? `Latest window ${timeLabel(latest.window_start)} – ${timeLabel(latest.window_end)}` +
        ` · ${data.stores_in_window} stores`
      : "";
    body.dataset.windowEnd = latest.window_end || "";
    tickFreshness();
  }

  function series(data) {
    const labels = data.total.map((p) => p.window_end);
    RP.draw(document.getElementById("chart-total"), {
      type: "line",
      data: {
        labels: labels.map(timeLabel),
        datasets: [{
          label: "All stores",
          data: data.total.map((p) => Number(p.net_revenue)),
          borderColor: RP.PALETTE[0],
          backgroundColor: "rgba(0, 114, 178, 0.12)",
          fill: true,
          pointRadius: 0,
          tension: 0.2,
        }],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false }, tooltip: RP.moneyTooltip() },
        scales: { y: RP.moneyAxis(), x: { ticks: { maxTicksLimit: 12 } } },
      },
    });
    RP.draw(document.getElementById("chart-stores"), {
      type: "line",
      data: {
        labels: labels.map(timeLabel),
        datasets: data.stores.map((s, i) => {
          const byEnd = new Map(s.points.map((p) => [p.window_end, Number(p.net_revenue)]));
          return {
            label: RP.storeLabel(s.store_id, s.store_name),
            data: labels.map((end) => (byEnd.has(end) ? byEnd.get(end) : null)),
            borderColor: RP.PALETTE[(i + 1) % RP.PALETTE.length],
            backgroundColor: RP.PALETTE[(i + 1) % RP.PALETTE.length],
            pointRadius: 0,
            tension: 0.2,
            spanGaps: true,
          };
        }),
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { tooltip: RP.moneyTooltip() },
        scales: { y: RP.moneyAxis(), x: { ticks: { maxTicksLimit: 12 } } },
      },
    });
  }

  function leaderboard(data) {
    const rows = data.rows.map((r) => {
      const tr = document.createElement("tr");
      const cells = [r.rank, RP.storeLabel(r.store_id, r.store_name), RP.count(r.transactions),
                     RP.count(r.units), RP.money(r.net_revenue)];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = String(text);
        if (i >= 2) td.className = "num";
        tr.appendChild(td);
      });
      tr.dataset.store = r.store_id;
      return tr;
    });
    document.querySelector("#leaderboard tbody").replaceChildren(...rows);
  }

  async function refresh() {
    try {
      const data = await RP.getJSON("/api/stream/summary");
      noData.hidden = true;
      summary(data);
      const [s, l] = await Promise.all([
        RP.getJSON(`/api/stream/series?top=${encodeURIComponent(top)}`),
        RP.getJSON("/api/stream/leaderboard"),
      ]);
      series(s);
      leaderboard(l);
      body.dataset.refreshed = String(Date.now());
    } catch (error) {
      if (error.status === 404) {
        noData.hidden = false;
      } else {
        document.getElementById("freshness").textContent = "cannot reach the server: " + error.message;
      }
    } finally {
      setTimeout(refresh, pollMs);
    }
  }

  setInterval(tickFreshness, 1000);
  refresh();
})();
