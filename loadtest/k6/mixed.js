// mixed.js: the on-sale flow of onsale.js as a request mix at a constant
// arrival rate, measured as the re-created system measured itself: in
// requests per minute. Every iteration is exactly one request, so the
// constant-arrival-rate executor's rate IS the request rate.
//
// Each VU keeps a few user journeys in flight (browse PAGES list pages, open
// the hot event, join the queue, poll until admitted or sold out, hold,
// confirm); an iteration advances the first journey whose next step is due
// (think time and poll interval respected) or starts a new user. The mix of
// routes therefore follows the flow, like real users arriving steadily.
//
//   # one level:
//   k6 run -e RPM=6000 -e DURATION=1m -e EVENT_ID=... -e TIER_ID=... -e JWT_SECRET=... loadtest/k6/mixed.js
//   # the seed's levels, one after the other (default LEVELS=3000,6000,30000):
//   k6 run -e STAGE_DURATION=1m -e EVENT_ID=... ... loadtest/k6/mixed.js
//
// Each level is its own scenario (rpm_<n>) with its own p95 threshold.
// PRE_VUS and MAX_VUS override the VU pool (default: from the rate).
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { cfg, baseOptions, routeThresholds, hotEvent, listEvents, getEvent, userToken, queueJoin, queuePoll, queueLeave, hold, confirm, checkInventory, queueOutcome, expectedRefusals, routes } from './lib.js';

const levels = __ENV.RPM ? [Number(__ENV.RPM)] : (__ENV.LEVELS || '3000,6000,30000').split(',').map(Number);
const stageDuration = __ENV.RPM ? cfg.duration : __ENV.STAGE_DURATION || '1m';
const maxJourneys = Number(__ENV.MAX_JOURNEYS || 20);

function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

const scenarios = {};
const extra = {};
let startAt = 0;
let totalVUs = 0;
let planned = 0;
for (const rpm of levels) {
  if (!(rpm > 0)) throw new Error(`bad rate ${rpm}: set RPM or LEVELS in requests per minute`);
  const rps = rpm / 60;
  const maxVUs = Number(__ENV.MAX_VUS || Math.ceil(rps * 2) + 20);
  scenarios[`rpm_${rpm}`] = {
    executor: 'constant-arrival-rate',
    rate: rpm,
    timeUnit: '1m',
    duration: stageDuration,
    preAllocatedVUs: Number(__ENV.PRE_VUS || Math.min(maxVUs, Math.ceil(rps * 0.3) + 5)),
    maxVUs,
    startTime: `${startAt}s`,
    gracefulStop: '5s',
  };
  extra[`http_req_duration{scenario:rpm_${rpm}}`] = [`p(95)<${cfg.p95}`];
  startAt += seconds(stageDuration) + 5;
  totalVUs += maxVUs;
  planned += rps * seconds(stageDuration);
}
// The generator itself must keep up: iterations it could not start (no free
// VU) would hide the server's slowness.
extra.dropped_iterations = [`count<${Math.max(1, Math.ceil(planned * 0.01))}`];

Object.assign(extra, routeThresholds([routes.list, routes.event, routes.join, routes.poll, routes.hold, routes.confirm]));

export const options = baseOptions(scenarios, extra, [
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

// In-flight journeys of this VU.
const inFlight = [];
let started = 0;

function newJourney() {
  // Users are disjoint across VUs: VU v takes v-1, v-1+N, v-1+2N, ...
  const user = cfg.userOffset + ((exec.vu.idInTest - 1 + started * totalVUs) % cfg.users);
  started++;
  return { user, step: 'list', page: 0, cursor: null, due: 0, since: 0, admission: '', reservation: '', key: '' };
}

function finish(j, outcome) {
  journeys.add(1, { outcome });
  inFlight.splice(inFlight.indexOf(j), 1);
}

function pick() {
  const now = Date.now();
  let earliest = null;
  for (const j of inFlight) {
    if (j.due <= now) return j;
    if (!earliest || j.due < earliest.due) earliest = j;
  }
  if (inFlight.length < maxJourneys) {
    const j = newJourney();
    inFlight.push(j);
    return j;
  }
  return earliest; // all busy: advance the one due first, a little early
}

const later = (s) => Date.now() + s * 1000 * (0.5 + Math.random());

// step makes the journey's next request and moves it on.
function step(data, j) {
  switch (j.step) {
    case 'list': {
      const r = listEvents(j.cursor, '');
      if (r.kind !== 'ok') return finish(j, 'error');
      j.cursor = r.body.next_cursor;
      j.page++;
      if (j.page >= cfg.pages || !j.cursor) j.step = 'detail';
      j.due = later(cfg.think);
      return;
    }
    case 'detail': {
      if (getEvent(data.eventID).kind !== 'ok') return finish(j, 'error');
      j.step = data.queue ? 'join' : 'hold';
      j.due = later(cfg.think);
      return;
    }
    case 'join':
    case 'poll': {
      const auth = userToken(j.user);
      if (!auth) return finish(j, 'no_token'); // sign-in shed (TOKENS=signin) or failed
      if (j.step === 'join') j.since = Date.now();
      const r = j.step === 'join' ? queueJoin(auth, data.eventID) : queuePoll(auth, data.eventID);
      if (r.kind !== 'ok') return finish(j, 'error');
      const st = r.body.status;
      if (st === 'waiting') {
        j.step = Date.now() - j.since > cfg.queueMaxWait * 1000 ? 'leave' : 'poll';
        j.due = later(Math.max(0.2, Math.min(cfg.pollInterval, Number(r.body.eta_seconds) || 0)));
        return;
      }
      queueOutcome.add(1, { outcome: st });
      if (st !== 'admitted') {
        expectedRefusals.add(1, { name: routes.poll, code: `queue_${st}` });
        return finish(j, st);
      }
      j.admission = r.body.admission_token;
      j.step = 'hold';
      j.due = 0;
      return;
    }
    case 'leave': {
      queueLeave(userToken(j.user), data.eventID);
      queueOutcome.add(1, { outcome: 'gave_up' });
      return finish(j, 'gave_up');
    }
    case 'hold': {
      const auth = userToken(j.user);
      if (!auth) return finish(j, 'no_token');
      j.key = `k6-mixed-${exec.vu.idInTest}-${j.user}-${Date.now()}`;
      const r = hold(auth, data.eventID, data.tierID, cfg.quantity, j.key, j.admission);
      if (r.kind !== 'ok') return finish(j, r.kind === 'expected' ? r.code : 'error');
      if (Math.random() >= cfg.confirmRatio) return finish(j, 'held');
      j.reservation = r.body.id;
      j.step = 'confirm';
      j.due = later(cfg.think);
      return;
    }
    case 'confirm': {
      const r = confirm(userToken(j.user), j.reservation);
      return finish(j, r.kind === 'ok' ? 'confirmed' : 'error');
    }
  }
}

export default function (data) {
  step(data, pick());
}

export function teardown(data) {
  checkInventory(data);
}
