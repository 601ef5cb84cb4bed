// browse.js: anonymous visitors page through the events list with keyset
// cursors (next_cursor), PAGES pages each, then open one event they saw.
// Page n must cost what page 1 costs, so the p95 limits cover deep pages too.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=50 -e DURATION=30s loadtest/k6/browse.js
//
// ON_SALE=1 adds ?on_sale=true; Q=word adds a title/venue search.
import { baseOptions, spike, browse, routes, routeThresholds } from './lib.js';

export const options = baseOptions({ browse: spike() }, routeThresholds([routes.list, routes.event]));

const filters = [];
if (__ENV.ON_SALE) filters.push('on_sale=true');
if (__ENV.Q) filters.push(`q=${encodeURIComponent(__ENV.Q)}`);
const query = filters.join('&');

export default function () {
  browse(query);
}
