// Checkout: choose tickets of several tiers (and their holders' names),
// hold them as one order, then pay before the hold runs out: with the test
// provider's buttons, or, when the server takes payments with Stripe (the
// page then carries the publishable key in #pay's data-stripe-key), with
// Stripe.js and its Payment Element, so that card details go to Stripe and
// never through this site. Stripe's webhook tells the server the outcome;
// the page polls the order until it is paid.
"use strict";
(function () {
  const id = eventId();
  if (!requireSignIn()) return;
  let ev = null, order = null, tick = 0, payments = "";
  const params = new URLSearchParams(location.search);
  const stripeKey = $("pay").dataset.stripeKey || "";
  // STRIPE_JS is the only script this site loads from another origin (the
  // checkout page's Content-Security-Policy allows it when Stripe runs).
  const STRIPE_JS = "https://js.stripe.com/v3/";
  // How long the page polls quickly for the webhook's outcome before it says
  // that confirming takes longer; it then keeps asking, less often, for
  // CONFIRM_GIVE_UP.
  const CONFIRM_WAIT = 45000, CONFIRM_GIVE_UP = 15 * 60000;
  let stripe = null, elements = null, paymentElement = null, stripeLoad = null, confirmingNow = false;

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
    // Back from the bank's page (Stripe's return_url) with a payment under
    // way: a hold that ran out meanwhile is not the end, as a late payment
    // gets the tickets again when they are there (or is refunded).
    const back = stripeKey ? params.get("redirect_status") : "";
    const late = (back === "succeeded" || back === "processing") && (order.status === "expired" || order.status === "cancelled");
    if (order.status !== "pending" && !late) {
      showError(new Error(order.status === "expired" ? PROBLEMS.hold_expired : "This order is " + order.status + "."));
      $("pay").hidden = true;
      const again = el("a", {href: "/events/" + id + "/checkout", text: "Start again"});
      $("error").append(" ", again);
      return;
    }
    $("pay").hidden = false;
    say("order-summary", order.lines.map(l => l.quantity + " × " + tierName(l.tier_id)).join(", ") + " · total " + money(order.total));
    if (stripeKey) {
      if (!late) countdown();
      if (back === "succeeded" || back === "processing" || (order.payment && order.payment.status === "processing")) confirming();
      else {
        if (back === "failed") showError(new Error("The payment was not completed. Your tickets stay held until the timer runs out: try again."));
        startStripe();
      }
      return;
    }
    if (payments.startsWith("test")) $("test-pay").hidden = false;
    else {
      $("no-pay").hidden = false;
      say("no-pay", "This server takes no payments at the moment. Your tickets are held until the timer runs out.");
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
        $("pay").querySelectorAll("#test-pay button, #stripe-pay button, #stripe-retry").forEach(b => { b.disabled = true; });
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

  // loadStripe loads Stripe.js once, answering its Stripe function; it fails
  // when js.stripe.com cannot be reached (offline, blocked) within 20 s.
  function loadStripe() {
    if (window.Stripe) return Promise.resolve(window.Stripe);
    if (!stripeLoad) {
      stripeLoad = new Promise((resolve, reject) => {
        const s = el("script", {src: STRIPE_JS, async: true});
        const fail = () => { clearTimeout(timer); s.remove(); stripeLoad = null; reject(new Error("Stripe.js did not load")); };
        const timer = setTimeout(fail, 20000);
        s.addEventListener("load", () => { clearTimeout(timer); if (window.Stripe) resolve(window.Stripe); else fail(); });
        s.addEventListener("error", fail);
        document.head.append(s);
      });
    }
    return stripeLoad;
  }

  // startStripe loads Stripe.js, starts a payment (the server creates a
  // PaymentIntent and answers its client secret) and shows Stripe's Payment
  // Element for it.
  async function startStripe() {
    $("stripe-unavailable").hidden = true;
    $("stripe-pay").hidden = true;
    say("status", "Loading the payment form…");
    let Stripe;
    try {
      Stripe = await loadStripe();
    } catch (e) {
      say("status", "");
      say("stripe-unavailable-text", "We could not load the payment form: Stripe (js.stripe.com) cannot be reached from this browser. " +
        "Check your connection and try again. Your tickets stay held until the timer runs out.");
      $("stripe-unavailable").hidden = false;
      $("stripe-retry").focus();
      return;
    }
    let p;
    try {
      p = await api("POST", "orders/" + encodeURIComponent(order.id) + "/payments", {}, {"Idempotency-Key": randomId()});
    } catch (err) {
      say("status", "");
      showError(err);
      if (err.code === "hold_expired" || err.code === "invalid_state") clearInterval(tick);
      return;
    }
    if (p.status === "succeeded") { order.status = "paid"; done(); return; }
    if (p.status !== "requires_action" || !p.client_secret) { confirming(); return; }
    try {
      stripe = stripe || Stripe(stripeKey);
      if (paymentElement) paymentElement.destroy();
      elements = stripe.elements({clientSecret: p.client_secret});
      paymentElement = elements.create("payment");
      paymentElement.on("ready", () => { $("stripe-submit").disabled = false; say("status", ""); });
      paymentElement.on("loaderror", () => {
        say("status", "");
        showError(new Error("The payment form did not load. Reload the page to try again; your tickets stay held until the timer runs out."));
      });
      paymentElement.mount("#payment-element");
    } catch (err) {
      say("status", "");
      showError(new Error("The payment form could not start (" + (err.message || err) + ")."));
      return;
    }
    say("stripe-submit", "Pay " + money(order.total));
    $("stripe-pay").hidden = false;
  }

  // stripePay confirms the payment with Stripe: card errors come back at
  // once; a payment that needs the bank's authentication shows it (or goes
  // to the bank's page and comes back to return_url).
  async function stripePay(e) {
    e.preventDefault();
    if (!stripe || !elements) return;
    showError(null);
    const button = $("stripe-submit");
    button.disabled = true;
    say("status", "Paying…");
    let res;
    try {
      res = await stripe.confirmPayment({elements, redirect: "if_required", confirmParams: {
        return_url: location.origin + "/events/" + encodeURIComponent(id) + "/checkout?order=" + encodeURIComponent(order.id)}});
    } catch (err) {
      res = {error: err};
    }
    if (res.error) {
      say("status", "");
      // Stripe's messages for card and validation errors are written for
      // the buyer.
      showError(new Error((res.error.message || "The payment did not go through.") + " Your tickets stay held until the timer runs out."));
      button.disabled = false;
      return;
    }
    confirming();
  }

  // confirming waits for the server to learn the payment's outcome (Stripe's
  // webhook), polling the order. It never claims more than it knows: after
  // CONFIRM_WAIT it says the payment is still being confirmed and where the
  // tickets will appear.
  async function confirming() {
    if (confirmingNow) return;
    confirmingNow = true;
    clearInterval(tick);
    say("countdown", "");
    $("stripe-pay").hidden = true;
    $("stripe-unavailable").hidden = true;
    $("cancel-order").hidden = true;
    showError(null);
    say("status", "Payment received, confirming your order…");
    const started = Date.now();
    let slow = false;
    while (Date.now() - started < CONFIRM_GIVE_UP) {
      await new Promise(r => setTimeout(r, slow ? 15000 : 2000));
      try {
        order = await api("GET", "orders/" + encodeURIComponent(order.id));
      } catch (err) { continue; }
      if (order.status === "paid") { done(); return; }
      // A payment that succeeded for an order whose hold ran out, when the
      // tickets had gone meanwhile: the server refunds it in full (and
      // mails the buyer).
      if ((order.status === "expired" || order.status === "cancelled") && order.payment && order.payment.status === "succeeded") {
        say("status", "");
        showError(new Error("Your payment arrived after the hold ran out, and the tickets had gone back on sale: " +
          "the payment is being refunded in full, and you will get an email about it."));
        return;
      }
      if (order.payment && order.payment.status === "failed" && order.status === "pending") {
        confirmingNow = false;
        say("status", "");
        $("cancel-order").hidden = false;
        countdown();
        showError(new Error("The payment did not go through" + (order.payment.failure_reason ? ": " + order.payment.failure_reason : ".") +
          " Your tickets stay held until the timer runs out: try again."));
        startStripe();
        return;
      }
      if (!slow && Date.now() - started > CONFIRM_WAIT) {
        slow = true;
        say("status", "Your payment was received and is still being confirmed; this can take a few minutes. " +
          "You can leave this page: your tickets will appear in My tickets and be emailed to you once it is confirmed.");
        $("status").append(" ", el("a", {href: "/tickets", text: "Go to My tickets"}));
      }
    }
    say("status", "Your payment is still being confirmed. Your tickets will appear in My tickets and be emailed to you once it is.");
    $("status").append(" ", el("a", {href: "/tickets", text: "Go to My tickets"}));
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
  $("stripe-pay").addEventListener("submit", stripePay);
  $("stripe-retry").addEventListener("click", () => { showError(null); startStripe(); });
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
      if (stripeKey) loadStripe().catch(() => { /* said when the payment step shows */ });
      say("event-title", ev.title + " · " + when(ev.starts_at));
      if (params.get("order")) {
        order = await api("GET", "orders/" + encodeURIComponent(params.get("order")));
        showOrder();
      } else buildForm();
    } catch (err) { showError(err); }
  })();
})();
