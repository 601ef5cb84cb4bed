// The catalogue (and the door's event list): search and keyset "load more".
"use strict";
(function () {
  const list = $("events"), more = $("more");
  const door = list.dataset.link === "door";
  let cursor = null, query = "";

  async function load(reset) {
    if (reset) { list.textContent = ""; cursor = null; }
    more.disabled = true;
    say("status", "Loading events…");
    showError(null, "status");
    try {
      const p = new URLSearchParams({limit: "12"});
      if (query) p.set("q", query);
      if (cursor) p.set("cursor", cursor);
      const page = await api("GET", "events?" + p);
      for (const ev of page.items) list.append(card(ev));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const n = list.children.length;
      say("status", n ? n + (n === 1 ? " event" : " events") + (cursor ? " so far" : "") : (query ? "No events match “" + query + "”." : "No events yet."));
    } catch (e) {
      say("status", e.message || "No connection to the server.");
    } finally { more.disabled = false; }
  }

  function card(ev) {
    const href = door ? "/events/" + ev.id + "/door" : "/events/" + ev.id;
    const left = ev.tiers.reduce((n, t) => n + t.available, 0);
    const prices = ev.tiers.map(t => t.price.amount);
    const from = ev.tiers.length ? money({amount: Math.min(...prices), currency: ev.tiers[0].price.currency}) : "";
    return el("li", {},
      el("h2", {}, el("a", {href, text: ev.title})),
      el("p", {class: "meta", text: when(ev.starts_at) + " · " + ev.venue}),
      door ? null : el("p", {class: left ? "" : "soldout", text: left ? (from ? "From " + from : "") : "Sold out"}));
  }

  $("search").addEventListener("submit", e => { e.preventDefault(); query = $("q").value.trim(); load(true); });
  more.addEventListener("click", () => load(false));
  load(true);
})();
