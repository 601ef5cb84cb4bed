// Live sale: an event's tickets sold, held and left per tier, the rate of
// new holds, the waiting room and the revenue, read from the sales view
// every second. Rates are computed from the differences between polls.
// Screen readers hear a short summary now and then (not every second),
// and at once when a tier sells out.
"use strict";
(function () {
  if (!requireSignIn()) return;
  const id = eventId();
  const POLL_MS = 1000, RATE_WINDOW_MS = 5000, PACE_WINDOW_MS = 60000, ANNOUNCE_MS = 60000;
  let ev = null, paused = false, timer = null, failures = 0, lastAnnounce = 0, lastSold = -1;
  const samples = []; // {t, reserved: {tier: held+confirmed}, total, waiting}
  const soldOut = new Set();

  const fmt = new Intl.NumberFormat();
  const n = x => fmt.format(x);

  async function loadEvent() {
    ev = await api("GET", "events/" + encodeURIComponent(id));
    say("event-title", ev.title);
    document.title = "Live sale: " + ev.title + " · boxoffice";
  }

  function tierName(tid) {
    const t = ev && ev.tiers.find(x => x.id === tid);
    return t ? t.name : "Tier " + tid.slice(-6);
  }

  // rate is the growth of f per second over the last window, from samples.
  function rate(f, window) {
    if (samples.length < 2) return null;
    const last = samples[samples.length - 1];
    let first = samples[0];
    for (const s of samples) { if (last.t - s.t <= window) { first = s; break; } }
    const dt = (last.t - first.t) / 1000;
    if (dt <= 0) return null;
    return (f(last) - f(first)) / dt;
  }

  function render(s) {
    let sold = 0, held = 0, left = 0;
    const rows = [];
    for (const t of s.tiers) {
      sold += t.confirmed; held += t.held; left += t.available;
      const r = rate(x => x.reserved[t.tier_id] || 0, RATE_WINDOW_MS);
      rows.push(el("tr", {id: "tier-" + t.tier_id},
        el("th", {scope: "row", text: tierName(t.tier_id)}),
        el("td", {class: "num sold", text: n(t.confirmed)}),
        el("td", {class: "num held", text: n(t.held)}),
        el("td", {class: "num left"}, t.available === 0 ? el("span", {class: "soldout", text: "Sold out"}) : n(t.available)),
        el("td", {class: "num", text: n(t.capacity)}),
        el("td", {class: "num", text: r === null ? "–" : Math.max(0, r).toFixed(1)})));
      if (t.available === 0 && t.capacity > 0 && !soldOut.has(t.tier_id)) {
        if (samples.length > 1) announce(tierName(t.tier_id) + " is sold out.");
        soldOut.add(t.tier_id);
      }
    }
    $("tiers").replaceChildren(...rows);
    say("k-sold", n(sold)); say("k-held", n(held)); say("k-left", n(left));
    const r = rate(x => x.total, RATE_WINDOW_MS);
    say("k-rate", r === null ? "–" : Math.max(0, r).toFixed(1));

    const q = s.queue || {waiting: 0, admitted: 0};
    if (ev && !ev.queue.enabled && !q.waiting && !q.admitted) {
      say("queue", "This event has no waiting room.");
    } else {
      const pace = rate(x => -x.waiting, PACE_WINDOW_MS);
      let text = n(q.waiting) + " waiting, " + n(q.admitted) + " admitted and shopping.";
      if (ev && ev.queue.enabled) text += " Admitting up to " + n(ev.queue.admit_per_minute) + " a minute.";
      if (pace !== null && pace > 0) {
        text += " The line moves " + n(Math.round(pace * 60)) + " a minute";
        if (q.waiting > 0) text += ": about " + duration(q.waiting / pace) + " for the last in line";
        text += ".";
      }
      say("queue", text);
    }

    $("revenue").replaceChildren(...(s.revenue.length ? s.revenue.map(v => el("tr", {},
      el("th", {scope: "row", text: v.currency}),
      el("td", {class: "num", text: money({amount: v.orders, currency: v.currency})}),
      el("td", {class: "num", text: money({amount: v.paid, currency: v.currency})}),
      el("td", {class: "num", text: money({amount: v.refunded, currency: v.currency})}))) :
      [el("tr", {}, el("td", {colspan: "4", class: "meta", text: "No money taken yet."}))]));

    const now = Date.now();
    if (sold !== lastSold && now - lastAnnounce >= ANNOUNCE_MS) {
      if (lastSold >= 0) announce(n(sold) + " tickets sold, " + n(left) + " left.");
      lastAnnounce = now;
    }
    lastSold = sold;
    document.body.dataset.sold = String(sold);
    document.body.dataset.held = String(held);
  }

  function announce(text) { $("announce").textContent = text; }

  async function poll() {
    timer = null;
    if (paused || document.hidden) return;
    try {
      const s = await api("GET", "events/" + encodeURIComponent(id) + "/sales");
      if (ev && s.tiers.some(t => !ev.tiers.find(x => x.id === t.tier_id))) await loadEvent().catch(() => {});
      const reserved = {};
      let total = 0;
      for (const t of s.tiers) { reserved[t.tier_id] = t.held + t.confirmed; total += t.held + t.confirmed; }
      samples.push({t: Date.now(), reserved, total, waiting: (s.queue || {}).waiting || 0});
      while (samples.length > 2 && samples[samples.length - 1].t - samples[0].t > PACE_WINDOW_MS + POLL_MS) samples.shift();
      render(s);
      if (failures) showError(null);
      failures = 0;
      $("conn").className = "pill online"; $("conn").textContent = "Live";
      say("updated", "Updated " + new Date().toLocaleTimeString());
    } catch (err) {
      failures++;
      $("conn").className = "pill offline"; $("conn").textContent = "Reconnecting…";
      if (failures === 3 || err instanceof ApiError) showError(err);
      if (err instanceof ApiError && (err.status === 404 || err.status === 403)) return; // no point asking again
    }
    schedule();
  }

  function schedule() {
    if (!timer && !paused && !document.hidden) timer = setTimeout(poll, failures ? Math.min(10000, POLL_MS * 2 ** failures) : POLL_MS);
  }

  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").textContent = paused ? "Resume updates" : "Pause updates";
    if (paused) { clearTimeout(timer); timer = null; $("conn").className = "pill"; $("conn").textContent = "Paused"; }
    else { samples.length = 0; poll(); }
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !paused) { samples.length = 0; if (!timer) poll(); }
  });

  loadEvent().then(poll, err => { showError(err); $("conn").textContent = "Not available"; });
})();
