// Attendees: an event's tickets with their holders and buyers, searchable
// and paged, an export link, and an order's refunds (whole or by ticket).
"use strict";
(function () {
  if (!requireSignIn()) return;
  const id = eventId();
  const STATUS = {valid: "Valid", used: "Checked in", void: "Refunded (void)"};
  const ORDER = {pending: "Pending payment", paid: "Paid", expired: "Expired", cancelled: "Cancelled", refunded: "Refunded", partially_refunded: "Partly refunded"};
  const REFUND = {pending: "Pending", succeeded: "Succeeded", failed: "Failed, retrying"};
  let cursor = null, query = {q: "", status: ""}, order = null, pendingRefund = null, opener = null;

  function statusPill(s) { return el("span", {class: "pill " + s, text: STATUS[s] || s}); }

  function exportHref() {
    const p = new URLSearchParams();
    if (query.q) p.set("q", query.q);
    if (query.status) p.set("status", query.status);
    const qs = p.toString();
    return "/api/v1/events/" + encodeURIComponent(id) + "/attendees.csv" + (qs ? "?" + qs : "");
  }

  async function load(reset) {
    $("more").disabled = true;
    if (reset) { cursor = null; }
    try {
      const p = new URLSearchParams({limit: "50"});
      if (query.q) p.set("q", query.q);
      if (query.status) p.set("status", query.status);
      if (cursor) p.set("cursor", cursor);
      const page = await api("GET", "events/" + encodeURIComponent(id) + "/attendees?" + p);
      const rows = page.items.map(row);
      if (reset) $("rows").replaceChildren(...rows); else $("rows").append(...rows);
      cursor = page.next_cursor;
      $("more").hidden = !cursor;
      const count = $("rows").children.length;
      say("status", count ? count + (cursor ? "+ " : " ") + (count === 1 ? "ticket" : "tickets") + " shown." :
        (query.q || query.status ? "No attendees match." : "No tickets issued yet."));
      showError(null);
    } catch (err) { say("status", ""); showError(err); } finally { $("more").disabled = false; }
  }

  function row(a) {
    const btn = el("button", {type: "button", class: "link", text: "Order " + a.order_id.slice(-6), "aria-label": "Order " + a.order_id + " of " + (a.buyer_email || "the buyer"), "data-order": a.order_id});
    btn.addEventListener("click", () => { opener = btn; openOrder(a.order_id); });
    return el("tr", {id: "att-" + a.ticket_id},
      el("td", {text: a.attendee_name || "(no name)"}),
      el("td", {"data-label": "Tier", text: a.tier_name || ""}),
      el("td", {"data-label": "Status"}, statusPill(a.status)),
      el("td", {"data-label": "Buyer"}, a.buyer_name ? a.buyer_name + " · " : "", el("span", {text: a.buyer_email})),
      el("td", {}, btn));
  }

  async function openOrder(oid) {
    showError(null, "order-error"); say("order-status", "");
    $("refund-confirm").hidden = true; pendingRefund = null;
    $("order").hidden = false;
    $("h-order").textContent = "Order " + oid;
    $("h-order").focus();
    try {
      const [o, tickets, refunds] = await Promise.all([
        api("GET", "orders/" + encodeURIComponent(oid)),
        api("GET", "events/" + encodeURIComponent(id) + "/attendees?" + new URLSearchParams({q: oid, limit: "100"})),
        api("GET", "orders/" + encodeURIComponent(oid) + "/refunds")]);
      order = o;
      $("order").dataset.status = o.status;
      $("order-meta").textContent = (ORDER[o.status] || o.status) + " · total " + money(o.total) +
        (o.refunded && o.refunded.amount ? " · refunded " + money(o.refunded) : "") + (o.email ? " · " + o.email : "");
      const mine = tickets.items.filter(t => t.order_id === o.id);
      $("order-tickets").replaceChildren(...mine.map(t => {
        const cid = "pick-" + t.ticket_id;
        const label = (t.attendee_name || "(no name)") + " · " + (t.tier_name || "") + " · " + (STATUS[t.status] || t.status);
        return el("p", {}, el("input", {type: "checkbox", id: cid, class: "pick", value: t.ticket_id, disabled: t.status === "void"}), " ",
          el("label", {class: "inline", for: cid, text: label}));
      }));
      const refundable = mine.some(t => t.status !== "void") && (o.status === "paid" || o.status === "partially_refunded");
      $("refund-form").hidden = !refundable;
      $("refunds").replaceChildren(...(refunds.items.length ? refunds.items.map(r => el("li", {},
        el("strong", {text: money(r.amount)}), " · " + (REFUND[r.status] || r.status) + " · " + when(r.created_at) +
        " · " + (r.ticket_ids.length ? r.ticket_ids.length + (r.ticket_ids.length === 1 ? " ticket" : " tickets") : "whole order") +
        (r.reason ? " · “" + r.reason + "”" : "") + (r.last_error ? " · last error: " + r.last_error : ""))) :
        [el("li", {class: "meta", text: "No refunds yet."})]));
    } catch (err) { showError(err, "order-error"); }
  }

  function askRefund(ticketIds) {
    showError(null, "order-error");
    if (ticketIds && !ticketIds.length) { showError(new Error("Select the tickets to refund first."), "order-error"); return; }
    pendingRefund = {ticketIds};
    const what = ticketIds ? ticketIds.length + (ticketIds.length === 1 ? " ticket" : " tickets") + " of this order" : "everything this order still holds";
    const one = ticketIds && ticketIds.length === 1;
    $("refund-question").textContent = "Refund " + what + "? The buyer gets the money back and " + (one ? "the ticket stops" : "the tickets stop") + " working at once. This cannot be undone.";
    $("refund-confirm").hidden = false;
    $("refund-go").focus();
  }

  $("refund-selected").addEventListener("click", () =>
    askRefund(Array.from($("order-tickets").querySelectorAll("input.pick:checked")).map(i => i.value)));
  $("refund-all").addEventListener("click", () => askRefund(null));
  $("refund-keep").addEventListener("click", () => { $("refund-confirm").hidden = true; pendingRefund = null; $("refund-selected").focus(); });
  $("refund-go").addEventListener("click", async () => {
    if (!order || !pendingRefund) return;
    const b = {};
    const reason = $("refund-reason").value.trim();
    if (reason) b.reason = reason;
    if (pendingRefund.ticketIds) b.ticket_ids = pendingRefund.ticketIds;
    $("refund-go").disabled = true;
    try {
      const r = await api("POST", "orders/" + encodeURIComponent(order.id) + "/refunds", b, {"Idempotency-Key": randomId()});
      $("refund-reason").value = "";
      await openOrder(order.id);
      say("order-status", "Refund of " + money(r.amount) + " " + (r.status === "succeeded" ? "made." : "decided; the payment provider is sending it (" + (REFUND[r.status] || r.status) + ")."));
      load(true);
    } catch (err) { showError(err, "order-error"); } finally { $("refund-go").disabled = false; }
  });
  $("order-close").addEventListener("click", () => {
    $("order").hidden = true; order = null;
    if (opener && document.contains(opener)) opener.focus(); else $("q").focus();
  });

  $("search").addEventListener("submit", ev => {
    ev.preventDefault();
    query = {q: $("q").value.trim(), status: $("st").value};
    $("export").href = exportHref();
    load(true);
  });
  $("more").addEventListener("click", () => load(false));
  $("export").href = exportHref();
  api("GET", "events/" + encodeURIComponent(id)).then(e => {
    say("event-title", e.title); document.title = "Attendees: " + e.title + " · boxoffice";
  }).catch(() => {});
  load(true);
})();
