// Manage an event: create a draft (with its tiers), edit it, publish it,
// and cancel it after a confirmation step.
"use strict";
(function () {
  if (!requireSignIn()) return;
  const id = eventId(), orgId = document.body.dataset.org || "";
  const STATUS = {draft: "Draft (only the team sees it)", published: "Published: on show and on sale", cancelled: "Cancelled", archived: "Archived"};
  let tierSeq = 0;

  const pad = n => String(n).padStart(2, "0");
  function toLocal(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function fromLocal(v) { return v ? new Date(v).toISOString() : null; }
  function digits(cur) { return {JPY: 0, KRW: 0, ISK: 0}[cur] ?? 2; }

  // tierRow is the fields of one tier; t is a saved tier or null for a new one.
  function tierRow(t) {
    const n = tierSeq++, f = k => "tier-" + k + "-" + n;
    const cur = t ? t.price.currency : "EUR";
    const row = el("div", {class: "tier-row", "data-id": t ? t.id : "", role: "group", "aria-label": t ? "Tier " + t.name : "New tier"});
    row.append(
      el("div", {class: "wide"}, el("label", {for: f("name"), text: "Tier name"}), el("input", {id: f("name"), class: "t-name", maxlength: "100", value: t ? t.name : "", autocomplete: "off", required: true})),
      el("div", {}, el("label", {for: f("price"), text: "Price"}), el("input", {id: f("price"), class: "t-price", type: "text", inputmode: "decimal", value: t ? (t.price.amount / 10 ** digits(cur)).toFixed(digits(cur)) : "", autocomplete: "off", required: true})),
      el("div", {}, el("label", {for: f("cur"), text: "Currency"}), el("input", {id: f("cur"), class: "t-cur", maxlength: "3", value: cur, autocomplete: "off", autocapitalize: "characters", required: true})),
      el("div", {}, el("label", {for: f("cap"), text: "Capacity"}), el("input", {id: f("cap"), class: "t-cap", type: "number", min: "1", inputmode: "numeric", value: t ? String(t.capacity) : "", required: true})));
    const flags = el("div", {class: "flags"},
      el("span", {}, el("input", {type: "checkbox", id: f("hidden"), class: "t-hidden", checked: t && t.hidden}), " ", el("label", {class: "inline", for: f("hidden"), text: "Hidden"})),
      el("span", {}, el("input", {type: "checkbox", id: f("closed"), class: "t-closed", checked: t && t.closed}), " ", el("label", {class: "inline", for: f("closed"), text: "Closed to sales"})));
    if (t) {
      flags.append(el("span", {class: "meta", text: t.available + " of " + t.capacity + " left"}));
    } else {
      const rm = el("button", {type: "button", class: "link", text: "Remove this tier"});
      rm.addEventListener("click", () => { row.remove(); $("add-tier").focus(); });
      flags.append(rm);
    }
    row.append(flags);
    return row;
  }

  function tiersOf() {
    const out = [];
    for (const row of $("tiers").querySelectorAll(".tier-row")) {
      const cur = row.querySelector(".t-cur").value.trim().toUpperCase();
      const priceText = row.querySelector(".t-price").value.trim().replace(",", ".");
      const price = priceText === "" ? NaN : Math.round(Number(priceText) * 10 ** digits(cur));
      const t = {
        name: row.querySelector(".t-name").value.trim(),
        price: {amount: Number.isFinite(price) ? price : -1, currency: cur},
        capacity: Number(row.querySelector(".t-cap").value) || 0,
        hidden: row.querySelector(".t-hidden").checked,
        closed: row.querySelector(".t-closed").checked
      };
      if (row.dataset.id) t.id = row.dataset.id;
      out.push(t);
    }
    return out;
  }

  function fill(e) {
    $("title").textContent = e.title;
    document.title = e.title + " · boxoffice";
    $("state").replaceChildren(el("span", {class: "pill " + e.status, text: STATUS[e.status] || e.status}), " ",
      e.status === "published" ? el("a", {href: "/events/" + e.id, text: "See the public page"}) : "");
    $("ev-title").value = e.title;
    $("ev-venue").value = e.venue;
    $("ev-description").value = e.description || "";
    $("ev-starts").value = toLocal(e.starts_at);
    $("ev-ends").value = toLocal(e.ends_at);
    $("ev-sales-start").value = toLocal(e.sales_start_at);
    $("ev-sales-end").value = toLocal(e.sales_end_at);
    $("ev-max").value = e.max_tickets_per_user;
    $("ev-hold").value = e.hold_seconds;
    $("ev-queue").checked = e.queue.enabled;
    $("ev-admit").value = e.queue.admit_per_minute || 600;
    queueShown();
    $("tiers").replaceChildren(...e.tiers.map(tierRow));
    $("publish-box").hidden = e.status !== "draft";
    $("cancel-box").hidden = e.status !== "published";
    const closed = e.status === "cancelled" || e.status === "archived";
    for (const x of $("event-form").elements) x.disabled = closed;
  }

  function queueShown() { $("queue-rate").hidden = !$("ev-queue").checked; }

  function body() {
    const b = {
      title: $("ev-title").value.trim(), venue: $("ev-venue").value.trim(), description: $("ev-description").value,
      starts_at: fromLocal($("ev-starts").value), ends_at: fromLocal($("ev-ends").value),
      sales_start_at: fromLocal($("ev-sales-start").value), sales_end_at: fromLocal($("ev-sales-end").value),
      max_tickets_per_user: Number($("ev-max").value) || 0, hold_seconds: Number($("ev-hold").value) || 0,
      queue: {enabled: $("ev-queue").checked, admit_per_minute: $("ev-queue").checked ? Number($("ev-admit").value) || 0 : 0},
      tiers: tiersOf()
    };
    const missing = [];
    if (!b.title) missing.push("title");
    if (!b.venue) missing.push("venue");
    if (!b.starts_at) missing.push("start");
    if (!b.sales_start_at) missing.push("sales open");
    if (!b.sales_end_at) missing.push("sales close");
    if (!b.tiers.length) missing.push("at least one tier");
    if (b.tiers.some(t => !t.name || t.price.amount < 0 || t.capacity < 1)) missing.push("each tier's name, price and capacity");
    if (missing.length) throw new Error("Please fill in: " + missing.join(", ") + ".");
    return b;
  }

  async function load() {
    if (!id) {
      const start = new Date(Date.now() + 30 * 864e5); start.setHours(20, 0, 0, 0);
      const open = new Date(); open.setSeconds(0, 0);
      $("ev-starts").value = toLocal(start.toISOString());
      $("ev-sales-start").value = toLocal(open.toISOString());
      $("ev-sales-end").value = toLocal(new Date(start.getTime() - 3600e3).toISOString());
      $("tiers").append(tierRow(null));
      queueShown();
      return;
    }
    try {
      fill(await api("GET", "events/" + encodeURIComponent(id)));
      if (new URLSearchParams(location.search).get("created")) say("status", "Draft created. Publish it when it is ready.");
    } catch (err) { showError(err); }
  }

  $("ev-queue").addEventListener("change", queueShown);
  $("add-tier").addEventListener("click", () => {
    const row = tierRow(null);
    $("tiers").append(row);
    row.querySelector("input").focus();
  });

  $("event-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    showError(null); say("status", "");
    let b;
    try { b = body(); } catch (err) { showError(err); return; }
    $("save").disabled = true;
    try {
      if (!id) {
        b.organizer_id = orgId;
        if (!b.ends_at) delete b.ends_at;
        const e = await api("POST", "events", b);
        location.assign("/events/" + e.id + "/manage?created=1");
        return;
      }
      if (!b.ends_at) delete b.ends_at;
      fill(await api("PATCH", "events/" + encodeURIComponent(id), b));
      say("status", "Saved.");
    } catch (err) { showError(err); } finally { $("save").disabled = false; }
  });

  $("publish").addEventListener("click", async () => {
    showError(null);
    $("publish").disabled = true;
    try {
      fill(await api("POST", "events/" + encodeURIComponent(id) + "/publish"));
      say("status", "Published. The event is on show and on sale from " + when(new Date(fromLocal($("ev-sales-start").value))) + ".");
      $("title").focus();
    } catch (err) { showError(err); } finally { $("publish").disabled = false; }
  });

  $("cancel-start").addEventListener("click", () => {
    $("cancel-confirm").hidden = false; $("cancel-start").hidden = true; $("cancel-reason").focus();
  });
  $("cancel-keep").addEventListener("click", () => {
    $("cancel-confirm").hidden = true; $("cancel-start").hidden = false; $("cancel-sure").checked = false;
    $("cancel-go").disabled = true; $("cancel-start").focus();
  });
  $("cancel-sure").addEventListener("change", () => { $("cancel-go").disabled = !$("cancel-sure").checked; });
  $("cancel-go").addEventListener("click", async () => {
    showError(null);
    $("cancel-go").disabled = true;
    try {
      const c = await api("POST", "events/" + encodeURIComponent(id) + "/cancel", {reason: $("cancel-reason").value.trim()});
      fill(c.event);
      say("status", "The event is cancelled. " + c.orders_refunded + " orders refunded, " + c.orders_cancelled + " unpaid orders cancelled" +
        (c.complete ? "." : "; the remaining orders are being refunded in the background."));
      $("title").focus();
    } catch (err) { showError(err); $("cancel-go").disabled = false; }
  });

  load();
})();
