// onsale.js: the re-created system's spike, one seeded user per iteration:
// browse PAGES pages of events (keyset cursors), open the hot event, join its
// waiting room (POST /api/v1/events/{id}/queue), poll GET …/queue until
// admitted (taking its admission_token) or sold_out, hold QUANTITY tickets
// with the Admission-Token and an Idempotency-Key, and confirm the hold with a
// test payment token (CONFIRM_RATIO of them; the rest stay held).
//
// Expected, counted apart and never as successes: queue sold_out, hold 409
// sold_out / limit_exceeded. A user still waiting after QUEUE_MAX_WAIT s
// leaves the queue (queue_outcome{outcome:gave_up}). Events without a
// waiting room are bought from directly.
//
//   k6 run -e EVENT_ID=... -e TIER_ID=... -e JWT_SECRET=... -e USERS=20000 \
//          -e VUS=500 -e RAMP=10s -e DURATION=30s loadtest/k6/onsale.js
//
// With ADMIN_EMAIL/ADMIN_PASSWORD, teardown checks the inventory invariant.
import { Counter } from 'k6/metrics';
import { cfg, baseOptions, spike, routes, routeThresholds, hotEvent, browse, getEvent, userIndex, userToken, admit, hold, confirm, idempotencyKey, checkInventory } from './lib.js';

const flow = [routes.list, routes.event, routes.join, routes.poll, routes.hold, routes.confirm];
export const options = baseOptions({ onsale: spike() }, routeThresholds(flow), [
  'journeys{outcome:confirmed}',
  'journeys{outcome:held}',
  'journeys{outcome:sold_out}',
  'journeys{outcome:limit_exceeded}',
  'journeys{outcome:gave_up}',
  'journeys{outcome:expired}',
  'journeys{outcome:no_token}',
  'journeys{outcome:error}',
]);

// journeys counts users by how their visit ended.
const journeys = new Counter('journeys');

export function setup() {
  return hotEvent();
}

export default function (data) {
  const end = (outcome) => journeys.add(1, { outcome });
  browse('');
  if (getEvent(data.eventID).kind !== 'ok') return end('error');
  const auth = userToken(userIndex());
  if (!auth) return end('no_token'); // sign-in shed (TOKENS=signin) or failed
  let admission = '';
  if (data.queue) {
    const a = admit(auth, data.eventID);
    if (a.status !== 'admitted') return end(a.status);
    admission = a.token;
  }
  const h = hold(auth, data.eventID, data.tierID, cfg.quantity, idempotencyKey(), admission);
  if (h.kind !== 'ok') return end(h.kind === 'expected' ? h.code : 'error');
  if (Math.random() >= cfg.confirmRatio) return end('held');
  const c = confirm(auth, h.body.id);
  end(c.kind === 'ok' ? 'confirmed' : 'error');
}

export function teardown(data) {
  checkInventory(data);
}
