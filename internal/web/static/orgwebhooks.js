// Webhooks: an organizer's endpoints (owners and managers): add one (its
// signing secret is shown once), pause or resume it, delete it after a
// confirmation, and see its deliveries, retrying a failed one.
"use strict";
(function () {
  if (!requireSignIn()) return;
  const org = document.body.dataset.org || "";
  const base = "organizers/" + encodeURIComponent(org) + "/webhooks";
  const TYPES = {
    "order.paid": "An order is paid",
    "order.refunded": "An order is refunded",
    "ticket.checked_in": "A ticket is checked in",
    "event.sold_out": "An event sells out",
    "event.cancelled": "An event is cancelled"
  };
  const DELIVERY = {pending: "Waiting to be sent", succeeded: "Delivered", failed: "Failed"};

  function hookBox(h) {
    const box = el("section", {class: "hook", id: "hook-" + h.id, "aria-labelledby": "h-hook-" + h.id});
    box.append(el("h2", {id: "h-hook-" + h.id, text: h.url}),
      el("p", {class: "meta", text: (h.enabled ? "Enabled" : "Paused") + (h.disabled_reason ? " (" + h.disabled_reason + ")" : "") +
        " · " + h.events.map(t => TYPES[t] || t).join(", ") +
        (h.failures ? " · " + h.failures + " failed attempts since " + when(h.failing_since) : "")}));
    const live = el("p", {class: "status", role: "status", "aria-live": "polite"});
    const err = el("p", {class: "error", role: "alert", hidden: true});
    const fail = e => { err.hidden = false; err.textContent = e instanceof ApiError ? e.message : String(e.message || e); };
    const actions = el("div", {class: "actions"});
    const toggle = el("button", {type: "button", class: "secondary", text: h.enabled ? "Pause" : "Resume"});
    toggle.addEventListener("click", async () => {
      err.hidden = true;
      try {
        const nh = await api("PATCH", base + "/" + encodeURIComponent(h.id), {enabled: !h.enabled});
        const nb = hookBox(nh); box.replaceWith(nb); nb.querySelector("button").focus();
        say("status", nh.url + (nh.enabled ? " resumed." : " paused."));
      } catch (e) { fail(e); }
    });
    const show = el("button", {type: "button", class: "secondary", text: "Show deliveries", "aria-expanded": "false", "aria-controls": "del-" + h.id});
    const del = el("button", {type: "button", class: "secondary", text: "Delete…"});
    const sure = el("button", {type: "button", class: "danger", text: "Delete this endpoint and its delivery log", hidden: true});
    del.addEventListener("click", () => { del.hidden = true; sure.hidden = false; sure.focus(); });
    sure.addEventListener("click", async () => {
      err.hidden = true;
      try {
        await api("DELETE", base + "/" + encodeURIComponent(h.id));
        box.remove();
        say("status", h.url + " deleted.");
        $("hook-url").focus();
      } catch (e) { fail(e); }
    });
    actions.append(toggle, show, del, sure);
    const list = el("div", {id: "del-" + h.id, hidden: true});
    let cursor = null;
    const more = el("button", {type: "button", class: "secondary", text: "Older deliveries", hidden: true});
    async function loadDeliveries(reset) {
      try {
        const p = new URLSearchParams({limit: "20"});
        if (!reset && cursor) p.set("cursor", cursor);
        const page = await api("GET", base + "/" + encodeURIComponent(h.id) + "/deliveries?" + p);
        const ul = reset ? el("ul", {class: "plain"}) : list.querySelector("ul");
        for (const d of page.items) ul.append(deliveryItem(d));
        if (reset) list.replaceChildren(ul.children.length ? ul : el("p", {class: "meta", text: "Nothing sent yet."}), more);
        cursor = page.next_cursor; more.hidden = !cursor;
      } catch (e) { fail(e); }
    }
    function deliveryItem(d) {
      const li = el("li", {id: "delivery-" + d.id});
      li.append(el("strong", {text: TYPES[d.type] || d.type}), " · " + (DELIVERY[d.status] || d.status) + " · " + d.attempts +
        (d.attempts === 1 ? " attempt" : " attempts") + (d.response_status ? " · HTTP " + d.response_status : "") +
        (d.error ? " · " + d.error : "") + " · " + when(d.created_at) + (d.next_attempt_at ? " · next try " + when(d.next_attempt_at) : ""));
      if (d.status !== "succeeded") {
        const retry = el("button", {type: "button", class: "secondary", text: "Retry now", "aria-label": "Retry the delivery of " + when(d.created_at)});
        retry.addEventListener("click", async () => {
          err.hidden = true;
          try {
            const nd = await api("POST", base + "/" + encodeURIComponent(h.id) + "/deliveries/" + encodeURIComponent(d.id) + "/retry");
            const ni = deliveryItem(nd); li.replaceWith(ni);
            live.textContent = "Retry queued; it is sent within seconds.";
          } catch (e) { fail(e); }
        });
        li.append(" ", retry);
      }
      return li;
    }
    more.addEventListener("click", () => loadDeliveries(false));
    show.addEventListener("click", () => {
      const open = list.hidden;
      list.hidden = !open;
      show.setAttribute("aria-expanded", String(open));
      show.textContent = open ? "Hide deliveries" : "Show deliveries";
      if (open) loadDeliveries(true);
    });
    box.append(actions, live, err, list);
    return box;
  }

  async function load() {
    try {
      const page = await api("GET", base);
      $("hooks").replaceChildren(...page.items.map(hookBox));
      say("status", page.items.length ? "" : "No endpoints yet.");
    } catch (err) { say("status", ""); showError(err); }
  }

  for (const [t, label] of Object.entries(TYPES)) {
    $("types").append(el("p", {}, el("input", {type: "checkbox", id: "type-" + t, value: t, checked: t === "order.paid" || t === "order.refunded"}), " ",
      el("label", {class: "inline", for: "type-" + t, text: label + " (" + t + ")"})));
  }

  $("add").addEventListener("submit", async ev => {
    ev.preventDefault();
    showError(null);
    const events = Array.from($("types").querySelectorAll("input:checked")).map(i => i.value);
    if (!events.length) { showError(new Error("Choose at least one kind of message.")); return; }
    try {
      const h = await api("POST", base, {url: $("hook-url").value.trim(), events});
      $("hook-url").value = "";
      $("secret").textContent = h.secret;
      $("secret-box").hidden = false;
      await load();
      $("secret-box").focus();
    } catch (err) { showError(err); }
  });

  api("GET", "organizers/" + encodeURIComponent(org)).then(o => {
    say("org-name", o.name); document.title = "Webhooks: " + o.name + " · boxoffice";
  }).catch(() => {});
  load();
})();
