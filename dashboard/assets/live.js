// The live page in the browser: the server pushes each snapshot the worker publishes, and the
// night's charts every few seconds (/api/stream, server-sent events: the whole snapshot, then the
// change since the one before; the points added to the charts' traces); without the push (lost
// for 3 s, or a server that has none) it polls /api/live each second and /api/night-figures
// every five, and says so under the clock. Everything else is done here: the count-up, the
// texts, the orders/s chart, the clock and the staleness banner.
(function () {
  const STALE_AFTER_MS = 3000;
  // No order has entered the stream for this long while the worker beats: the numbers stand
  // still because nothing arrives, and the screen says so (a lull of a few seconds is not news).
  const QUIET_AFTER_MS = 10000;
  const CONTINUED_FOR_MS = 300000;  // as long as /api/live sends X-Night-Continued
  const COUNT_UP_MS = 950;
  const COUNT_UP_STEP_MS = 50;
  const BEIJING_OFFSET_MS = 8 * 3600 * 1000;  // no daylight saving in China
  const SERIES_POINTS = 300;
  const OPS_CHART_ID = "ops-chart";  // dashboard/ids.py
  const MORE_ID = "more";
  const shown = {};
  const noUpdate = () => window.dash_clientside.no_update;
  // Every interval on this page is timed by the monotonic clock: a wall PC's clock stepped back
  // (NTP, a hand) must not keep a silent stream looking alive or make an old number look new.
  const now = () => performance.now();
  const PUSH_SILENT_MS = 3000;  // no frame (a snapshot, or the server's beat each second): lost
  const PUSH_RETRY_MS = [1000, 10000];  // reconnecting: from the first, doubling up to the second
  const NIGHT_CHARTS = {night: "night-chart", trend: "device-trend", categories: "categories",
                        regions: "regions"};  // dashboard/ids.py
  const push = window.gmvPush = {
    open: false, openedAt: 0, heardAt: 0, firstTryAt: 0, controller: null, unsupported: false,
    failures: 0, nextTryAt: 0, live: null, n: null, nightVersion: null, frames: 0, nightMs: [],
  };

  function grouped(n) { return Math.floor(n).toLocaleString("en-US"); }
  function count(n) { return n === null || n === undefined ? "—" : grouped(n); }

  // The same rules as dashboard/format.py: the scale table comes from there (the SCALES store).
  function scaleFor(cents, scales) {
    return (scales.find(([threshold]) => cents >= threshold) || scales[scales.length - 1])[1];
  }
  function scaled(cents, scale) {
    const step = scale.unit_cents / Math.pow(10, scale.decimals);
    const digits = Math.floor(cents / step);
    const ten = Math.pow(10, scale.decimals);
    const rest = String(digits % ten).padStart(scale.decimals, "0");
    return "¥" + grouped(Math.floor(digits / ten)) + (scale.decimals ? "." + rest : "") + scale.suffix;
  }
  function exact(cents) {
    return "¥" + grouped(Math.floor(cents / 100)) + "." + String(cents % 100).padStart(2, "0");
  }
  function beijing(ms) {  // "2026-11-11 00:00:26", as the Python side writes x values
    return new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 19).replace("T", " ");
  }

  function draw(cents, scales) {
    const head = document.getElementById("gmv");
    const full = document.getElementById("gmv-exact");
    if (head) head.textContent = scaled(cents, scaleFor(cents, scales));
    if (full) full.textContent = exact(cents);
  }

  function countUp(target, scales) {
    const from = shown.gmv;
    // Forwards only: a lower total means a new night (or store), and is shown as it is.
    if (from === undefined || target <= from) {
      shown.gmv = shown.target = target; shown.token = (shown.token || 0) + 1;
      draw(target, scales);
      return;
    }
    if (target === shown.target) return;  // already counting up to it (a frame of the same total)
    const began = performance.now();
    // As long as the totals come apart (a pushed frame each ~250 ms, a poll each second), at
    // most COUNT_UP_MS: the count reaches each total before the next one arrives.
    const lasts = Math.max(200, Math.min(COUNT_UP_MS, began - (shown.targetAt || 0)));
    shown.target = target; shown.targetAt = began;
    const token = (shown.token = (shown.token || 0) + 1);
    let drawnAt = 0;
    function frame(at) {
      if (token !== shown.token) return;  // a newer target took over
      // A frame's time can precede `began` (it is when the frame started): never count down.
      const t = Math.max(0, Math.min((at - began) / lasts, 1));
      const value = t >= 1 ? target : Math.floor(from + (target - from) * (1 - Math.pow(1 - t, 3)));
      shown.gmv = value;
      // ~20 steps a second read as counting; every frame (60/s) only costs the wall's CPU.
      if (t >= 1 || at - drawnAt >= COUNT_UP_STEP_MS) { draw(value, scales); drawnAt = at; }
      if (t < 1) requestAnimationFrame(frame);
    }
    requestAnimationFrame(frame);
  }

  // The complete seconds after `drawn` (the last one may still be filling).
  function newPoints(live, drawn) {
    const series = live.series || {};
    const x = [], y = [];
    if (!series.start_ms) return {x, y, last: drawn};
    const counts = series.orders.slice(0, -1);
    // Seconds that fell out of the snapshot's window before this screen saw them (a catch-up, a
    // pause) are unknown: a gap in the line, not a straight line across them.
    if (drawn !== null && drawn !== undefined && series.start_ms > drawn + 1000) {
      x.push(beijing(drawn + 1000)); y.push(null);
    }
    counts.forEach((n, i) => {
      const ms = series.start_ms + i * 1000;
      if (drawn === null || drawn === undefined || ms > drawn) { x.push(beijing(ms)); y.push(n); }
    });
    return {x, y, last: series.start_ms + (counts.length - 1) * 1000};
  }

  // The alerts of the last five minutes over the orders/s chart, which extendData grows and a
  // new figure would reset: laid on by relayout, only when they change.
  let drawnMarks = "", markedChart = null;
  // Marks that could not be laid on yet (the chart not drawn, or being redrawn): the clock's
  // tick tries again (a push sends them once).
  let pendingMarks = null;
  function markLiveChart(marks) {
    const chart = document.querySelector("#" + OPS_CHART_ID + " .js-plotly-plot");
    const key = JSON.stringify(marks || {});
    pendingMarks = null;
    if (!chart || !window.Plotly) { pendingMarks = marks; return; }
    if (key === drawnMarks && chart === markedChart) return;
    drawnMarks = key;
    markedChart = chart;
    // The labels laid out for this chart's width (fit.js), and those of every width with them,
    // for when the chart is fitted again. A chart Dash is redrawing at that moment refuses:
    // drawn again on the next fetch.
    const fitted = window.gmvFit ? window.gmvFit.marks(chart, marks)
      : {shapes: marks.shapes || [], annotations: marks.annotations || [], meta: marks.meta || {}};
    Promise.resolve()
      .then(() => window.Plotly.relayout(chart, fitted))
      .catch(() => { drawnMarks = ""; pendingMarks = marks; });
  }

  // -- the push ---------------------------------------------------------------------------

  function pushAlive() { return push.open && now() - push.heardAt < PUSH_SILENT_MS; }

  // The same rules as dashboard/frames.py's apply_live_delta.
  function applyLiveDelta(old, delta) {
    const live = Object.assign({}, old);
    for (const key of delta.unset || []) delete live[key];
    Object.assign(live, delta.set);
    const moved = delta.series;
    if (moved) {
      const series = {start: moved.start, start_ms: moved.start_ms};
      for (const name of ["orders", "gmv_cents"]) {
        series[name] = old.series[name].slice(moved.shift).slice(0, moved.from).concat(moved[name]);
      }
      live.series = series;
    }
    return live;
  }

  push.applyLiveDelta = applyLiveDelta;  // for the tests: the same rules as frames.py's

  function deliver(frame) {
    const live = Object.assign({}, push.live, {
      age_ms: frame.age_ms || 0, continued: continuedNotice(frame.continued),
      received_at: now(), via: "push"});
    window.dash_clientside.set_props("live", {data: live});  // dashboard/ids.py: Ids.LIVE
  }

  // The points a delta keeps and adds, on the chart as it is drawn (frames.py's
  // apply_figure_delta); false when the chart is not the one the delta follows.
  function extendChart(id, delta) {
    const chart = document.querySelector("#" + id + " .js-plotly-plot");
    if (!chart || !chart.data || !window.Plotly) return false;
    const names = Object.keys(delta.add);
    const fits = delta.traces.every((index, p) => chart.data[index] &&
      names.every(name => Array.isArray(chart.data[index][name]) &&
        chart.data[index][name].length === delta.had[p]));
    if (!fits) return false;
    delta.traces.forEach((index, p) => {
      for (const name of names) chart.data[index][name] = chart.data[index][name].slice(0, delta.keep[p]);
    });
    window.Plotly.extendTraces(chart, delta.add, delta.traces);
    return true;
  }

  function drawNight(frame) {
    const started = performance.now();
    if (frame.base !== null && frame.base !== push.nightVersion) return false;
    for (const [name, change] of Object.entries(frame.charts || {})) {
      const id = NIGHT_CHARTS[name];
      if (change.figure) {
        window.dash_clientside.set_props(id, {figure: change.figure});
      } else if (change.delta && !extendChart(id, change.delta)) {
        return false;
      }
    }
    if ("milestones" in frame) window.dash_clientside.set_props("milestones", {children: frame.milestones});
    if ("outlook" in frame) window.dash_clientside.set_props("outlook", {children: frame.outlook});
    if ("live_marks" in frame) markLiveChart(frame.live_marks);
    push.nightVersion = frame.version;
    push.nightMs.push(performance.now() - started);
    if (push.nightMs.length > 100) push.nightMs.shift();
    return true;
  }

  // One event of the stream: true to go on reading it, false to open it again (the screen
  // holds another snapshot, or other charts, than the frame follows: it is sent them whole).
  function onEvent(event, data) {
    if (event === "beat") {
      // Nothing new to show, and how old what is shown is (the worker may have stopped).
      push.heardAt = now();
      const beat = JSON.parse(data);
      if (push.live && typeof beat.age_ms === "number") deliver(beat);
      return true;
    }
    if (event === "refused") return false;  // the next poll is refused too: session.js says why
    const frame = JSON.parse(data);
    push.heardAt = now();
    if (event === "live") {
      push.live = frame.live; push.n = frame.n; push.frames += 1; deliver(frame);
    } else if (event === "delta") {
      if (!push.live || push.n !== frame.base) return false;
      push.live = applyLiveDelta(push.live, frame.delta); push.n = frame.n; push.frames += 1;
      deliver(frame);
    } else if (event === "night" && !drawNight(frame)) {
      push.nightVersion = "";
      return false;
    }
    return true;
  }

  async function readStream(lang) {
    push.open = true;
    push.openedAt = now();
    push.live = null; push.n = null;
    const controller = push.controller = new AbortController();
    try {
      const query = "lang=" + encodeURIComponent(lang) + "&night=" + encodeURIComponent(push.nightVersion || "");
      const response = await fetch("api/stream?" + query, {cache: "no-store", signal: controller.signal});
      if (response.status === 501) { push.unsupported = true; return; }  // a server without push
      if (!response.ok || !response.body) throw new Error("stream answered " + response.status);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if ((event !== "message" || data) && !onEvent(event, data)) { controller.abort(); return; }
        }
        push.failures = 0;
      }
    } catch (error) {
      push.failures += 1;
    } finally {
      // A stream that ended before saying anything (a proxy that closes it, a server going
      // away) is a failure too: tried again later, not at once.
      if (push.heardAt < push.openedAt && !push.unsupported) push.failures += 1;
      push.open = false;
      push.controller = null;
      const wait = Math.min(PUSH_RETRY_MS[0] * Math.pow(2, push.failures), PUSH_RETRY_MS[1]);
      push.nextTryAt = now() + (push.failures ? wait * (0.5 + Math.random()) : 0);
    }
  }

  function keepPushOpen(lang, nightVersion) {
    // Open but silent (a proxy that holds the stream's bytes back, a server that stopped
    // writing): given up, and tried again later.
    if (push.open && push.controller &&
        now() - Math.max(push.heardAt, push.openedAt) > 2 * PUSH_SILENT_MS) {
      push.controller.abort();
    }
    if (push.open || push.unsupported || now() < push.nextTryAt) return;
    if (push.nightVersion === null) push.nightVersion = nightVersion || "";
    push.firstTryAt = push.firstTryAt || now();
    readStream(lang);
  }

  // Said under the clock: the page polls (no push on this server, or none heard lately, since
  // the page first tried).
  function polling(words) {
    if (push.unsupported) return words.polling_no_push;
    return !pushAlive() && push.firstTryAt > 0 && now() - push.firstTryAt > PUSH_SILENT_MS
      ? words.polling : "";
  }

  // "from_s=750;age_ms=1234" (the demo continued its night at 00:12:30, 1.2 s ago) or null.
  function continuedNotice(header) {
    if (!header) return null;
    const fields = Object.fromEntries(header.split(";").map(f => f.split("=")));
    const from = Number(fields.from_s), age = Number(fields.age_ms);
    return Number.isFinite(from) && Number.isFinite(age) ? {from_s: from, age_ms: age} : null;
  }

  function nightClock(second) {
    const s = ((second % 86400) + 86400) % 86400;
    return [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60]
      .map(n => String(n).padStart(2, "0")).join(":");
  }

  function ageText(ms, lang) {
    const s = Math.round(ms / 1000);
    if (s < 120) return lang === "zh" ? s + " 秒" : s + " s";
    return lang === "zh" ? Math.round(s / 60) + " 分钟" : Math.round(s / 60) + " min";
  }

  // On a phone the big screen's other charts are one tap away (the button shows there only).
  document.addEventListener("click", event => {
    const button = event.target.closest && event.target.closest("#" + MORE_ID);
    if (!button) return;
    const charts = button.closest(".charts");
    const open = charts.classList.toggle("more-open");
    button.textContent = open ? button.dataset.less : button.dataset.more;
    window.dispatchEvent(new Event("resize"));  // the charts just shown take their size
  });

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gmv: {
      fetch_live: async function () {
        if (pushAlive()) return noUpdate();
        try {
          const response = await fetch("api/live", {cache: "no-store"});
          if (!response.ok) return noUpdate();
          const live = await response.json();
          // The push came back while this poll was out: its frames are newer than this answer.
          if (pushAlive()) return noUpdate();
          live.age_ms = Number(response.headers.get("X-Snapshot-Age-Ms") || 0);
          live.continued = continuedNotice(response.headers.get("X-Night-Continued"));
          live.received_at = now();
          live.via = "poll";
          return live;
        } catch (error) {
          return noUpdate();  // the banner will say how old the last good one is
        }
      },
      render_live: function (live, drawn, shares, scales, words) {
        // A document without a total (not a snapshot) leaves the screen as it was.
        if (!live || typeof live.gmv_cents !== "number") return Array(8).fill(noUpdate());
        countUp(live.gmv_cents, scales);
        const devices = live.by_device || {};
        const values = ["pc", "mobile", "pad", "other"].map(d => (devices[d] || {}).share_now || 0);
        // Drawn again only when a share changed (a pushed screen gets several frames a second).
        const same = shares && shares.data && shares.data[0] && Array.isArray(shares.data[0].values)
          && shares.data[0].values.length === values.length
          && shares.data[0].values.every((v, i) => v === values[i]);
        const ring = same ? noUpdate() : Object.assign({}, shares, {data: [Object.assign({}, shares.data[0], {values})]});
        const points = newPoints(live, drawn);
        const extend = points.x.length ? [{x: [points.x], y: [points.y]}, [0], SERIES_POINTS] : noUpdate();
        return [
          {received_at: live.received_at || now(), age_ms: live.age_ms || 0,
           gaps: live.stream_gap_open ? 1 : 0, continued: live.continued || null,
           // How long the stream had been quiet when the snapshot was made, plus its age
           // when received (a beat delivers the same snapshot again, older: it must not set
           // the quiet time back).
           quiet_ms: typeof live.stream_quiet_ms === "number"
             ? live.stream_quiet_ms + (live.age_ms || 0) : null,
           night_ms: typeof live.latest_second_ms === "number" ? live.latest_second_ms : null},
          count(live.orders), count(live.ops_now), count(live.peak_ops),
          live.peak_second_ms ? words.at + " " + beijing(live.peak_second_ms).slice(11) : "",
          ring, extend, points.x.length ? points.last : noUpdate(),
        ];
      },
      fetch_night: async function (n, lang) {
        if (pushAlive()) return Array(6).fill(noUpdate());
        try {
          const response = await fetch("api/night-figures?lang=" + lang, {cache: "no-store"});
          if (!response.ok) return Array(6).fill(noUpdate());
          const night = await response.json();
          if (pushAlive()) return Array(6).fill(noUpdate());  // the push drew them meanwhile
          markLiveChart(night.live_marks);
          push.nightVersion = "";  // polled: the push, when it is back, sends the charts whole
          return [night.night, night.trend, night.categories, night.regions, night.milestones,
                  night.outlook];
        } catch (error) {
          return Array(6).fill(noUpdate());
        }
      },
      // The feed's age is its age when the server read it plus the time since: immune to a
      // browser clock that disagrees with the server's.
      tick: function (n, feed, lang, words, nightVersion) {
        keepPushOpen(lang, nightVersion);
        if (pendingMarks) markLiveChart(pendingMarks);
        return banner(feed, lang, words).concat([polling(words)]);
      },
    },
  });

  function banner(feed, lang, words) {
    // The night's clock: the newest second its data holds (where the data stops, it stops;
    // the banner then says how old it is).
    const clock = !feed || feed.night_ms === null || feed.night_ms === undefined ? "--:--:--"
      : beijing(feed.night_ms).slice(11);
    // Refused by the server (session.js says why): the data is not stale, this page is.
    if (window.gmvSession && window.gmvSession.refused) return [clock, "", "banner", "page"];
    if (!feed) return [clock, words.waiting, "banner banner-on", "page page-stale"];
    const age = feed.age_ms + (now() - feed.received_at);
    // Live, but entries were removed from the stream before they were counted: the total
    // is short by them, and the room is told so (the operators have the stream_gap alert).
    if (age <= STALE_AFTER_MS && feed.gaps) return [clock, words.gap, "banner banner-on banner-gap", "page"];
    const quiet = feed.quiet_ms === null || feed.quiet_ms === undefined ? 0
      : feed.quiet_ms + (now() - feed.received_at);
    if (age <= STALE_AFTER_MS && quiet >= QUIET_AFTER_MS) {
      return [clock, words.quiet.replace("{age}", ageText(quiet, lang)),
              "banner banner-on banner-quiet", "page"];
    }
    const continued = feed.continued;
    if (age <= STALE_AFTER_MS && continued &&
        continued.age_ms + (now() - feed.received_at) < CONTINUED_FOR_MS) {
      return [clock, words.continued.replace("{time}", nightClock(continued.from_s)),
              "banner banner-on banner-info", "page"];
    }
    if (age <= STALE_AFTER_MS) return [clock, "", "banner", "page"];
    return [clock, words.stale.replace("{age}", ageText(age, lang)), "banner banner-on",
            "page page-stale"];
  }
})();
