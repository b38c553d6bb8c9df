/* The stream dashboard: polls /api/stream/... and redraws without reloading the page. */
"use strict";

(() => {
  const body = document.body;
  const pollMs = Number(body.dataset.pollMs) || 5000;
  const top = body.dataset.top || "5";
  const noData = document.getElementById("no-data");
  let updatedAt = null;
  let clockSkewMs = 0;

  /* The time rule: all-stores figures in UTC, per-store figures in the stores' own zone.
     Never the viewer's zone, which says nothing about when the stores traded. */
  const storeZone = body.dataset.storeTz || "UTC";
  function clock(zone) {
    let format;
    try {
      format = new Intl.DateTimeFormat("en-CA", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      });
    } catch (error) {
      return clock("UTC");
    }
    return (iso) => {
      const part = Object.fromEntries(format.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
      return { date: `${part.year}-${part.month}-${part.day}`, md: `${part.month}-${part.day}`,
               hm: `${part.hour}:${part.minute}` };
    };
  }
  const utc = clock("UTC");
  const local = clock(storeZone);
  const timeLabel = (iso) => `${utc(iso).md} ${utc(iso).hm}`;
  const localLabel = (iso) => `${local(iso).md} ${local(iso).hm}`;
  const narrow = () => window.innerWidth < 600;
  /* A time axis: "MM-DD HH:MM" ticks, only "HH:MM" (and fewer) on a narrow screen; the
     tooltip keeps the date. */
  const timeAxis = () => ({
    ticks: {
      maxTicksLimit: narrow() ? 4 : 8,
      maxRotation: 0,
      callback(v) {
        const text = this.getLabelForValue(v);
        return narrow() ? text.slice(6) : text;
      },
    },
  });

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
    document.getElementById("watermark").textContent =
      data.watermark ? timeLabel(data.watermark) + " UTC" : "–";
    document.getElementById("status").textContent = data.status || "–";
    const range = data.event_time || {};
    document.getElementById("event-range").textContent = range.first && range.last
      ? `${utc(range.first).date} ${utc(range.first).hm} to ${utc(range.last).date} ${utc(range.last).hm} UTC`
      : "–";
    document.getElementById("window-label").textContent = data.latest_window
      ? `Latest window ${timeLabel(latest.window_start)} – ${utc(latest.window_end).hm} UTC` +
        ` · ${data.stores_in_window} stores`
      : "";
    document.getElementById("leaderboard-window").textContent = data.latest_window
      ? `${local(latest.window_start).hm}–${local(latest.window_end).hm} local` : "latest window";
    lateStores(data.late_by_store || []);
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
        scales: { y: RP.moneyAxis(), x: timeAxis() },
      },
    });
    RP.draw(document.getElementById("chart-stores"), {
      type: "line",
      data: {
        labels: labels.map(localLabel),
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
        plugins: {
          tooltip: RP.moneyTooltip(),
          legend: { labels: narrow() ? { boxWidth: 8, font: { size: 10 }, padding: 6 } : { boxWidth: 12 } },
        },
        scales: { y: RP.moneyAxis(), x: timeAxis() },
      },
    });
  }

  /* A store name that ends in an ellipsis when the column is narrow; the title has it all. */
  function nameCell(td, text) {
    const span = document.createElement("span");
    span.className = "name";
    span.textContent = String(text);
    td.title = String(text);
    td.replaceChildren(span);
  }

  function leaderboard(data) {
    const rows = data.rows.map((r) => {
      const tr = document.createElement("tr");
      const cells = [r.rank, RP.storeLabel(r.store_id, r.store_name), RP.count(r.transactions),
                     RP.count(r.units), RP.money(r.net_revenue)];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = String(text);
        if (i === 1) nameCell(td, text);
        if (i >= 2) td.className = i === 2 ? "num opt" : "num";
        tr.appendChild(td);
      });
      tr.dataset.store = r.store_id;
      return tr;
    });
    document.querySelector("#leaderboard tbody").replaceChildren(...rows);
  }

  function lateStores(rows) {
    const trs = rows.map((r) => {
      const tr = document.createElement("tr");
      const cells = [RP.storeLabel(r.store_id, r.store_name), RP.count(r.late_events),
                     r.max_event_time ? localLabel(r.max_event_time) : "–"];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = String(text);
        if (i === 0) nameCell(td, text);
        if (i >= 1) td.className = "num";
        tr.appendChild(td);
      });
      tr.dataset.store = r.store_id;
      tr.dataset.late = String(r.late_events);
      return tr;
    });
    document.querySelector("#late-stores tbody").replaceChildren(...trs);
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
