// What sticks out: elements past the window's sides, chart labels past their chart's edges,
// tick labels overlapping on the same axis; and the charts' text sizes (tests/e2e/test_sizes.py).
(() => {
  const width = window.innerWidth, problems = [];
  const visible = el => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden"; };
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg") && el.tagName !== "svg") continue;
    if (!visible(el) || el.closest(".banner:not(.banner-on)") || el.id === "js-plotly-tester") continue;
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 || r.left < -1)
      problems.push(`${el.tagName}#${el.id || ""}.${el.className.baseVal ?? el.className} sticks out: ${Math.round(r.left)}..${Math.round(r.right)} of ${width}`);
  }
  const charts = [...document.querySelectorAll(".js-plotly-plot")].filter(visible);
  const sizes = [];
  for (const chart of charts) {
    const box = chart.getBoundingClientRect();
    const name = chart.closest(".dash-graph") ? chart.closest(".dash-graph").id : "?";
    for (const text of chart.querySelectorAll("svg text")) {
      if (!text.textContent.trim() || !visible(text)) continue;
      const r = text.getBoundingClientRect();
      const size = parseFloat(getComputedStyle(text).fontSize);
      if (Number.isFinite(size)) sizes.push([size, `${name}: "${text.textContent}"`]);
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        problems.push(`${name}: "${text.textContent}" is cut at the chart's edge`);
    }
    for (const axis of ["xtick", "ytick"]) {
      const boxes = [...chart.querySelectorAll(`g.${axis} text`)].filter(t => t.textContent.trim() && visible(t))
        .map(t => [t.textContent, t.getBoundingClientRect()]);
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const [a, p] = boxes[i], [b, q] = boxes[j];
        if (p.left < q.right - 1 && q.left < p.right - 1 && p.top < q.bottom - 1 && q.top < p.bottom - 1)
          problems.push(`${name}: tick labels "${a}" and "${b}" overlap`);
      }
    }
  }
  return {problems, charts: charts.length, scrollWidth: document.documentElement.scrollWidth,
          scrollHeight: document.documentElement.scrollHeight, innerHeight: window.innerHeight,
          smallestChartText: sizes.length ? Math.min(...sizes.map(s => s[0])) : null,
          smallestChartTexts: sizes.sort((a, b) => a[0] - b[0]).slice(0, 5), chartTexts: sizes.length};
})
