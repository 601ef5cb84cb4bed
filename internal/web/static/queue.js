// The waiting room: joins the line (joining again keeps the place, so a
// reload loses nothing), follows the status by server-sent events and falls
// back to polling when the stream cannot be kept open.
"use strict";
(function () {
  const id = eventId();
  if (!requireSignIn()) return;
  const base = "events/" + encodeURIComponent(id) + "/queue";
  const POLL = 4000;
  const OFFLINE = "You are offline. You keep your place; we reconnect when the network is back.";
  let source = null, pollTimer = 0, retryTimer = 0, streamFailures = 0, finished = false, last = null;

  function admissionKey() { return "bo_admission_" + id; }

  function show(st) {
    last = st;
    const pos = $("position"), eta = $("eta"), go = $("go"), rejoin = $("rejoin");
    go.hidden = true; rejoin.hidden = true; $("leave").hidden = false;
    switch (st.status) {
    case "waiting":
      $("keep").hidden = false;
      if (st.position > 0) {
        pos.textContent = st.position === 1 ? "You are next" : "Number " + st.position.toLocaleString() + " in line";
        eta.textContent = st.eta_seconds > 0 ? "About " + duration(st.eta_seconds) + " to go." : "Any moment now.";
      } else {
        pos.textContent = "You are in the pre-sale draw";
        eta.textContent = "Places are drawn at random when sales open" + (st.eta_seconds > 0 ? ", in about " + duration(st.eta_seconds) : "") + ".";
      }
      break;
    case "admitted":
      pos.textContent = "It is your turn!";
      eta.textContent = st.admission_expires_at ? "Buy before " + new Date(st.admission_expires_at).toLocaleTimeString() + "." : "";
      sessionStorage.setItem(admissionKey(), JSON.stringify({token: st.admission_token, expires: st.admission_expires_at}));
      go.hidden = false; go.href = "/events/" + id + "/checkout";
      $("leave").hidden = true;
      finish();
      go.focus();
      break;
    case "sold_out":
      pos.textContent = "Sold out";
      eta.textContent = "Every ticket is sold, or the sale has closed. We are sorry. Tickets sometimes come back when orders are cancelled: look at the event page later.";
      $("leave").hidden = true;
      finish();
      break;
    case "expired":
      pos.textContent = "Your turn has passed";
      eta.textContent = "You were admitted but did not buy in time. You can join the line again, at the back.";
      rejoin.hidden = false; $("leave").hidden = true;
      finish();
      break;
    }
  }

  function finish() {
    finished = true;
    if (source) { source.close(); source = null; }
    clearTimeout(pollTimer); clearTimeout(retryTimer);
    say("connection", "");
    $("keep").hidden = true;
  }

  function stream() {
    if (source) return;
    if (finished || !window.EventSource) { poll(); return; }
    clearTimeout(pollTimer);
    source = new EventSource("/api/v1/" + base + "/stream");
    source.addEventListener("status", e => {
      streamFailures = 0;
      say("connection", "Live updates on.");
      showError(null);
      try { show(JSON.parse(e.data)); } catch (err) { /* ignore a broken message */ }
    });
    source.onerror = () => {
      if (finished) return;
      if (source) source.close();
      source = null;
      streamFailures++;
      say("connection", navigator.onLine === false ? OFFLINE : "Reconnecting…");
      // Polling meanwhile; the stream is tried again after a while.
      poll();
      clearTimeout(retryTimer);
      if (streamFailures < 8) retryTimer = setTimeout(stream, Math.min(30000, 2000 * 2 ** streamFailures));
    };
  }

  async function poll() {
    clearTimeout(pollTimer);
    if (finished || source) return;
    try {
      show(await api("GET", base));
      showError(null);
    } catch (e) {
      if (e.status === 404) { await join(); return; }
      if (e instanceof TypeError) say("connection", OFFLINE);
      else if (e.code !== "unauthenticated") showError(e);
    }
    if (!finished && !source) pollTimer = setTimeout(poll, POLL);
  }

  async function join() {
    showError(null);
    try {
      show(await api("POST", base));
      if (!finished) stream();
    } catch (e) {
      if (e.code === "queue_disabled") { location.replace("/events/" + id + "/checkout"); return; }
      if (e.code === "sales_closed") { show({status: "sold_out"}); say("eta", "Sales for this event are closed."); return; }
      showError(e);
      if (e instanceof TypeError || e.status >= 500 || e.code === "rate_limited") {
        pollTimer = setTimeout(join, Math.max(POLL, (e.retryAfter || 0) * 1000));
      }
    }
  }

  $("rejoin").addEventListener("click", () => { finished = false; join(); });
  $("leave").addEventListener("click", async () => {
    try { await api("DELETE", base); } catch (e) { /* gone either way */ }
    finish();
    sessionStorage.removeItem(admissionKey());
    location.assign("/events/" + id);
  });
  window.addEventListener("offline", () => {
    if (finished) return;
    if (source) { source.close(); source = null; }
    say("connection", OFFLINE);
    poll();
  });
  window.addEventListener("online", () => {
    if (finished) return;
    streamFailures = 0;
    clearTimeout(retryTimer);
    stream();
  });
  api("GET", "events/" + encodeURIComponent(id)).then(ev => {
    say("event-title", ev.title + " · " + when(ev.starts_at));
    document.title = "Waiting room: " + ev.title + " · boxoffice";
  }).catch(() => {});
  join();
})();
