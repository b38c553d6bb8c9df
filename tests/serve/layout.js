/* Measures the page's element boxes (CSS pixels) and lists every layout fault it finds:
   a KPI figure on more than one line or sticking out of its tile, a chart or table wider
   than its card, a page wider than the window (a horizontal page scroll). The heat map
   table may be wider than its card: it scrolls inside its own wrapper. */
() => {
  const faults = [];
  const inside = (inner, outer) =>
    inner.left >= outer.left - 0.5 && inner.right <= outer.right + 0.5;
  for (const el of document.querySelectorAll(".kpis [data-kpi]")) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    if (lines > 1) {
      faults.push(`tile ${el.dataset.kpi} wraps onto ${lines} lines: ${el.textContent}`);
    }
    if (!inside(range.getBoundingClientRect(), el.closest(".tile").getBoundingClientRect())) {
      faults.push(`tile ${el.dataset.kpi} sticks out of its tile: ${el.textContent}`);
    }
  }
  const boxes = ".card canvas, .card .chart, .card table, .card .table-wrap, .card .heatmap-wrap";
  for (const el of document.querySelectorAll(boxes)) {
    if (el.tagName === "TABLE" && el.closest(".heatmap-wrap")) continue;
    const card = el.closest(".card").getBoundingClientRect();
    const box = el.getBoundingClientRect();
    if (!inside(box, card)) {
      faults.push(`${el.tagName.toLowerCase()}#${el.id} is ${box.width}px wide, ` +
                  `its card ${card.width}px`);
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) {
    faults.push(`the page is ${page.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  return faults;
}
