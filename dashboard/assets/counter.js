// The headline's count-up and the page's clock and staleness banner: all in the browser, so a
// viewer costs the server one snapshot read a second and nothing more.
(function () {
  const STALE_AFTER_MS = 3000;
  const COUNT_UP_MS = 950;
  const shown = {};  // element id -> cents on screen

  function grouped(n) { return Math.floor(n).toLocaleString("en-US"); }

  // Same rule as dashboard/format.py:format_scaled: truncate to the scale's last digit.
  function scaled(cents, scale) {
    const step = scale.unit_cents / Math.pow(10, scale.decimals);
    const digits = Math.floor(cents / step);
    const ten = Math.pow(10, scale.decimals);
    const units = Math.floor(digits / ten);
    const rest = String(digits % ten).padStart(scale.decimals, "0");
    return "¥" + grouped(units) + (scale.decimals ? "." + rest : "") + scale.suffix;
  }

  function exact(cents) {
    return "¥" + grouped(Math.floor(cents / 100)) + "." + String(cents % 100).padStart(2, "0");
  }

  function draw(cents, scale) {
    const head = document.getElementById("gmv");
    const full = document.getElementById("gmv-exact");
    if (head) head.textContent = scaled(cents, scale);
    if (full) full.textContent = exact(cents);
  }

  function countUp(target, scale) {
    const from = shown.gmv;
    // Forwards only: a lower total means a new night (or store), and is shown as it is.
    if (from === undefined || target <= from) { shown.gmv = target; draw(target, scale); return; }
    const began = performance.now();
    const token = (shown.token = (shown.token || 0) + 1);
    function frame(now) {
      if (token !== shown.token) return;  // a newer target took over
      const t = Math.min((now - began) / COUNT_UP_MS, 1);
      const eased = 1 - Math.pow(1 - t, 3);
      const value = t >= 1 ? target : Math.floor(from + (target - from) * eased);
      shown.gmv = value;
      draw(value, scale);
      if (t < 1) requestAnimationFrame(frame);
    }
    requestAnimationFrame(frame);
  }

  function beijingClock() {
    return new Date().toLocaleTimeString("en-GB", {timeZone: "Asia/Shanghai", hour12: false});
  }

  function ageText(ms, lang) {
    const s = Math.round(ms / 1000);
    if (s < 120) return lang === "zh" ? s + " 秒" : s + " s";
    return lang === "zh" ? Math.round(s / 60) + " 分钟" : Math.round(s / 60) + " min";
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gmv: {
      count_up: function (target) {
        if (target) countUp(target.cents, target.scale);
        return window.dash_clientside.no_update;
      },
      received: function (live) {
        if (!live) return window.dash_clientside.no_update;
        return {received_at: Date.now(), age_ms: live.age_ms || 0};
      },
      // The feed's age is its age when the server read it plus the time since: immune to a
      // browser clock that disagrees with the server's.
      tick: function (n, feed, lang, words) {
        const clock = beijingClock();
        if (!feed) return [clock, words.waiting, "banner banner-on", "page page-stale"];
        const age = feed.age_ms + (Date.now() - feed.received_at);
        if (age <= STALE_AFTER_MS) return [clock, "", "banner", "page"];
        return [clock, words.stale.replace("{age}", ageText(age, lang)), "banner banner-on",
                "page page-stale"];
      },
    },
  });
})();
