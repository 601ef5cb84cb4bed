// The event page: details, and the tiers' availability polled every few
// seconds.
"use strict";
(function () {
  const id = eventId();
  const POLL = 5000;
  let timer = 0;

  async function refresh() {
    try {
      const ev = await api("GET", "events/" + encodeURIComponent(id));
      render(ev);
      showError(null);
    } catch (e) {
      if (e.status === 404) { say("title", "Event not found"); showError(e); return; }
      showError(e);
    }
    timer = setTimeout(refresh, document.hidden ? POLL * 3 : POLL);
  }

  function render(ev) {
    document.title = ev.title + " · boxoffice";
    say("title", ev.title);
    say("when", when(ev.starts_at) + (ev.ends_at ? " – " + when(ev.ends_at) : ""));
    say("venue", ev.venue);
    say("description", ev.description);
    const body = $("tiers");
    body.textContent = "";
    for (const t of ev.tiers) {
      body.append(el("tr", {},
        el("th", {scope: "row", text: t.name}),
        el("td", {text: money(t.price)}),
        el("td", {class: t.available ? "" : "soldout", text: t.available ? String(t.available) : "Sold out"})));
    }
    $("event").setAttribute("aria-busy", "false");
    const now = Date.now(), left = ev.tiers.reduce((n, t) => n + t.available, 0);
    const buy = $("buy");
    let note = "";
    if (now > Date.parse(ev.sales_end_at)) note = "Sales have ended.";
    else if (!left && !ev.queue.enabled) note = "Sold out.";
    else if (now < Date.parse(ev.sales_start_at) && !ev.queue.enabled) note = "Sales open " + when(ev.sales_start_at) + ".";
    buy.hidden = !!note;
    if (ev.queue.enabled) {
      buy.textContent = now < Date.parse(ev.sales_start_at) ? "Join the waiting room (sales open " + when(ev.sales_start_at) + ")" : "Join the waiting room";
      buy.href = "/events/" + ev.id + "/queue";
    } else {
      buy.textContent = "Buy tickets";
      buy.href = "/events/" + ev.id + "/checkout";
    }
    if (!note && !left) note = "Sold out right now; tickets may come back.";
    say("sales", note);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { clearTimeout(timer); refresh(); }
  });
  refresh();
})();
