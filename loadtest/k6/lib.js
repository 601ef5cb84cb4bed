// lib.js is the shared part of boxoffice's k6 scripts: configuration from
// __ENV, seeded-user ids and locally minted access tokens, the API calls the
// scenarios make, and the classification of every answer into ok, expected
// refusal or unexpected (the re-created system counted every 4xx as a
// success; these scripts never do).
//
// Only k6 v1 built-in modules are used, so the scripts run on a stock k6.

import http from 'k6/http';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

// ---------------------------------------------------------------------------
// Configuration.

function envInt(name, def) {
  const v = __ENV[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

function envStr(name, def) {
  const v = __ENV[name];
  return v === undefined || v === '' ? def : v;
}

// cfg is the run's configuration; every field comes from an environment
// variable of the same upper-case name (k6 run -e NAME=value or the shell).
export const cfg = {
  baseURL: envStr('BASE_URL', 'http://127.0.0.1:8080').replace(/\/+$/, ''),
  eventID: envStr('EVENT_ID', ''),
  tierID: envStr('TIER_ID', ''),
  users: envInt('USERS', 1000),
  userOffset: envInt('USER_OFFSET', 0),
  password: envStr('PASSWORD', 'password123'),
  jwtSecret: envStr('JWT_SECRET', ''),
  // TOKENS: "mint" (needs JWT_SECRET; the default when it is set) or
  // "signin" (a real POST /api/v1/auth/token per user, once per VU).
  tokens: envStr('TOKENS', envStr('JWT_SECRET', '') ? 'mint' : 'signin'),
  tokenTTL: envInt('TOKEN_TTL', 3600),
  adminEmail: envStr('ADMIN_EMAIL', ''),
  adminPassword: envStr('ADMIN_PASSWORD', ''),
  vus: envInt('VUS', 20),
  duration: envStr('DURATION', '30s'),
  ramp: envStr('RAMP', '5s'),
  pages: envInt('PAGES', 3),
  limit: envInt('LIMIT', 20),
  think: envInt('THINK', 0.5), // seconds between a user's page views
  pollInterval: envInt('POLL_INTERVAL', 1), // seconds between queue polls
  queueMaxWait: envInt('QUEUE_MAX_WAIT', 60), // seconds a user waits for admission
  quantity: envInt('QUANTITY', 1),
  confirmRatio: envInt('CONFIRM_RATIO', 1), // share of holds that are confirmed
  p95: envInt('P95_MS', 300),
  maxUnexpected: envInt('MAX_UNEXPECTED', 0.01),
  insecure: envStr('INSECURE', '') !== '',
};

// ---------------------------------------------------------------------------
// Metrics and classification.

// unexpected is the share of answers that are neither a success nor a refusal
// the contract allows in the scenario: any other non-2xx, a 2xx with a body
// that is not the documented JSON, a problem without a code, a transport error.
export const unexpected = new Rate('unexpected');
// expectedRefusals counts the refusals a scenario expects (tagged with the
// problem code): sold_out, limit_exceeded, not_admitted while waiting,
// rate_limited sign-in sheds, ... They are neither successes nor failures.
export const expectedRefusals = new Counter('expected_refusals');
// okAnswers counts successes per route (name tag).
export const okAnswers = new Counter('ok_answers');
// unexpectedAnswers counts unexpected answers, tagged with route and code, so
// the end-of-test summary says what went wrong.
export const unexpectedAnswers = new Counter('unexpected_answers');
// invariantViolations counts inventory invariants found broken by an admin
// check of GET /api/v1/events/{id}/sales (held + confirmed + available =
// capacity for every tier).
export const invariantViolations = new Counter('invariant_violations');

// The answers that are not 2xx are never "successes": http_req_failed counts
// every status outside 2xx unless a request passes its own responseCallback
// listing the refusals its route expects (see expect()).
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }));

const callbacks = {};

// expect returns a responseCallback accepting 2xx and the given statuses, so
// that http_req_failed measures the server's failures, not the scenario's
// expected refusals (whose problem codes are still checked by classify).
export function expect(...statuses) {
  const key = statuses.join(',');
  if (!callbacks[key]) callbacks[key] = http.expectedStatuses({ min: 200, max: 299 }, ...statuses);
  return callbacks[key];
}

// thresholds returns the thresholds every script shares: the seed's p95 and
// error-rate limits, but on answers classified properly.
export function thresholds(extra) {
  return Object.assign(
    {
      http_req_duration: [`p(95)<${cfg.p95}`],
      http_req_failed: [`rate<${cfg.maxUnexpected}`],
      unexpected: [`rate<${cfg.maxUnexpected}`],
      invariant_violations: ['count<1'],
    },
    extra || {},
  );
}

// routeThresholds holds every named route to the p95 limit on its own, so a
// slow route cannot hide behind many fast ones (and the summary shows each).
export function routeThresholds(names) {
  const t = {};
  for (const n of names) t[`http_req_duration{name:${n}}`] = [`p(95)<${cfg.p95}`];
  return t;
}

// problemCode returns the code of a problem+json answer, or '' when the body
// is not one.
export function problemCode(res) {
  const ct = (res.headers['Content-Type'] || '').toLowerCase();
  if (!ct.startsWith('application/problem+json')) return '';
  try {
    const p = JSON.parse(res.body);
    return typeof p.code === 'string' ? p.code : '';
  } catch (e) {
    return '';
  }
}

// json parses a 2xx answer's body, or returns null when it is not JSON.
function json(res) {
  const ct = (res.headers['Content-Type'] || '').toLowerCase();
  if (!ct.startsWith('application/json')) return null;
  try {
    return JSON.parse(res.body);
  } catch (e) {
    return null;
  }
}

// classify sorts an answer into one of three kinds and records it:
//
//   ok          the status is okStatus and the body passes valid(body)
//               (a parsed JSON object, or null when the answer has no body);
//   expected    a problem whose "status:code" is listed in refusals — a
//               refusal the scenario expects, counted in expected_refusals;
//   unexpected  everything else: other statuses or codes, bad JSON, a
//               problem without a code, transport errors (status 0).
//
// It returns {kind, code, body}. As the contract requires, every answer must
// carry X-Request-Id, and a 429 is an expected refusal only with Retry-After.
export function classify(res, route, okStatus, valid, refusals) {
  const tags = { name: route };
  if (res.status !== 0 && !res.headers['X-Request-Id']) return bad(res, route, 'no_request_id');
  if (res.status === okStatus) {
    let body = null;
    if (res.status !== 204) body = json(res);
    const good = valid ? body !== null && valid(body) : true;
    if (good) {
      unexpected.add(false, tags);
      okAnswers.add(1, tags);
      return { kind: 'ok', code: '', body };
    }
    return bad(res, route, 'bad_body');
  }
  const code = problemCode(res);
  const key = `${res.status}:${code}`;
  if (code && refusals && refusals.includes(key)) {
    if (res.status === 429 && !res.headers['Retry-After']) return bad(res, route, 'no_retry_after');
    unexpected.add(false, tags);
    expectedRefusals.add(1, { name: route, code });
    return { kind: 'expected', code, body: null };
  }
  return bad(res, route, code || (res.status === 0 ? `transport:${res.error_code}` : `status_${res.status}`));
}

const reported = {};

function bad(res, route, code) {
  const tags = { name: route };
  unexpected.add(true, tags);
  unexpectedAnswers.add(1, { name: route, code, status: String(res.status) });
  // Say what went wrong, once per route and code per VU, without flooding.
  const k = `${route} ${res.status} ${code}`;
  if (!reported[k]) {
    reported[k] = true;
    console.warn(`unexpected answer: ${k}: ${String(res.body || res.error).slice(0, 300)}`);
  }
  return { kind: 'unexpected', code, body: null };
}

// ---------------------------------------------------------------------------
// Seeded users and tokens.

// crockford is boxoffice's ID alphabet (Crockford base32).
const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

// encodeID writes 16 bytes as boxoffice writes IDs: 26 Crockford base32
// characters of the 128-bit big-endian number (the first carries 3 bits).
export function encodeID(raw) {
  let out = '';
  for (let c = 0; c < 26; c++) {
    // Character c holds bits [5c-2, 5c+3) of the 128, counted from the most
    // significant; the two bits before the first do not exist (zero).
    let v = 0;
    for (let b = c * 5 - 2; b < c * 5 + 3; b++) {
      v <<= 1;
      if (b >= 0) v |= (raw[b >> 3] >> (7 - (b & 7))) & 1;
    }
    out += crockford[v];
  }
  return out;
}

// seedUserID returns boxoffice.SeedUserID(i): millisecond 1 (1<<16 in the
// first 8 bytes, big-endian) followed by i as a big-endian uint64.
export function seedUserID(i) {
  if (!Number.isSafeInteger(i) || i < 0) throw new Error(`seedUserID: bad index ${i}`);
  const raw = new Array(16).fill(0);
  raw[5] = 1; // 1<<16 as a big-endian uint64 in bytes 0..7
  let n = i;
  for (let b = 15; b >= 8 && n > 0; b--) {
    raw[b] = n % 256;
    n = Math.floor(n / 256);
  }
  return encodeID(raw);
}

// seedEmail returns boxoffice.SeedUserEmail(i).
export function seedEmail(i) {
  return `user${i}@seed.boxoffice.test`;
}

// jwtHeader is the encoded header internal/auth writes (and its verifier
// requires): {"alg":"HS256","typ":"JWT"}.
const jwtHeader = encoding.b64encode('{"alg":"HS256","typ":"JWT"}', 'rawurl');

// mintToken returns the access token internal/auth.Tokens.Issue would make
// for the user at time iat (Unix seconds) with the given lifetime: HS256 over
// {"role","iss":"boxoffice","sub","exp","iat"} in that order, byte for byte.
export function mintToken(secret, userID, role, iat, ttl) {
  const claims = `{"role":${JSON.stringify(role)},"iss":"boxoffice","sub":${JSON.stringify(userID)},"exp":${iat + ttl},"iat":${iat}}`;
  const signingInput = `${jwtHeader}.${encoding.b64encode(claims, 'rawurl')}`;
  return `${signingInput}.${crypto.hmac('sha256', secret, signingInput, 'base64rawurl')}`;
}

// userIndex returns the seeded user of the current iteration: each iteration
// of the whole test gets the next user, wrapping after USERS.
export function userIndex() {
  return cfg.userOffset + (exec.scenario.iterationInTest % cfg.users);
}

const tokenCache = {};

// userToken returns "Bearer …" for seeded user i: minted locally (TOKENS=mint)
// or from a real sign-in, once per VU and user (TOKENS=signin). It returns ''
// when the sign-in failed (already classified).
export function userToken(i) {
  if (tokenCache[i]) return tokenCache[i];
  let tok;
  if (cfg.tokens === 'mint') {
    if (!cfg.jwtSecret) throw new Error('TOKENS=mint needs JWT_SECRET (the server\'s BOXOFFICE_JWT_SECRET)');
    tok = mintToken(cfg.jwtSecret, seedUserID(i), 'user', Math.floor(Date.now() / 1000), cfg.tokenTTL);
  } else if (cfg.tokens === 'signin') {
    tok = signInRetrying(seedEmail(i), cfg.password);
    if (!tok) return '';
  } else {
    throw new Error(`TOKENS must be mint or signin, got ${cfg.tokens}`);
  }
  tokenCache[i] = `Bearer ${tok}`;
  return tokenCache[i];
}

export const signInRoute = 'POST /api/v1/auth/token';
// signinShed counts sign-ins the server shed with 429 + Retry-After (its
// bounded bcrypt pool was full): expected under a spike, kept apart.
export const signinShed = new Counter('signin_shed');

// signIn makes one POST /api/v1/auth/token and returns the classified result
// (kind "expected" is a 429 shed; result.retryAfter is its Retry-After).
export function signIn(email, password) {
  const res = http.post(`${cfg.baseURL}/api/v1/auth/token`, JSON.stringify({ email, password }), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: signInRoute },
    responseCallback: expect(429),
  });
  const r = classify(res, signInRoute, 200, (b) => typeof b.access_token === 'string' && b.token_type === 'Bearer' && b.expires_in > 0, ['429:rate_limited']);
  if (r.kind === 'expected') {
    signinShed.add(1);
    r.retryAfter = Number(res.headers['Retry-After']) || 1;
  }
  return r;
}

// signInRetrying signs in, waiting out 429 sheds (up to 5 tries), and
// returns the access token or ''.
export function signInRetrying(email, password) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = signIn(email, password);
    if (r.kind === 'ok') return r.body.access_token;
    if (r.kind !== 'expected') return '';
    sleep(r.retryAfter * (0.5 + Math.random()));
  }
  return '';
}

// adminToken signs the admin (ADMIN_EMAIL, ADMIN_PASSWORD) in; '' when none
// is configured.
export function adminToken() {
  if (!cfg.adminEmail) return '';
  const tok = signInRetrying(cfg.adminEmail, cfg.adminPassword);
  if (!tok) throw new Error(`could not sign the admin ${cfg.adminEmail} in`);
  return `Bearer ${tok}`;
}

// ---------------------------------------------------------------------------
// API calls. Each returns classify's result.

export function params(route, auth, extra) {
  const p = { tags: { name: route }, headers: {} };
  if (auth) p.headers.Authorization = auth;
  return Object.assign(p, extra || {});
}

export function jsonParams(route, auth, extraHeaders, cb) {
  const p = params(route, auth);
  p.headers['Content-Type'] = 'application/json';
  Object.assign(p.headers, extraHeaders || {});
  if (cb) p.responseCallback = cb;
  return p;
}

const isList = (b) => Array.isArray(b.items) && (b.next_cursor === null || typeof b.next_cursor === 'string');
const isEvent = (b) => typeof b.id === 'string' && Array.isArray(b.tiers) && typeof b.available === 'number';
const isQueueStatus = (b) => ['waiting', 'admitted', 'sold_out', 'expired'].includes(b.status) && (b.status !== 'admitted' || typeof b.admission_token === 'string');
const isReservation = (status) => (b) => typeof b.id === 'string' && b.status === status;

export const routes = {
  list: 'GET /api/v1/events',
  event: 'GET /api/v1/events/{id}',
  join: 'POST /api/v1/events/{id}/queue',
  poll: 'GET /api/v1/events/{id}/queue',
  leave: 'DELETE /api/v1/events/{id}/queue',
  hold: 'POST /api/v1/events/{id}/reservations',
  confirm: 'POST /api/v1/reservations/{id}/confirm',
  sales: 'GET /api/v1/events/{id}/sales',
  createEvent: 'POST /api/v1/events',
  order: 'POST /api/v1/events/{id}/orders',
  getOrder: 'GET /api/v1/orders/{id}',
  myOrders: 'GET /api/v1/users/me/orders',
  pay: 'POST /api/v1/orders/{id}/payments',
  refund: 'POST /api/v1/orders/{id}/refunds',
  webhook: 'POST /api/v1/payments/webhooks/{provider}',
};

// listEvents fetches one page of GET /api/v1/events (cursor may be null).
export function listEvents(cursor, query) {
  let url = `${cfg.baseURL}/api/v1/events?limit=${cfg.limit}`;
  if (cursor) url += `&cursor=${encodeURIComponent(cursor)}`;
  if (query) url += `&${query}`;
  return classify(http.get(url, params(routes.list)), routes.list, 200, isList, []);
}

// getEvent fetches GET /api/v1/events/{id}.
export function getEvent(id) {
  return classify(http.get(`${cfg.baseURL}/api/v1/events/${id}`, params(routes.event)), routes.event, 200, isEvent, []);
}

// browse views PAGES pages of the events list, following next_cursor, then
// one of the events seen; it returns that event's id (or '').
export function browse(query) {
  let cursor = null;
  let seen = [];
  for (let p = 0; p < cfg.pages; p++) {
    const r = listEvents(cursor, query);
    if (r.kind !== 'ok') return '';
    seen = r.body.items.map((e) => e.id);
    cursor = r.body.next_cursor;
    if (cfg.think > 0) sleep(cfg.think * (0.5 + Math.random()));
    if (!cursor) break;
  }
  if (seen.length === 0) return '';
  const id = seen[Math.floor(Math.random() * seen.length)];
  getEvent(id);
  return id;
}

// queueJoin joins the event's waiting room.
export function queueJoin(auth, eventID) {
  const res = http.post(`${cfg.baseURL}/api/v1/events/${eventID}/queue`, null, params(routes.join, auth));
  return classify(res, routes.join, 200, isQueueStatus, []);
}

// queuePoll reads the caller's queue status.
export function queuePoll(auth, eventID) {
  const res = http.get(`${cfg.baseURL}/api/v1/events/${eventID}/queue`, params(routes.poll, auth));
  return classify(res, routes.poll, 200, isQueueStatus, []);
}

// queueLeave leaves the event's waiting room.
export function queueLeave(auth, eventID) {
  const res = http.del(`${cfg.baseURL}/api/v1/events/${eventID}/queue`, null, params(routes.leave, auth));
  return classify(res, routes.leave, 204, null, []);
}

// queueOutcome counts how each user's wait ended (tag outcome: admitted,
// sold_out, expired, gave_up, error); queueWait is how long it took.
export const queueOutcome = new Counter('queue_outcome');
export const queueWait = new Trend('queue_wait', true);

// admit joins the waiting room and polls until admitted, sold out, expired or
// QUEUE_MAX_WAIT; it returns {status, token}. A user still waiting at the
// deadline leaves the queue (status "gave_up"). Waiting itself is neither a
// success nor a failure: each poll that answers "waiting" is ok.
export function admit(auth, eventID) {
  const start = Date.now();
  let r = queueJoin(auth, eventID);
  while (r.kind === 'ok' && r.body.status === 'waiting') {
    if (Date.now() - start > cfg.queueMaxWait * 1000) {
      queueLeave(auth, eventID);
      queueOutcome.add(1, { outcome: 'gave_up' });
      return { status: 'gave_up', token: '' };
    }
    // Poll at the configured pace, sooner when the server expects admission
    // sooner, with jitter so VUs do not poll in lockstep.
    const eta = Number(r.body.eta_seconds) || 0;
    sleep(Math.max(0.2, Math.min(cfg.pollInterval, eta)) * (0.75 + Math.random() / 2));
    r = queuePoll(auth, eventID);
  }
  if (r.kind !== 'ok') {
    queueOutcome.add(1, { outcome: 'error' });
    return { status: 'error', token: '' };
  }
  queueOutcome.add(1, { outcome: r.body.status });
  queueWait.add(Date.now() - start, { outcome: r.body.status });
  if (r.body.status === 'sold_out' || r.body.status === 'expired') {
    expectedRefusals.add(1, { name: routes.poll, code: `queue_${r.body.status}` });
  }
  return { status: r.body.status, token: r.body.admission_token || '' };
}

// holdRefusals are the refusals a hold may expect in an on-sale: the tier is
// sold out, or the user already has max_tickets_per_user.
export const holdRefusals = ['409:sold_out', '409:limit_exceeded'];

// hold places POST /api/v1/events/{id}/reservations for quantity tickets of
// the tier with an Idempotency-Key and, when given, an Admission-Token.
// extraRefusals adds expected refusals (e.g. '403:not_admitted' for a user
// still waiting).
export function hold(auth, eventID, tierID, quantity, idemKey, admissionToken, extraRefusals) {
  const headers = { 'Idempotency-Key': idemKey };
  if (admissionToken) headers['Admission-Token'] = admissionToken;
  const refusals = holdRefusals.concat(extraRefusals || []);
  const statuses = [...new Set(refusals.map((r) => Number(r.split(':')[0])))];
  const res = http.post(
    `${cfg.baseURL}/api/v1/events/${eventID}/reservations`,
    JSON.stringify({ tier_id: tierID, quantity }),
    jsonParams(routes.hold, auth, headers, expect(...statuses)),
  );
  return classify(res, routes.hold, 201, isReservation('held'), refusals);
}

// confirm pays for a held reservation with the test provider.
export function confirm(auth, reservationID) {
  const res = http.post(
    `${cfg.baseURL}/api/v1/reservations/${reservationID}/confirm`,
    JSON.stringify({ payment_token: 'tok_k6_visa' }),
    jsonParams(routes.confirm, auth),
  );
  return classify(res, routes.confirm, 200, isReservation('confirmed'), []);
}

// idempotencyKey returns a key unique to this test run, VU and iteration.
const runID = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
export function idempotencyKey() {
  return `k6-${runID}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
}

// ---------------------------------------------------------------------------
// Setup and teardown helpers.

// hotEvent resolves the event a scenario buys from: EVENT_ID and TIER_ID, or
// (with CREATE_EVENT=1 and an admin) a fresh event created for the run. It
// returns {eventID, tierID, queue, admin} for setup() to hand to the VUs.
export function hotEvent() {
  const admin = adminToken();
  let eventID = cfg.eventID;
  let tierID = cfg.tierID;
  if (envStr('CREATE_EVENT', '') !== '') {
    if (!admin) throw new Error('CREATE_EVENT needs ADMIN_EMAIL and ADMIN_PASSWORD');
    const ev = createEvent(admin, envInt('CAPACITY', 100), envStr('CREATE_EVENT_QUEUE', '') !== '');
    eventID = ev.id;
    tierID = ev.tiers[0].id;
  }
  if (!eventID) throw new Error('set EVENT_ID and TIER_ID (boxoffice seed prints hot_event_id= and hot_tier_id=), or CREATE_EVENT=1 with an admin');
  const r = getEvent(eventID);
  if (r.kind !== 'ok') throw new Error(`GET /api/v1/events/${eventID} failed`);
  if (!tierID) tierID = r.body.tiers[0].id;
  if (!r.body.tiers.some((t) => t.id === tierID)) throw new Error(`tier ${tierID} is not in event ${eventID}`);
  return { eventID, tierID, queue: !!(r.body.queue && r.body.queue.enabled), admin, maxPerUser: r.body.max_tickets_per_user };
}

// createEvent creates an event on sale now with one tier (admin only).
export function createEvent(admin, capacity, withQueue) {
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const body = {
    title: `k6 load test ${iso(now)}`,
    venue: 'k6 arena',
    starts_at: iso(now + 30 * 86400e3),
    sales_start_at: iso(now - 60e3),
    sales_end_at: iso(now + 86400e3),
    max_tickets_per_user: 4,
    hold_seconds: 600,
    tiers: [{ name: 'GA', price: { amount: 5000, currency: 'USD' }, capacity }],
  };
  if (withQueue) body.queue = { enabled: true, admit_per_minute: 60000 };
  const res = http.post(`${cfg.baseURL}/api/v1/events`, JSON.stringify(body), jsonParams(routes.createEvent, admin));
  const r = classify(res, routes.createEvent, 201, isEvent, []);
  if (r.kind !== 'ok') throw new Error(`creating the event failed: ${res.status} ${res.body}`);
  return r.body;
}

// checkInventory reads the event's sales as the admin (when there is one)
// and counts every tier where held + confirmed + available != capacity or
// held + confirmed > capacity as an invariant violation. It returns the sales
// document (or null).
export function checkInventory(data) {
  if (!data.admin) return null;
  const res = http.get(`${cfg.baseURL}/api/v1/events/${data.eventID}/sales`, params(routes.sales, data.admin));
  const r = classify(res, routes.sales, 200, (b) => Array.isArray(b.tiers), []);
  if (r.kind !== 'ok') return null;
  for (const t of r.body.tiers) {
    const okSum = t.held + t.confirmed + t.available === t.capacity;
    const okCap = t.held + t.confirmed <= t.capacity;
    check(t, { 'inventory: held + confirmed + available = capacity': () => okSum && okCap });
    if (!okSum || !okCap) {
      invariantViolations.add(1);
      console.error(`inventory invariant broken: ${JSON.stringify(t)}`);
    }
  }
  console.log(`sales of ${data.eventID}: ${JSON.stringify(r.body)}`);
  return r.body;
}

// spike returns ramping-vus stages: up to VUS in RAMP, DURATION at VUS, down.
export function spike() {
  return {
    executor: 'ramping-vus',
    startVUs: 0,
    stages: [
      { target: cfg.vus, duration: cfg.ramp },
      { target: cfg.vus, duration: cfg.duration },
      { target: 0, duration: '2s' },
    ],
    gracefulRampDown: '10s',
  };
}

// baseOptions are the options every script shares. report lists tagged
// submetrics (like 'expected_refusals{code:sold_out}') to show in the
// end-of-test summary; they get a threshold that always passes, since k6
// lists submetrics only when a threshold names them.
export function baseOptions(scenarios, extraThresholds, report) {
  const t = thresholds(extraThresholds);
  for (const m of report || []) t[m] = t[m] || ['count>=0'];
  return {
    scenarios,
    thresholds: t,
    insecureSkipTLSVerify: cfg.insecure,
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
    // Keep metrics small: URLs carry ids, the name tag does not.
    systemTags: ['status', 'method', 'name', 'scenario', 'expected_response', 'error_code', 'check'],
  };
}
