// signin.js: a spike of real sign-ins (POST /api/v1/auth/token) by seeded
// users user<i>@seed.boxoffice.test with PASSWORD (default password123).
// bcrypt makes each one cost the server tens of milliseconds of CPU; when its
// bounded hash pool is full the server sheds the sign-in with 429 and a
// Retry-After header. A shed is expected (counted in signin_shed and
// expected_refusals{code:rate_limited}), never a success; the VU then waits
// Retry-After before its next sign-in. Wrong-password answers are unexpected
// here (every seeded user has the same password).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e USERS=2000 -e VUS=100 -e DURATION=20s loadtest/k6/signin.js
import { sleep } from 'k6';
import { cfg, baseOptions, spike, signIn, seedEmail, userIndex } from './lib.js';

export const options = baseOptions(
  { signin: spike() },
  // The seed's threshold, also on the sign-ins that succeeded alone (a shed
  // is answered at once and says nothing about bcrypt's latency).
  { 'http_req_duration{status:200}': [`p(95)<${cfg.p95}`] },
  ['expected_refusals{code:rate_limited}'],
);

export default function () {
  const r = signIn(seedEmail(userIndex()), cfg.password);
  if (r.kind === 'expected') sleep(r.retryAfter * (0.5 + Math.random()));
  else if (cfg.think > 0) sleep(cfg.think * Math.random());
}
