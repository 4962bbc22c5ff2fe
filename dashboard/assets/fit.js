// Every chart fitted to the screen it is on, whatever drew it (Dash, or live.js): its text and
// margins scale with the page's root font size (style.css: 16 px on a 1080p screen, 32 px on
// 4K), time axes get as many ticks as fit side by side, and a bar chart keeps every name. The
// figures stay as the server drew them (for 1080p); this adjusts a copy at each Plotly.react.
(function () {
  const BASE_FONT_PX = 16;  // the root font size the figures are drawn for (dashboard/figures.py)
  const TICK_EM = 5.2;  // room for one "00:00:00" time label and its gap, in font sizes
  const LINE_HEIGHT = 1.6;  // a CJK label's box is ~1.45 font sizes tall; and a gap
  const MIN_BAR_TEXT_PX = 14;  // a bar's value, read from across the room even on a laptop

  // The page's scale, times --chart-font-scale (style.css: smaller on a phone, where a chart is
  // a third of the page's width rather than a third of a wall's).
  function scale() {
    const root = getComputedStyle(document.documentElement);
    const chart = parseFloat(root.getPropertyValue("--chart-font-scale")) || 1;
    return (parseFloat(root.fontSize) / BASE_FONT_PX || 1) * chart;
  }

  function sized(font, k, fallback) {
    return Object.assign({}, font, {size: Math.round(((font || {}).size || fallback) * k * 10) / 10});
  }

  // The incident labels laid out for this chart's plot (dashboard/figures.py, `meta`): those
  // made for the widest plot no wider than it, in reference px (its width at scale k less the
  // margins), or for the narrowest plot where it is narrower than all. Null for a chart without
  // them, or not yet given a size (it keeps the labels it has). A chart whose labels were drawn
  // wider than the server reckoned (another font: `settleLabels`) takes those for a plot
  // narrower by as much (`gd.__gmvLabelShrink`).
  function labelFit(layout, k, width, gd) {
    const fits = ((layout.meta || {}).labels_by_width) || [];
    if (!fits.length || !width) return null;
    const margin = layout.margin || {};
    const shrink = (gd && gd.__gmvLabelShrink) || 1;
    const plotPx = (width / k - (margin.l || 0) - (margin.r || 0)) / shrink;
    const narrowest = fits.reduce((a, b) => (b.plot_px < a.plot_px ? b : a));
    return fits.filter(fit => fit.plot_px <= plotPx + 0.5)
      .reduce((a, b) => (!a || b.plot_px > a.plot_px ? b : a), null) || narrowest;
  }

  // What fitLayout scales or sets, as the server drew it. A fitted layout keeps them
  // (`gmvSizes`) and is fitted from them again: a layout that comes back to Plotly.react after a
  // refit (Dash and Plotly hand the chart's own layout back on a resize) is never scaled twice.
  const AXIS_FITTED = ["tickfont", "nticks", "tickangle", "tickmode", "dtick"];
  function sizesOf(layout) {
    const axes = {};
    for (const key of Object.keys(layout)) {
      if (!/^[xy]axis\d*$/.test(key)) continue;
      axes[key] = {};
      for (const field of AXIS_FITTED) axes[key][field] = (layout[key] || {})[field];
    }
    return JSON.parse(JSON.stringify({font: layout.font, margin: layout.margin, axes: axes,
      legendFont: (layout.legend || {}).font, hoverFont: (layout.hoverlabel || {}).font}));
  }
  function drawnLayout(layout) {
    const sizes = layout.gmvSizes;
    if (!sizes) return layout;
    const drawn = Object.assign({}, layout, {font: sizes.font, margin: sizes.margin});
    if (layout.legend) drawn.legend = Object.assign({}, layout.legend, {font: sizes.legendFont});
    if (layout.hoverlabel) drawn.hoverlabel = Object.assign({}, layout.hoverlabel, {font: sizes.hoverFont});
    for (const [key, fields] of Object.entries(sizes.axes || {})) {
      drawn[key] = Object.assign({}, layout[key]);
      for (const field of AXIS_FITTED) {
        if (fields[field] === undefined) delete drawn[key][field];
        else drawn[key][field] = fields[field];
      }
    }
    delete drawn.gmvSizes;
    return drawn;
  }

  // The layout for a chart `width` x `height` px at scale k: a copy, the original untouched.
  function fitLayout(fitted, k, width, height, data, gd) {
    const base = drawnLayout(fitted || {});
    const layout = JSON.parse(JSON.stringify(base));
    layout.gmvSizes = sizesOf(base);
    const fit = labelFit(layout, k, width, gd);
    if (fit) {
      // Annotations as the server drew them (never fitted yet), and room for their rows.
      layout.annotations = fit.annotations;
      if (fit.yaxis) layout.yaxis = Object.assign({}, layout.yaxis, fit.yaxis);
    }
    const fontPx = ((layout.font || {}).size || 12) * k;
    layout.font = sized(layout.font, k, 12);
    if (layout.margin) {
      for (const side of ["l", "r", "t", "b"]) {
        if (typeof layout.margin[side] === "number") layout.margin[side] = Math.round(layout.margin[side] * k);
      }
    }
    if (layout.legend && layout.legend.font) layout.legend.font = sized(layout.legend.font, k, 12);
    if (layout.hoverlabel && layout.hoverlabel.font) layout.hoverlabel.font = sized(layout.hoverlabel.font, k, 12);
    layout.annotations = (layout.annotations || []).map(note => fitNote(note, k));
    layout.shapes = (layout.shapes || []).map(shape => fitShape(shape, k));
    for (const key of Object.keys(layout)) {
      if (!/^[xy]axis\d*$/.test(key)) continue;
      const axis = layout[key];
      if (axis.tickfont && axis.tickfont.size) axis.tickfont = sized(axis.tickfont, k, 12);
      const tickPx = ((axis.tickfont || {}).size || fontPx);
      if (key[0] === "x" && (axis.tickformat || axis.type === "date") && width) {
        // Side by side, never turned or overlapping: fewer ticks when there is less room.
        const room = Math.max(width - (layout.margin ? (layout.margin.l || 0) + (layout.margin.r || 0) : 0), 0);
        axis.nticks = Math.max(2, Math.min(axis.nticks || 12, Math.floor(room / (TICK_EM * tickPx))));
        axis.tickangle = 0;
      }
      if (key[0] === "y" && isBarNames(data) && height) {
        // Every name of a horizontal bar chart (fitBars kept the bars that fit), one per bar.
        const bars = (data[0].y || []).length || 1;
        const room = height - (layout.margin ? (layout.margin.t || 0) + (layout.margin.b || 0) : 0);
        const size = Math.max(Math.min(Math.max(tickPx, MIN_BAR_TEXT_PX), room / bars / LINE_HEIGHT), 8);
        axis.tickfont = Object.assign({}, axis.tickfont, {size: size});
        // The names are tick texts at the bars' places (dashboard/figures.py): every one is
        // drawn; a chart drawn with the names as categories needs a tick on each.
        if (axis.tickmode !== "array") { axis.tickmode = "linear"; axis.dtick = 1; }
      }
    }
    return layout;
  }

  // An annotation at scale k: its text, and the shifts that put it in its row (in pixels). A
  // fitted one keeps the one it was fitted from (`gmvDrawn`), and is fitted from that again: the
  // marks live.js lays on by relayout come back to Plotly.react in Dash's figure (dcc.Graph keeps
  // what was relaid), and would otherwise be scaled twice.
  function fitNote(note, k) {
    const drawn = note.gmvDrawn || note;
    const fitted = Object.assign({}, drawn, {font: sized(drawn.font, k, 12), gmvDrawn: drawn});
    for (const shift of ["xshift", "yshift"]) if (typeof drawn[shift] === "number") fitted[shift] = drawn[shift] * k;
    return fitted;
  }

  // The alert marks of dashboard/figures.py `alert_marks` as chart `gd` draws them now: the
  // labels for its width, fitted; the shapes fitted; the labels of every width kept (`meta`).
  function fitMarks(gd, marks) {
    const k = scale(), box = gd.closest(".dash-graph") || gd;
    const base = (gd.__gmvBase || {}).layout || {};
    const layout = {annotations: marks.annotations || [], margin: base.margin, meta: marks.meta};
    const fit = labelFit(layout, k, box.clientWidth, gd);
    return {annotations: ((fit || layout).annotations).map(note => fitNote(note, k)),
            shapes: (marks.shapes || []).map(shape => fitShape(shape, k)),
            meta: marks.meta || {}};
  }

  function fitShape(shape, k) {
    const drawn = shape.gmvDrawn || shape;
    if (!drawn.line || typeof drawn.line.width !== "number") return drawn;
    return Object.assign({}, drawn, {line: Object.assign({}, drawn.line, {width: drawn.line.width * k}),
                                     gmvDrawn: drawn});
  }

  // A horizontal bar chart too short for all its bars at a readable size keeps the largest ones
  // (the last: drawn on top) that fit; the rest are on /review.
  function fitBars(figure, k, height) {
    if (!isBarNames(figure.data) || !height) return figure;
    const layout = figure.layout, margin = layout.margin || {};
    const room = height - ((margin.t || 0) + (margin.b || 0)) * k;
    const bar = figure.data[0], n = (bar.y || []).length;
    const px = Math.max(MIN_BAR_TEXT_PX, ((bar.textfont || {}).size || 12) * k,
                        (((layout.yaxis || {}).tickfont || {}).size || 12) * k);
    const fit = Math.max(1, Math.floor(room / (px * LINE_HEIGHT)));
    if (n <= fit) return figure;
    const keep = list => (list && typeof list.slice === "function" ? list.slice(n - fit) : list);
    const trimmed = Object.assign({}, bar);
    for (const key of ["x", "y", "text", "customdata"]) trimmed[key] = keep(bar[key]);
    const yaxis = Object.assign({}, layout.yaxis,
      {tickvals: keep((layout.yaxis || {}).tickvals), ticktext: keep((layout.yaxis || {}).ticktext)});
    return Object.assign({}, figure, {data: [trimmed], layout: Object.assign({}, layout, {yaxis})});
  }

  // How much wider than reckoned (dashboard/figures.py `reckoned_px`, at scale k) the chart's
  // incident labels are drawn, at most: 1 where the fonts are those the server reckons with.
  function drawnWider(gd, k) {
    let ratio = 1;
    const notes = (gd.layout || {}).annotations || [];
    for (const g of gd.querySelectorAll("g.annotation[data-index]")) {
      const note = notes[Number(g.getAttribute("data-index"))] || {};
      const reckoned = note.reckoned_px || (note.gmvDrawn || {}).reckoned_px;
      const bg = g.querySelector(".annotation-text-g rect.bg");
      if (!reckoned || !bg) continue;
      const width = bg.getBoundingClientRect().width;
      if (width > 0) ratio = Math.max(ratio, width / (reckoned * k));
    }
    return ratio;
  }

  // The server lays the labels out with a reckoning of their width (dashboard/chart_labels.py);
  // a browser whose fonts draw them wider would overlap them or cut them at the plot's edge. So
  // each draw's labels are measured, and where they are wider than reckoned, the labels laid out
  // for a plot narrower by as much are drawn instead (more folded, more rows).
  function settleLabels(gd) {
    const P = window.Plotly;
    if (!gd || !P || !gd.layout || !P.__gmvRelayout) return Promise.resolve(gd);
    const box = gd.closest(".dash-graph") || gd, k = scale();
    const base = (gd.__gmvBase || {}).layout || {};
    const layout = {meta: gd.layout.meta || base.meta,
                    margin: (gd.layout.gmvSizes || {}).margin || base.margin};
    const before = labelFit(layout, k, box.clientWidth, gd);
    if (!before) return Promise.resolve(gd);
    const wider = drawnWider(gd, k);
    if (wider <= (gd.__gmvLabelShrink || 1) * 1.02) return Promise.resolve(gd);
    gd.__gmvLabelShrink = wider;
    const after = labelFit(layout, k, box.clientWidth, gd);
    if (after === before) return Promise.resolve(gd);
    return P.__gmvRelayout.call(P, gd, {annotations: after.annotations.map(note => fitNote(note, k))});
  }

  // Checked after every draw: those asked for here (react, relayout), and those Plotly makes on
  // its own (a chart's box resized: dcc.Graph's responsive resize relays the plot out within).
  function settleSoon(gd) {
    if (!gd || !gd.closest) return;
    if (gd.__gmvSettling) { gd.__gmvSettleAgain = true; return; }
    gd.__gmvSettling = true;
    window.gmvFit.pending += 1;  // what tests wait for: no chart between a draw and its check
    const done = () => {
      gd.__gmvSettling = false;
      window.gmvFit.pending -= 1;
      if (gd.__gmvSettleAgain) { gd.__gmvSettleAgain = false; settleSoon(gd); }
    };
    Promise.resolve().then(() => settleLabels(gd)).then(done, done);
  }
  function settledAfter(drawing, gd) {
    if (!drawing || typeof drawing.then !== "function" || !gd || !gd.closest) return drawing;
    window.gmvFit.pending += 1;
    const done = () => {
      window.gmvFit.pending -= 1;
      if (typeof gd.on === "function" && !gd.__gmvWatched) {
        gd.__gmvWatched = true;
        gd.on("plotly_relayout", () => settleSoon(gd));
        gd.on("plotly_afterplot", () => settleSoon(gd));
      }
      settleSoon(gd);
    };
    drawing.then(done, done);
    return drawing;
  }

  function isBarNames(data) {
    return Array.isArray(data) && data.length === 1 && data[0].type === "bar" && data[0].orientation === "h";
  }

  // Text, lines and markers at scale k (a 4K wall's lines as thick, to the eye, as 1080p's); a
  // bar's value never under MIN_BAR_TEXT_PX, and never shrunk by Plotly to fit.
  function fitData(data, k) {
    return (data || []).map(trace => {
      const fitted = Object.assign({}, trace);
      if (trace.textfont) fitted.textfont = sized(trace.textfont, k, 12);
      if (trace.type === "bar" && trace.text) {
        fitted.textfont = Object.assign({}, fitted.textfont,
          {size: Math.max((fitted.textfont || {}).size || 0, MIN_BAR_TEXT_PX)});
        fitted.constraintext = "none";
      }
      if (trace.line && typeof trace.line.width === "number")
        fitted.line = Object.assign({}, trace.line, {width: trace.line.width * k});
      if (trace.marker && typeof trace.marker.size === "number") {
        fitted.marker = Object.assign({}, trace.marker, {size: trace.marker.size * k});
        if (trace.marker.line && typeof trace.marker.line.width === "number")
          fitted.marker.line = Object.assign({}, trace.marker.line, {width: trace.marker.line.width * k});
      }
      return fitted;
    });
  }

  function wrap(P) {
    if (!P || P.__gmvFitted || typeof P.react !== "function") return P;
    const react = P.react;
    P.react = function (gd, figure, ...rest) {
      if (gd && figure && !Array.isArray(figure) && figure.layout && rest.length === 0) {
        const k = scale();
        figure = Object.assign({}, figure, {layout: drawnLayout(figure.layout)});
        gd.__gmvBase = {layout: figure.layout, data: figure.data};
        // The size the page gives the chart (the plot's own div may still have Plotly's default).
        const box = gd.closest(".dash-graph") || gd;
        figure = fitBars(figure, k, box.clientHeight);
        figure = Object.assign({}, figure, {
          data: fitData(figure.data, k),
          layout: fitLayout(figure.layout, k, box.clientWidth, box.clientHeight, figure.data, gd)});
      }
      return settledAfter(react.call(this, gd, figure, ...rest), gd);
    };
    const relayout = P.relayout;
    P.relayout = function (gd, ...rest) {
      return settledAfter(relayout.call(this, gd, ...rest), gd);
    };
    P.__gmvRelayout = relayout;  // settleLabels' own, which settles nothing
    P.__gmvFitted = true;
    return P;
  }

  // Plotly arrives after this script (Dash loads it with the first graph): wrapped on arrival.
  if (window.Plotly) {
    wrap(window.Plotly);
  } else {
    let held;
    Object.defineProperty(window, "Plotly", {
      configurable: true, enumerable: true,
      get() { return held; },
      set(value) { held = wrap(value); },
    });
  }

  // A turned phone or a resized window: the same figures, fitted again (layout only: the live
  // charts' data has grown since and stays as it is).
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      const k = scale(), done = [];
      document.querySelectorAll(".js-plotly-plot").forEach(gd => {
        const base = gd.__gmvBase;
        if (!base || !window.Plotly) return;
        const box = gd.closest(".dash-graph") || gd;
        // The labels of every width that the chart has now (live.js may have laid on newer
        // ones than Dash drew): those for its new width are drawn.
        const drawn = Object.assign({}, base.layout, {meta: (gd.layout || {}).meta || base.layout.meta});
        const layout = fitLayout(drawn, k, box.clientWidth, box.clientHeight, base.data, gd);
        delete layout.shapes;  // the alert marks live.js laid on stay as they are
        if (!labelFit(drawn, k, box.clientWidth, gd)) delete layout.annotations;
        done.push(window.Plotly.relayout(gd, layout).catch(() => {}));
      });
      Promise.all(done).then(() => { window.gmvFit.refits += 1; });  // what tests wait for
    }, 250);
  });

  window.gmvFit = {scale: scale, sized: sized, note: fitNote, shape: fitShape, marks: fitMarks,
                  refits: 0, pending: 0};
})();
