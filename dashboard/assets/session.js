// A page whose polls or callbacks the server refuses says so, instead of greying out as if the
// data had stopped: every request of the page (live.js's polls, Dash's callbacks) goes through
// fetch, and a 401 (no session: the war room gained users, a session ended) sends the page to the
// sign-in page and back; a 403 (a role changed) reloads it, once. A kiosk wall, which no sign-in
// page can help, only says that its link was revoked or has expired. The words are the server's
// (the #sign-in-banner the layout carries: dashboard/nav.py).
(function () {
  const BANNER_ID = "sign-in-banner";  // dashboard/ids.py
  const GO_AFTER_MS = 2000;  // long enough for the room to read why the screen goes
  const RELOADED_KEY = "gmv-reloaded-for-403";
  const RELOAD_AGAIN_AFTER_MS = 60000;  // a page that is refused again at once stays put
  const state = (window.gmvSession = {refused: null});

  function language() {
    return new URLSearchParams(window.location.search).get("lang") === "en" ? "En" : "Zh";
  }

  // As the server writes `next` (Python's quote: slashes kept).
  function here() {
    return encodeURIComponent(window.location.pathname + window.location.search).replace(/%2F/g, "/");
  }

  function reloadedLately() {
    try {
      const at = Number(window.sessionStorage.getItem(RELOADED_KEY) || 0);
      window.sessionStorage.setItem(RELOADED_KEY, String(Date.now()));
      return Date.now() - at < RELOAD_AGAIN_AFTER_MS;
    } catch (error) {
      return false;
    }
  }

  function refused(status) {
    if (state.refused) return;
    const banner = document.getElementById(BANNER_ID);
    if (!banner) return;  // not a page of ours (or not drawn yet): the next poll tells again
    const kiosk = banner.dataset.kiosk === "yes";
    const key = kiosk ? "kioskLinkEnded" : status === 401 ? "signInNeeded" : "accessChanged";
    state.refused = status;
    banner.textContent = banner.dataset[key + language()];
    banner.classList.add("banner-on");
    if (kiosk) return;
    if (status === 401) {
      setTimeout(() => window.location.assign("/login?next=" + here()), GO_AFTER_MS);
    } else if (!reloadedLately()) {
      setTimeout(() => window.location.reload(), GO_AFTER_MS);
    }
  }

  const fetchFromServer = window.fetch.bind(window);
  window.fetch = async function (...args) {
    const response = await fetchFromServer(...args);
    if (response.status === 401 || response.status === 403) refused(response.status);
    return response;
  };
})();
