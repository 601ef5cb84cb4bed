// My tickets: the buyer's orders, each paid order's tickets with their QR
// codes and PDFs, name changes and refunds by ticket.
"use strict";
(function () {
  if (!requireSignIn()) return;
  const events = {};
  let cursor = null;

  function eventOf(eventId) {
    if (!events[eventId]) events[eventId] = api("GET", "events/" + encodeURIComponent(eventId)).catch(() => null);
    return events[eventId];
  }

  async function load() {
    $("more").disabled = true;
    try {
      const p = new URLSearchParams({limit: "10"});
      if (cursor) p.set("cursor", cursor);
      const page = await api("GET", "users/me/orders?" + p);
      for (const o of page.items) $("orders").append(await orderBox(o));
      cursor = page.next_cursor;
      $("more").hidden = !cursor;
      const n = $("orders").children.length;
      say("status", n ? "" : "You have no orders yet.");
    } catch (err) { say("status", ""); showError(err); } finally { $("more").disabled = false; }
  }

  async function orderBox(o) {
    const ev = await eventOf(o.event_id);
    const tiers = {};
    if (ev) for (const t of ev.tiers) tiers[t.id] = t.name;
    const box = el("section", {class: "order", id: "order-" + o.id, "aria-labelledby": "h-" + o.id});
    box.append(el("h2", {id: "h-" + o.id, text: ev ? ev.title : "Event"}),
      el("p", {class: "meta", text: (ev ? when(ev.starts_at) + " · " + ev.venue + " · " : "") + "Order " + o.id + " · " + o.status.replace("_", " ") + " · " + money(o.total)}));
    if (o.status === "pending") {
      box.append(el("p", {}, el("a", {href: "/events/" + o.event_id + "/checkout?order=" + o.id, text: "Finish paying"})));
    }
    if (!["paid", "partially_refunded", "refunded"].includes(o.status)) return box;
    box.append(el("p", {}, el("a", {href: "/api/v1/orders/" + o.id + "/tickets.pdf", text: "All tickets of this order (PDF)"})));
    const live = el("p", {class: "status", role: "status", "aria-live": "polite"});
    const err = el("p", {class: "error", role: "alert", hidden: true});
    box.append(live, err);
    let tickets = [];
    try { tickets = (await api("GET", "orders/" + encodeURIComponent(o.id) + "/tickets")).items; }
    catch (e) { err.hidden = false; err.textContent = e.message; return box; }
    const form = el("form", {class: "refund"});
    for (const t of tickets) box.append(ticketBox(t, tiers, live, err, form));
    const refundable = tickets.filter(t => t.status !== "void");
    if (refundable.length) {
      const btn = el("button", {type: "button", class: "secondary", text: "Refund the selected tickets"});
      btn.addEventListener("click", async () => {
        const ids = Array.from(box.querySelectorAll("input.refund-pick:checked")).map(i => i.value);
        if (!ids.length) { live.textContent = "Select the tickets to refund first."; return; }
        if (!confirm("Refund " + ids.length + (ids.length === 1 ? " ticket" : " tickets") + "? The tickets stop working at once.")) return;
        err.hidden = true;
        try {
          await api("POST", "orders/" + encodeURIComponent(o.id) + "/refunds", {ticket_ids: ids}, {"Idempotency-Key": randomId()});
          live.textContent = "Refunded. The money goes back to your card within a few days.";
          box.replaceWith(await orderBox(await api("GET", "orders/" + encodeURIComponent(o.id))));
        } catch (e) { err.hidden = false; err.textContent = e.message; }
      });
      box.append(el("p", {}, btn));
    }
    return box;
  }

  function ticketBox(t, tiers, live, err) {
    const div = el("div", {class: "ticket", id: "ticket-" + t.id});
    const label = (t.attendee_name || "Unnamed ticket") + " · " + (tiers[t.tier_id] || "Ticket");
    if (t.status === "void") {
      div.append(el("p", {class: "soldout", text: label + ": refunded (void)"}));
      return div;
    }
    div.append(el("img", {src: "/api/v1/tickets/" + t.id + "/qr.svg?v=" + t.version, alt: "QR code of the ticket for " + label, width: "240", height: "240"}));
    const info = el("div", {});
    info.append(el("p", {}, el("strong", {text: label})),
      el("p", {class: "meta", text: t.status === "used" ? "Used " + when(t.checked_in_at) + (t.gate ? " at " + t.gate : "") : "Valid · ticket " + t.id}));
    info.append(el("p", {}, el("a", {href: "/api/v1/tickets/" + t.id + "/ticket.pdf", text: "Ticket PDF"})));
    if (t.status === "valid") {
      const inputId = "rename-" + t.id;
      const f = el("form", {}, el("label", {for: inputId, text: "Name on the ticket"}),
        el("input", {id: inputId, value: t.attendee_name, maxlength: "100", autocomplete: "off"}),
        el("button", {type: "submit", class: "secondary", text: "Change name"}));
      f.addEventListener("submit", async e => {
        e.preventDefault(); err.hidden = true;
        try {
          const nt = await api("PATCH", "tickets/" + encodeURIComponent(t.id), {attendee_name: $(inputId).value.trim()});
          live.textContent = "Name changed. The ticket has a new code; the old one no longer works.";
          div.replaceWith(ticketBox(nt, tiers, live, err));
        } catch (ex) { err.hidden = false; err.textContent = ex.message; }
      });
      info.append(f);
    }
    const pick = el("input", {type: "checkbox", class: "refund-pick", value: t.id, id: "refund-" + t.id});
    info.append(el("p", {}, pick, " ", el("label", {for: "refund-" + t.id, class: "inline", text: "Select for refund"})));
    div.append(info);
    return div;
  }

  $("more").addEventListener("click", load);
  load();
})();
