// Checkout: choose tickets of several tiers (and their holders' names),
// hold them as one order, then pay before the hold runs out.
"use strict";
(function () {
  const id = eventId();
  if (!requireSignIn()) return;
  let ev = null, order = null, tick = 0, payments = "";
  const params = new URLSearchParams(location.search);

  function admissionHeader() {
    try {
      const a = JSON.parse(sessionStorage.getItem("bo_admission_" + id) || "null");
      if (a && a.token && (!a.expires || Date.parse(a.expires) > Date.now())) return {"Admission-Token": a.token};
    } catch (e) { /* none */ }
    return {};
  }

  function tierName(tierId) { const t = ev && ev.tiers.find(x => x.id === tierId); return t ? t.name : tierId; }

  function buildForm() {
    const lines = $("lines");
    lines.textContent = "";
    for (const t of ev.tiers) {
      const inputId = "qty-" + t.id;
      const max = Math.min(ev.max_tickets_per_user, t.available);
      lines.append(el("div", {class: "line"},
        el("label", {for: inputId, text: t.name + " · " + money(t.price) + (t.available ? "" : " · sold out")}),
        el("input", {id: inputId, type: "number", min: "0", max: String(Math.max(0, max)), value: "0", inputmode: "numeric",
          "data-tier": t.id, disabled: t.available ? null : true, "aria-describedby": "summary"})));
    }
    lines.addEventListener("input", update);
    $("order-form").hidden = false;
    update();
  }

  function chosen() {
    return Array.from(document.querySelectorAll("#lines input")).map(i => ({tier_id: i.dataset.tier, quantity: Math.max(0, parseInt(i.value, 10) || 0)}))
      .filter(l => l.quantity > 0);
  }

  function update() {
    const lines = chosen(), names = $("names");
    const keep = {};
    names.querySelectorAll("input").forEach(i => { keep[i.id] = i.value; });
    names.textContent = "";
    let n = 0, total = 0, currency = "";
    for (const l of lines) {
      const t = ev.tiers.find(x => x.id === l.tier_id);
      total += t.price.amount * l.quantity; currency = t.price.currency;
      for (let i = 0; i < l.quantity; i++) {
        n++;
        const inputId = "name-" + l.tier_id + "-" + i;
        names.append(el("label", {for: inputId, text: t.name + ", ticket " + (i + 1)}),
          el("input", {id: inputId, "data-tier": l.tier_id, autocomplete: "off", maxlength: "100", value: keep[inputId] || ""}));
      }
    }
    $("names-set").hidden = n === 0;
    say("summary", n ? n + (n === 1 ? " ticket, " : " tickets, ") + money({amount: total, currency}) : "Choose at least one ticket.");
    $("place").disabled = n === 0;
  }

  async function place(e) {
    e.preventDefault();
    showError(null);
    const lines = chosen().map(l => {
      const names = Array.from(document.querySelectorAll('#names input[data-tier="' + l.tier_id + '"]')).map(i => i.value.trim());
      const out = {tier_id: l.tier_id, quantity: l.quantity};
      if (names.some(Boolean)) out.attendees = names.map(name => (name ? {name} : {}));
      return out;
    });
    $("place").disabled = true;
    say("status", "Holding your tickets…");
    try {
      order = await api("POST", "events/" + encodeURIComponent(id) + "/orders", {lines},
        Object.assign({"Idempotency-Key": randomId()}, admissionHeader()));
      history.replaceState(null, "", "?order=" + encodeURIComponent(order.id));
      showOrder();
    } catch (err) {
      say("status", "");
      showError(err);
      if (err.code === "not_admitted") {
        const a = el("a", {href: "/events/" + id + "/queue", text: "Go to the waiting room"});
        $("error").append(" ", a);
      }
      if (err.problem && typeof err.problem.line === "number") {
        const input = document.querySelector('#lines input[data-tier="' + err.problem.tier_id + '"]');
        if (input) input.focus();
      }
      $("place").disabled = false;
    }
  }

  function showOrder() {
    $("order-form").hidden = true;
    say("status", "");
    if (order.status === "paid") { done(); return; }
    if (order.status !== "pending") {
      showError(new Error(order.status === "expired" ? PROBLEMS.hold_expired : "This order is " + order.status + "."));
      $("pay").hidden = true;
      const again = el("a", {href: "/events/" + id + "/checkout", text: "Start again"});
      $("error").append(" ", again);
      return;
    }
    $("pay").hidden = false;
    say("order-summary", order.lines.map(l => l.quantity + " × " + tierName(l.tier_id)).join(", ") + " · total " + money(order.total));
    if (payments.startsWith("test")) $("test-pay").hidden = false;
    else {
      $("no-pay").hidden = false;
      say("no-pay", payments.startsWith("stripe") ?
        "Card payment with Stripe is not built into these pages yet. Your tickets are held until the timer runs out." :
        "This server takes no payments at the moment. Your tickets are held until the timer runs out.");
    }
    countdown();
    $("pay-visa").focus();
  }

  function countdown() {
    clearInterval(tick);
    const end = Date.parse(order.hold_expires_at);
    let warned = false;
    const step = () => {
      const left = (end - Date.now()) / 1000;
      if (left <= 0) {
        clearInterval(tick);
        say("countdown", "Your hold has run out.");
        $("pay").querySelectorAll("#test-pay button").forEach(b => { b.disabled = true; });
        showError(new Error(PROBLEMS.hold_expired));
        return;
      }
      say("countdown", "Tickets held for " + duration(left));
      if (left < 60 && !warned) { warned = true; say("countdown-note", "Less than a minute left to pay."); }
    };
    step();
    tick = setInterval(step, 1000);
  }

  async function pay(token) {
    showError(null);
    const buttons = $("test-pay").querySelectorAll("button");
    buttons.forEach(b => { b.disabled = true; });
    say("status", "Paying…");
    try {
      const p = await api("POST", "orders/" + encodeURIComponent(order.id) + "/payments", {payment_token: token}, {"Idempotency-Key": randomId()});
      if (p.status === "succeeded") { order.status = "paid"; done(); return; }
      say("status", "The payment is being processed…");
      for (let i = 0; i < 30; i++) {
        await new Promise(r => setTimeout(r, 2000));
        order = await api("GET", "orders/" + encodeURIComponent(order.id));
        if (order.status === "paid") { done(); return; }
        if (order.payment && order.payment.status === "failed") break;
      }
      say("status", "The payment is not through yet. Check My tickets in a moment.");
    } catch (err) {
      say("status", "");
      showError(err);
      if (err.code === "hold_expired" || err.code === "invalid_state") clearInterval(tick);
    } finally { buttons.forEach(b => { b.disabled = false; }); }
  }

  function done() {
    clearInterval(tick);
    sessionStorage.removeItem("bo_admission_" + id);
    $("pay").hidden = true;
    $("done").hidden = false;
    say("status", "Payment received.");
    $("to-tickets").href = "/tickets?order=" + encodeURIComponent(order.id);
    $("to-tickets").focus();
  }

  $("order-form").addEventListener("submit", place);
  $("pay-visa").addEventListener("click", () => pay("tok_visa"));
  $("pay-declined").addEventListener("click", () => pay("tok_declined"));
  $("cancel-order").addEventListener("click", async () => {
    try { await api("POST", "orders/" + encodeURIComponent(order.id) + "/cancel", {}); } catch (err) { showError(err); return; }
    location.assign("/events/" + id);
  });

  (async () => {
    try {
      const [e, ready] = await Promise.all([
        api("GET", "events/" + encodeURIComponent(id)),
        fetch("/readyz").then(r => r.json()).catch(() => ({}))]);
      ev = e; payments = (ready && ready.payments) || "";
      say("event-title", ev.title + " · " + when(ev.starts_at));
      if (params.get("order")) {
        order = await api("GET", "orders/" + encodeURIComponent(params.get("order")));
        showOrder();
      } else buildForm();
    } catch (err) { showError(err); }
  })();
})();
