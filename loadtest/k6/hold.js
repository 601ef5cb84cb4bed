// hold.js: every VU holds 1 ticket (QUANTITY) on one hot tier, each iteration
// as the next seeded user, with an Idempotency-Key. 201 is a success; 409
// sold_out and limit_exceeded are expected refusals. Every successful hold is
// replayed once with the same key, which must answer the same reservation
// (never a second hold). If the event has a waiting room, each user first
// joins it and waits for admission (those calls are classified too) and holds
// with its Admission-Token.
//
//   k6 run -e EVENT_ID=... -e TIER_ID=... -e JWT_SECRET=... -e USERS=2000 -e VUS=100 loadtest/k6/hold.js
//   # or a fresh queue-less event made by the admin for this run:
//   k6 run -e CREATE_EVENT=1 -e CAPACITY=200 -e ADMIN_EMAIL=... -e ADMIN_PASSWORD=... ... loadtest/k6/hold.js
//
// With an admin configured, teardown checks the tier's inventory invariant.
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { cfg, baseOptions, spike, routeThresholds, hotEvent, userIndex, userToken, admit, hold, idempotencyKey, checkInventory, classify, routes, unexpected } from './lib.js';

export const options = baseOptions({ hold: spike() }, Object.assign({ replay_mismatch: ['count<1'] }, routeThresholds([routes.hold])), [
  'ok_answers{name:POST /api/v1/events/{id}/reservations}',
  'expected_refusals{code:sold_out}',
  'expected_refusals{code:limit_exceeded}',
]);

// replayMismatch counts replays (same Idempotency-Key) that did not answer the
// first reservation again.
const replayMismatch = new Counter('replay_mismatch');

export function setup() {
  return hotEvent();
}

export default function (data) {
  const auth = userToken(userIndex());
  if (!auth) return;
  let admission = '';
  if (data.queue) {
    const a = admit(auth, data.eventID);
    if (a.status !== 'admitted') return;
    admission = a.token;
  }
  const key = idempotencyKey();
  const r = hold(auth, data.eventID, data.tierID, cfg.quantity, key, admission);
  if (r.kind !== 'ok') return;
  // Replay: the first answer again, same reservation.
  const headers = { 'Content-Type': 'application/json', Authorization: auth, 'Idempotency-Key': key };
  if (admission) headers['Admission-Token'] = admission;
  const res = http.post(`${cfg.baseURL}/api/v1/events/${data.eventID}/reservations`, JSON.stringify({ tier_id: data.tierID, quantity: cfg.quantity }), {
    headers,
    tags: { name: `${routes.hold} (replay)` },
  });
  const again = classify(res, `${routes.hold} (replay)`, 201, (b) => typeof b.id === 'string', []);
  if (again.kind === 'ok' && again.body.id !== r.body.id) {
    replayMismatch.add(1);
    unexpected.add(true, { name: `${routes.hold} (replay)` });
    console.error(`replay of ${key} answered ${again.body.id}, first ${r.body.id}`);
  }
}

export function teardown(data) {
  checkInventory(data);
}
