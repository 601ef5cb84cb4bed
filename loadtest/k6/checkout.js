// checkout.js: the checkout of orders and payments, one seeded user per
// iteration: place a multi-line order on the event's tiers (held all or
// nothing, with an Idempotency-Key), pay it, and read it back until it is
// paid. Most buyers pay with tok_processing: the test provider leaves the
// payment processing, and the script then delivers the provider's signed
// "succeeded" callback to POST /api/v1/payments/webhooks/test (a share of
// them twice, which must change nothing). VISA_RATIO of them pay with
// tok_visa, which succeeds at once. REFUND_RATIO of the paid orders then
// refund one ticket of their last line.
//
// The server must run with BOXOFFICE_PAYMENTS=test and
// BOXOFFICE_TEST_PAYMENTS_SECRET; TEST_PAYMENTS_SECRET is the same secret.
// An admin (ADMIN_EMAIL, ADMIN_PASSWORD) is required: setup creates an event
// on sale now with TIERS tiers of CAPACITY tickets (unless EVENT_ID is given
// without CREATE_EVENT), and teardown checks the outcome:
//
//   - the sales view: per tier held + confirmed + available = capacity, and
//     per currency revenue.orders = paid − refunded;
//   - every order of the run (found through its buyers' order lists) whose
//     payment succeeded is paid (partially_refunded after its refund) with
//     exactly the lines the iteration ordered, its amounts and refunds;
//   - on an event of the run's own: the paid tickets per tier equal the
//     sales view's confirmed, the pending ones its held, and the money the
//     orders kept equals revenue.orders;
//   - no order the run saw paid is missing (paid_orders_missing).
//
//   k6 run -e ADMIN_EMAIL=... -e ADMIN_PASSWORD=... -e JWT_SECRET=... -e USERS=20000 \
//          -e TEST_PAYMENTS_SECRET=... -e VUS=50 -e DURATION=30s loadtest/k6/checkout.js
import http from 'k6/http';
import crypto from 'k6/crypto';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import {
  cfg, baseOptions, spike, routes, routeThresholds, classify, params, jsonParams, expect, adminToken, getEvent,
  userToken, admit, checkInventory, invariantViolations,
} from './lib.js';

const secret = __ENV.TEST_PAYMENTS_SECRET || '';
const num = (name, def) => (__ENV[name] === undefined || __ENV[name] === '' ? def : Number(__ENV[name]));
const visaRatio = num('VISA_RATIO', 0.2); // share paying with tok_visa (the rest: tok_processing + callback)
const refundRatio = num('REFUND_RATIO', 0.2); // share of paid orders refunding one ticket
const duplicateRatio = num('DUPLICATE_RATIO', 0.1); // share of callbacks delivered twice
const tierCount = num('TIERS', 3); // tiers of the event setup creates
const capacity = num('CAPACITY', 10000); // tickets per tier of that event
const payMaxWait = num('PAY_MAX_WAIT', 10); // seconds an order may take to read back paid

// MaxOrderLines is the server's limit of lines per order.
const maxOrderLines = 20;

const flow = [routes.order, routes.pay, routes.webhook, routes.getOrder, routes.refund];
export const options = baseOptions({ checkout: spike() }, Object.assign(routeThresholds(flow), {
  paid_orders_missing: ['count<1'],
  // Shown per payment method (a Trend takes no count threshold).
  'pay_wait{method:tok_visa}': ['max>=0'],
  'pay_wait{method:tok_processing}': ['max>=0'],
}), [
  'checkouts{outcome:paid}',
  'checkouts{outcome:refunded}',
  'checkouts{outcome:sold_out}',
  'checkouts{outcome:limit_exceeded}',
  'checkouts{outcome:not_paid}',
  'checkouts{outcome:gave_up}',
  'checkouts{outcome:no_token}',
  'checkouts{outcome:error}',
]);
// Teardown reads one order list per buyer.
options.teardownTimeout = __ENV.TEARDOWN_TIMEOUT || '120s';

// checkouts counts buyers by how their checkout ended.
const checkouts = new Counter('checkouts');
// payWait is the time from starting the payment to reading the order paid.
const payWait = new Trend('pay_wait', true);
// paidOrdersMissing is +1 for every order a VU saw paid and −1 for every
// such order teardown finds still paid with its lines: above zero, an
// order the run saw paid is gone or changed.
const paidOrdersMissing = new Counter('paid_orders_missing');

const isOrder = (b) => typeof b.id === 'string' && typeof b.status === 'string' && Array.isArray(b.lines) && b.total && typeof b.total.amount === 'number';
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// unit returns a deterministic number in [0, 1) for iteration n and salt,
// so that teardown can recompute what each iteration did.
function unit(n, salt) {
  let h = Math.imul(n ^ salt, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

// plan is what iteration n buys: one line per tier (1 or 2 tickets each,
// within the event's per-user limit), how it pays and whether it refunds
// one ticket of its last line. The first line names its people
// "k6 <run> <n> <j>", which is how teardown recognises the iteration.
function plan(data, n) {
  let lines = data.tiers.map((t, k) => ({ tier_id: t.id, quantity: 1 + ((n + k) % 2), unit: t.price.amount }));
  if (lines.reduce((s, l) => s + l.quantity, 0) > data.maxPerUser) {
    lines = lines.slice(0, Math.max(1, data.maxPerUser)).map((l) => Object.assign(l, { quantity: 1 }));
  }
  return { lines, visa: unit(n, 0x1234567) < visaRatio, refund: unit(n, 0x7654321) < refundRatio };
}

function attendeeName(data, n, j) {
  return `k6 ${data.run} ${n} ${j}`;
}

// createCheckoutEvent creates an event on sale now with tierCount tiers of
// capacity tickets at different prices (admin only).
function createCheckoutEvent(admin) {
  const now = Date.now();
  const tiers = [];
  for (let k = 0; k < tierCount; k++) {
    tiers.push({ name: `Tier ${k + 1}`, price: { amount: 2500 * (k + 1), currency: 'USD' }, capacity });
  }
  const body = {
    title: `k6 checkout ${iso(now)}`,
    venue: 'k6 arena',
    starts_at: iso(now + 30 * 86400e3),
    sales_start_at: iso(now - 60e3),
    sales_end_at: iso(now + 86400e3),
    max_tickets_per_user: 100,
    hold_seconds: 600,
    tiers,
  };
  if (__ENV.CREATE_EVENT_QUEUE) body.queue = { enabled: true, admit_per_minute: 60000 };
  const res = http.post(`${cfg.baseURL}/api/v1/events`, JSON.stringify(body), jsonParams(routes.createEvent, admin));
  const r = classify(res, routes.createEvent, 201, (b) => typeof b.id === 'string' && Array.isArray(b.tiers), []);
  if (r.kind !== 'ok') throw new Error(`creating the event failed: ${res.status} ${res.body}`);
  return r.body;
}

export function setup() {
  if (!secret) throw new Error('set TEST_PAYMENTS_SECRET to the server\'s BOXOFFICE_TEST_PAYMENTS_SECRET (the server runs with BOXOFFICE_PAYMENTS=test)');
  if (tierCount < 1 || tierCount > maxOrderLines) throw new Error(`TIERS must be 1..${maxOrderLines}`);
  const admin = adminToken();
  if (!admin) throw new Error('checkout.js needs ADMIN_EMAIL and ADMIN_PASSWORD: teardown checks the sales view');
  let eventID = cfg.eventID;
  const created = !!__ENV.CREATE_EVENT || !eventID;
  if (created) eventID = createCheckoutEvent(admin).id;
  const r = getEvent(eventID);
  if (r.kind !== 'ok') throw new Error(`GET /api/v1/events/${eventID} failed`);
  const tiers = r.body.tiers.slice(0, maxOrderLines).map((t) => ({ id: t.id, price: t.price }));
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  return {
    eventID, tiers, created, run, admin,
    queue: !!(r.body.queue && r.body.queue.enabled),
    maxPerUser: r.body.max_tickets_per_user,
  };
}

// linesMatch reports whether an order's lines are exactly the plan's: the
// same tiers in order, quantities, unit prices and amounts, the first
// line's people, and refunded tickets as allowed (refunded(k) returns the
// allowed counts of line k).
function linesMatch(o, p, data, n, refunded) {
  if (o.lines.length !== p.lines.length) return false;
  return p.lines.every((want, k) => {
    const got = o.lines[k];
    const people = k === 0 ? got.attendees.map((a) => a.name).join('|') === Array.from({ length: want.quantity }, (_, j) => attendeeName(data, n, j)).join('|') : true;
    return got.tier_id === want.tier_id && got.quantity === want.quantity && got.unit_price.amount === want.unit &&
      got.amount.amount === want.unit * want.quantity && people && refunded(k).includes(got.refunded);
  });
}

// moneyMatches reports whether an order's total and refunded money follow
// from its lines.
function moneyMatches(o) {
  const total = o.lines.reduce((s, l) => s + l.amount.amount, 0);
  const back = o.lines.reduce((s, l) => s + l.unit_price.amount * l.refunded, 0);
  return o.total.amount === total && o.refunded.amount === back;
}

function createOrder(auth, data, p, n, admission) {
  const headers = { 'Idempotency-Key': `k6-${data.run}-${n}` };
  if (admission) headers['Admission-Token'] = admission;
  const body = {
    lines: p.lines.map((l, k) => {
      const line = { tier_id: l.tier_id, quantity: l.quantity };
      if (k === 0) line.attendees = Array.from({ length: l.quantity }, (_, j) => ({ name: attendeeName(data, n, j) }));
      return line;
    }),
  };
  const res = http.post(`${cfg.baseURL}/api/v1/events/${data.eventID}/orders`, JSON.stringify(body),
    jsonParams(routes.order, auth, headers, expect(409)));
  return classify(res, routes.order, 201, (b) => isOrder(b) && b.status === 'pending', ['409:sold_out', '409:limit_exceeded']);
}

function getOrder(auth, id) {
  const res = http.get(`${cfg.baseURL}/api/v1/orders/${id}`, params(routes.getOrder, auth));
  return classify(res, routes.getOrder, 200, isOrder, []);
}

function startPayment(auth, id, token, want) {
  const res = http.post(`${cfg.baseURL}/api/v1/orders/${id}/payments`, JSON.stringify({ payment_token: token }),
    jsonParams(routes.pay, auth));
  return classify(res, routes.pay, 201, (b) => typeof b.id === 'string' && b.provider === 'test' && b.status === want, []);
}

// deliverCallback posts the test provider's signed callback that payment
// paymentID succeeded: HMAC-SHA256 (hex) of the body with the webhook secret
// in Boxoffice-Test-Signature.
function deliverCallback(eventID, paymentID) {
  const body = JSON.stringify({
    id: eventID, type: 'payment', created: iso(Date.now()), payment_id: paymentID, status: 'succeeded', ref: `test_${paymentID}`,
  });
  const res = http.post(`${cfg.baseURL}/api/v1/payments/webhooks/test`, body, {
    headers: { 'Content-Type': 'application/json', 'Boxoffice-Test-Signature': crypto.hmac('sha256', secret, body, 'hex') },
    tags: { name: routes.webhook },
  });
  return classify(res, routes.webhook, 200, (b) => b.received === true, []);
}

// waitPaid reads the order until it is paid, for at most payMaxWait
// seconds; it returns the order, or null.
function waitPaid(auth, id) {
  const deadline = Date.now() + payMaxWait * 1000;
  for (;;) {
    const r = getOrder(auth, id);
    if (r.kind !== 'ok') return null;
    if (r.body.status === 'paid') return r.body;
    if (r.body.status !== 'pending' || Date.now() > deadline) {
      console.warn(`order ${id} is ${r.body.status}, payment ${JSON.stringify(r.body.payment)}`);
      return null;
    }
    sleep(0.2);
  }
}

export default function (data) {
  const end = (outcome) => checkouts.add(1, { outcome });
  const n = exec.scenario.iterationInTest;
  const auth = userToken(cfg.userOffset + (n % cfg.users));
  if (!auth) return end('no_token');
  let admission = '';
  if (data.queue) {
    const a = admit(auth, data.eventID);
    if (a.status !== 'admitted') return end(a.status);
    admission = a.token;
  }
  const p = plan(data, n);
  const o = createOrder(auth, data, p, n, admission);
  if (o.kind !== 'ok') return end(o.kind === 'expected' ? o.code : 'error');
  const id = o.body.id;
  const none = () => [0];
  check(o.body, { 'order: held with its lines and total': (b) => linesMatch(b, p, data, n, none) && moneyMatches(b) });

  const method = p.visa ? 'tok_visa' : 'tok_processing';
  const t0 = Date.now();
  const pay = startPayment(auth, id, method, p.visa ? 'succeeded' : 'processing');
  if (pay.kind !== 'ok') return end('error');
  if (!p.visa) {
    const evt = `evt_k6_${data.run}_${n}`;
    if (deliverCallback(evt, pay.body.id).kind !== 'ok') return end('error');
    // The same callback again (a provider redelivers): applied once.
    if (Math.random() < duplicateRatio && deliverCallback(evt, pay.body.id).kind !== 'ok') return end('error');
  }
  const paid = waitPaid(auth, id);
  if (!paid) {
    check(null, { 'order: paid after its payment succeeded': () => false });
    return end('not_paid');
  }
  payWait.add(Date.now() - t0, { method });
  const intact = check(paid, {
    'order: paid after its payment succeeded': (b) => b.payment && b.payment.status === 'succeeded' && b.paid_at !== null,
    'order: paid with its lines and total': (b) => linesMatch(b, p, data, n, none) && moneyMatches(b),
  });
  if (intact) paidOrdersMissing.add(1);
  if (!p.refund) return end('paid');

  // Refund one ticket of the last line.
  const last = p.lines[p.lines.length - 1];
  const res = http.post(`${cfg.baseURL}/api/v1/orders/${id}/refunds`,
    JSON.stringify({ lines: [{ tier_id: last.tier_id, quantity: 1 }], reason: 'k6 checkout' }), jsonParams(routes.refund, auth));
  const rf = classify(res, routes.refund, 201, (b) => typeof b.id === 'string' && b.order_id === id && ['pending', 'succeeded'].includes(b.status), []);
  if (rf.kind !== 'ok') return end('error');
  check(rf.body, { 'refund: one ticket of the last line': (b) => b.amount.amount === last.unit && b.lines.length === 1 && b.lines[0].quantity === 1 });
  const after = getOrder(auth, id);
  if (after.kind !== 'ok') return end('error');
  const lastK = p.lines.length - 1;
  const wantStatus = p.lines.reduce((s, l) => s + l.quantity, 0) === 1 ? 'refunded' : 'partially_refunded';
  check(after.body, {
    'refund: the order keeps its other tickets': (b) => b.status === wantStatus && linesMatch(b, p, data, n, (k) => (k === lastK ? [1] : [0])) && moneyMatches(b),
  });
  end('refunded');
}

// buyerOrders returns the orders on the event of buyers first … first+count−1,
// reading their order lists (a batch of requests at a time, then further
// pages one by one).
function buyerOrders(data, first, count) {
  const out = [];
  const batch = 50;
  for (let b = 0; b < count; b += batch) {
    const users = [];
    for (let i = first + b; i < first + Math.min(count, b + batch); i++) users.push(i);
    const reqs = users.map((i) => ['GET', `${cfg.baseURL}/api/v1/users/me/orders?limit=100`, null, params(routes.myOrders, userToken(i))]);
    const answers = http.batch(reqs);
    answers.forEach((res, k) => {
      let r = classify(res, routes.myOrders, 200, (x) => Array.isArray(x.items), []);
      for (let page = 0; r.kind === 'ok'; page++) {
        for (const o of r.body.items) if (o.event_id === data.eventID) out.push(Object.assign(o, { buyer: users[k] }));
        if (!r.body.next_cursor || page > 100) break;
        const next = http.get(`${cfg.baseURL}/api/v1/users/me/orders?limit=100&cursor=${encodeURIComponent(r.body.next_cursor)}`, params(routes.myOrders, userToken(users[k])));
        r = classify(next, routes.myOrders, 200, (x) => Array.isArray(x.items), []);
      }
      if (r.kind !== 'ok') violation(`the orders of buyer ${users[k]} could not be read`);
    });
  }
  return out;
}

function violation(msg, extra) {
  invariantViolations.add(1);
  console.error(`checkout invariant broken: ${msg}${extra === undefined ? '' : ` ${JSON.stringify(extra)}`}`);
}

export function teardown(data) {
  const sales = checkInventory(data); // held + confirmed + available = capacity per tier
  if (!sales) return violation('the sales view could not be read');
  for (const r of sales.revenue || []) {
    const ok = r.orders === r.paid - r.refunded;
    check(r, { 'revenue: orders = paid − refunded': () => ok });
    if (!ok) violation('revenue.orders != paid − refunded', r);
  }

  // The buyers of the run: iteration n bought as user USER_OFFSET + n % USERS
  // (teardown cannot know how many iterations ran, so it reads them all).
  const buyers = cfg.users;
  const orders = buyerOrders(data, cfg.userOffset, buyers);
  const keeps = ['paid', 'partially_refunded', 'refunded'];
  const tickets = {};
  const held = {};
  let kept = 0;
  let found = 0;
  for (const o of orders) {
    for (const l of o.lines) {
      if (keeps.includes(o.status)) tickets[l.tier_id] = (tickets[l.tier_id] || 0) + l.quantity - l.refunded;
      if (o.status === 'pending') held[l.tier_id] = (held[l.tier_id] || 0) + l.quantity;
    }
    if (keeps.includes(o.status)) kept += o.total.amount - o.refunded.amount;
    // Order lists may leave the payment out: an order not paid is read
    // whole, to see whether its payment succeeded all the same.
    let payment = o.payment;
    if (!keeps.includes(o.status) && !payment) {
      const r = getOrder(userToken(o.buyer), o.id);
      payment = r.kind === 'ok' ? r.body.payment : null;
    }
    const succeeded = keeps.includes(o.status) || (payment && payment.status === 'succeeded');
    const m = o.lines.length && o.lines[0].attendees.length ? /^k6 (\S+) (\d+) 0$/.exec(o.lines[0].attendees[0].name) : null;
    if (!m || m[1] !== data.run) {
      if (data.created) violation(`order ${o.id} on the run's event is not one of the run's`, o);
      continue;
    }
    if (!succeeded) continue; // the iteration did not get as far as paying
    const n = Number(m[2]);
    const p = plan(data, n);
    const lastK = p.lines.length - 1;
    const ok = keeps.includes(o.status) && o.paid_at !== null && (!payment || payment.status === 'succeeded') &&
      linesMatch(o, p, data, n, (k) => (k === lastK && p.refund ? [0, 1] : [0])) && moneyMatches(o) &&
      (o.status === 'paid') === (o.refunded.amount === 0);
    check(o, { 'teardown: a paid order is still paid with its lines': () => ok });
    if (ok) {
      found++;
      paidOrdersMissing.add(-1);
    } else {
      violation(`order ${o.id} of iteration ${n} paid but not as ordered`, o);
    }
  }
  console.log(`checkout: ${buyers} buyers, ${orders.length} orders on the event, ${found} paid with their lines`);

  if (!data.created) return; // others may have bought from the event too
  for (const t of sales.tiers) {
    const ok = t.confirmed === (tickets[t.tier_id] || 0) && t.held === (held[t.tier_id] || 0);
    check(t, { 'teardown: confirmed and held tickets are exactly the orders\'': () => ok });
    if (!ok) violation(`tier ${t.tier_id}: paid orders hold ${tickets[t.tier_id] || 0} tickets and pending ones ${held[t.tier_id] || 0}`, t);
  }
  const orderMoney = (sales.revenue || []).reduce((s, r) => s + r.orders, 0);
  check(null, { 'teardown: revenue.orders = what the paid orders kept': () => orderMoney === kept });
  if (orderMoney !== kept) violation(`revenue.orders is ${orderMoney}, the paid orders kept ${kept}`, sales.revenue);
}
