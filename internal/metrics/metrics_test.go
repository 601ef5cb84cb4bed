package metrics

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"

	"boxoffice"
	"boxoffice/internal/memory"
	"boxoffice/internal/sqlite"
)

// series returns every series the registry exports, keyed by name and
// labels ("name{a=\"x\",b=\"y\"}"), with their values (histograms: count).
func series(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			var b strings.Builder
			b.WriteString(mf.GetName())
			if len(mt.GetLabel()) > 0 {
				b.WriteByte('{')
				for i, l := range mt.GetLabel() {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(l.GetName() + "=\"" + l.GetValue() + "\"")
				}
				b.WriteByte('}')
			}
			out[b.String()] = value(mf.GetType(), mt)
		}
	}
	return out
}

func value(typ dto.MetricType, mt *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return mt.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return mt.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(mt.GetHistogram().GetSampleCount())
	}
	return mt.GetUntyped().GetValue()
}

// withPrefix returns the series whose key starts with prefix.
func withPrefix(all map[string]float64, prefix string) map[string]float64 {
	out := make(map[string]float64)
	for k, v := range all {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

func expect(t *testing.T, all map[string]float64, key string, want float64) {
	t.Helper()
	got, ok := all[key]
	switch {
	case !ok:
		var near []string
		for k := range withPrefix(all, strings.SplitN(key, "{", 2)[0]) {
			near = append(near, k)
		}
		slices.Sort(near)
		t.Errorf("no series %s; have:\n%s", key, strings.Join(near, "\n"))
	case got != want:
		t.Errorf("%s = %v, want %v", key, got, want)
	}
}

func TestHTTPObserver(t *testing.T) {
	m := New()
	m.RequestBegin()
	m.RequestBegin()
	expect(t, series(t, m), "boxoffice_http_requests_in_flight", 2)
	m.RequestEnd("GET", "GET /api/v1/events/{id}", 200, "", 3*time.Millisecond)
	m.RequestEnd("BREW", "unmatched", 404, "not_found", time.Millisecond)
	all := series(t, m)
	expect(t, all, "boxoffice_http_requests_in_flight", 0)
	expect(t, all, `boxoffice_http_request_duration_seconds{method="GET",route="/api/v1/events/{id}",status="2xx"}`, 1)
	expect(t, all, `boxoffice_http_request_duration_seconds{method="OTHER",route="unmatched",status="4xx"}`, 1)
	expect(t, all, `boxoffice_http_problems_total{code="not_found"}`, 1)

	// The handler serves the text format.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(body), "boxoffice_http_requests_in_flight 0") {
		t.Fatalf("scrape: %d\n%s", rec.Code, body)
	}
}

// fakeStore decides holds as told; its other methods are those of the
// embedded Store (nil: they must not be called).
type fakeStore struct {
	boxoffice.Store
	verdicts []error
	batchErr error
}

func (f *fakeStore) CreateHolds(_ context.Context, _ string, reqs []*boxoffice.HoldRequest) error {
	if f.batchErr != nil {
		return f.batchErr
	}
	for i, r := range reqs {
		r.Err = f.verdicts[i%len(f.verdicts)]
	}
	return nil
}

func (f *fakeStore) Confirm(_ context.Context, id string, now time.Time, _ func(context.Context, *boxoffice.Reservation) error, _ *boxoffice.Idempotency) (*boxoffice.Reservation, error) {
	at := now
	if id == "old" {
		at = now.Add(-time.Minute) // confirmed before: a replay
	}
	return &boxoffice.Reservation{ID: id, ConfirmedAt: &at}, nil
}

func (f *fakeStore) Cancel(_ context.Context, id string, _, _ time.Time, _ *boxoffice.Idempotency) (*boxoffice.Reservation, error) {
	if id == "bad" {
		return nil, boxoffice.ErrInvalidState
	}
	return &boxoffice.Reservation{ID: id}, nil
}

func (f *fakeStore) ExpireHolds(context.Context, time.Time, int) (int, error) { return 7, nil }

func TestStoreCountsTheHoldPath(t *testing.T) {
	m := New()
	f := &fakeStore{verdicts: []error{nil, boxoffice.ErrSoldOut, nil, boxoffice.ErrLimitExceeded, boxoffice.ErrIdempotencyKeyReused}}
	s := m.Store(f)
	ctx := t.Context()
	reqs := make([]*boxoffice.HoldRequest, 10)
	for i := range reqs {
		reqs[i] = &boxoffice.HoldRequest{}
	}
	if err := s.CreateHolds(ctx, "T", reqs); err != nil {
		t.Fatal(err)
	}
	f.batchErr = errors.New("deadlock")
	if err := s.CreateHolds(ctx, "T", reqs[:3]); err == nil {
		t.Fatal("batch error lost")
	}
	now := time.Now()
	_, _ = s.Confirm(ctx, "new", now, nil, nil)
	_, _ = s.Confirm(ctx, "old", now, nil, nil)
	_, _ = s.Cancel(ctx, "ok", now, time.Time{}, nil)
	_, _ = s.Cancel(ctx, "bad", now, time.Time{}, nil)
	_, _ = s.ExpireHolds(ctx, now, 100)

	all := series(t, m)
	for result, want := range map[string]float64{"granted": 4, "sold_out": 2, "limit_exceeded": 2, "key_reused": 2, "failed": 3} {
		expect(t, all, `boxoffice_hold_requests_total{result="`+result+`"}`, want)
	}
	for step, want := range map[string]float64{"created": 4, "confirmed": 1, "cancelled": 1, "expired": 7} {
		expect(t, all, `boxoffice_holds_total{step="`+step+`"}`, want)
	}
	expect(t, all, "boxoffice_hold_batch_size", 2)
	expect(t, all, "boxoffice_hold_batch_duration_seconds", 2)
}

func TestOnSweep(t *testing.T) {
	m := New()
	if all := series(t, m); all["boxoffice_hold_sweep_last_success_timestamp_seconds"] <= 0 {
		t.Errorf("before any pass the last success is %v, want the start", all["boxoffice_hold_sweep_last_success_timestamp_seconds"])
	}
	at := time.Unix(1_700_000_000, 0)
	m.sweep.now = func() time.Time { return at }
	m.OnSweep(boxoffice.SweepPass{Interval: 2 * time.Second})
	at = at.Add(5 * time.Second)
	m.OnSweep(boxoffice.SweepPass{Interval: 2 * time.Second, Err: context.DeadlineExceeded})
	m.OnSweep(boxoffice.SweepPass{Interval: 2 * time.Second, Err: context.DeadlineExceeded})
	all := series(t, m)
	expect(t, all, `boxoffice_hold_sweeps_total{result="ok"}`, 1)
	expect(t, all, `boxoffice_hold_sweeps_total{result="failed"}`, 2)
	expect(t, all, "boxoffice_hold_sweep_last_success_timestamp_seconds", 1_700_000_000)
	expect(t, all, "boxoffice_hold_sweep_interval_seconds", 2)
}

func TestCacheCountsHitsAndTimesRedis(t *testing.T) {
	m := New()
	c := m.Cache(memory.NewCache(10), true)
	ctx := t.Context()
	c.Set(ctx, "k", []byte("v"), time.Minute)
	c.Get(ctx, "k")
	c.Get(ctx, "k")
	c.Get(ctx, "nope")
	c.Delete(ctx, "k")
	var errs atomic.Uint64
	errs.Store(3)
	m.WatchRedisCacheErrors(errs.Load)
	all := series(t, m)
	expect(t, all, `boxoffice_cache_requests_total{result="hit"}`, 2)
	expect(t, all, `boxoffice_cache_requests_total{result="miss"}`, 1)
	expect(t, all, `boxoffice_redis_command_duration_seconds{op="cache_get"}`, 3)
	expect(t, all, `boxoffice_redis_command_duration_seconds{op="cache_set"}`, 1)
	expect(t, all, `boxoffice_redis_command_duration_seconds{op="cache_delete"}`, 1)
	expect(t, all, `boxoffice_redis_errors_total{op="cache"}`, 3)
}

// failingQueue fails every call.
type failingQueue struct{ boxoffice.Queue }

func (failingQueue) Join(context.Context, string, string, bool, time.Time) (boxoffice.QueueEntry, boxoffice.QueueInfo, error) {
	return boxoffice.QueueEntry{}, boxoffice.QueueInfo{}, &boxoffice.RetryableError{Err: errors.New("connection refused")}
}

func (failingQueue) Admit(context.Context, string, boxoffice.AdmitRequest) (boxoffice.AdmitResult, error) {
	return boxoffice.AdmitResult{}, boxoffice.ErrNotLeader
}

func TestQueueCountsJoinsAndRedisErrors(t *testing.T) {
	m := New()
	q := m.Queue(memory.NewQueue(), false)
	ctx := t.Context()
	for _, u := range []string{"a", "b", "a"} {
		if _, _, err := q.Join(ctx, "E", u, false, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r := m.Queue(failingQueue{}, true)
	_, _, _ = r.Join(ctx, "E", "c", false, time.Now())
	_, _ = r.Admit(ctx, "E", boxoffice.AdmitRequest{})
	all := series(t, m)
	expect(t, all, "boxoffice_queue_joins_total", 3)
	expect(t, all, `boxoffice_redis_errors_total{op="queue_join"}`, 1)
	expect(t, all, `boxoffice_redis_errors_total{op="queue_admit"}`, 0) // not the leader is no failure
	expect(t, all, `boxoffice_redis_command_duration_seconds{op="queue_admit"}`, 1)
	if n := len(withPrefix(all, "boxoffice_redis_command_duration_seconds{")); n != numOps+0 {
		t.Errorf("%d redis op series, want %d (one per queue operation)", n, numOps)
	}
}

type fakeHasher struct{}

func (fakeHasher) Waiting() int     { return 5 }
func (fakeHasher) Rejected() uint64 { return 9 }

func TestWatchSources(t *testing.T) {
	m := New()
	m.WatchHasher(fakeHasher{})
	m.WatchStreams(func() int { return 12 })
	m.WatchBuildInfo("1.2.3", "abc")
	m.WatchDBPools(func() map[string]sql.DBStats {
		return map[string]sql.DBStats{"primary": {MaxOpenConnections: 20, OpenConnections: 20, InUse: 19, Idle: 1, WaitCount: 4, WaitDuration: 1500 * time.Millisecond}}
	})
	all := series(t, m)
	expect(t, all, "boxoffice_password_hash_waiting", 5)
	expect(t, all, "boxoffice_password_hash_rejected_total", 9)
	expect(t, all, "boxoffice_queue_streams", 12)
	expect(t, all, `boxoffice_build_info{commit="abc",version="1.2.3"}`, 1)
	expect(t, all, `boxoffice_db_pool_max_open_connections{pool="primary"}`, 20)
	expect(t, all, `boxoffice_db_pool_in_use_connections{pool="primary"}`, 19)
	expect(t, all, `boxoffice_db_pool_waits_total{pool="primary"}`, 4)
	expect(t, all, `boxoffice_db_pool_wait_duration_seconds_total{pool="primary"}`, 1.5)
	if len(withPrefix(all, "go_goroutines")) != 1 || len(withPrefix(all, "process_cpu_seconds_total")) != 1 {
		t.Error("Go runtime or process collector missing")
	}
}

// onSaleFixture is a real SQLite store and in-process queue with a clock.
type onSaleFixture struct {
	store boxoffice.Store
	queue boxoffice.Queue
	now   time.Time
	m     *Metrics
	o     *onSale
}

func newOnSaleFixture(t *testing.T, maxEvents int) *onSaleFixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := &onSaleFixture{store: st, queue: memory.NewQueue(), now: time.Now().UTC().Truncate(time.Second), m: New()}
	f.m.WatchOnSale(OnSaleConfig{Store: st, Queue: f.queue, MaxEvents: maxEvents, AuditEvery: 1, Now: func() time.Time { return f.now }})
	f.o = f.m.onsale
	return f
}

// event creates an event whose sales run from salesStart for an hour.
func (f *onSaleFixture) event(t *testing.T, title string, salesStart time.Time, queue bool, capacity ...int) *boxoffice.Event {
	t.Helper()
	e := &boxoffice.Event{
		ID: boxoffice.NewID(), Title: title, Venue: "Hall", StartsAt: salesStart.Add(2 * time.Hour),
		SalesStartAt: salesStart, SalesEndAt: salesStart.Add(time.Hour), MaxTicketsPerUser: 4, HoldSeconds: 600,
		Queue: boxoffice.QueueConfig{Enabled: queue, AdmitPerMinute: 60}, CreatedAt: f.now, UpdatedAt: f.now,
	}
	for i, c := range capacity {
		e.Tiers = append(e.Tiers, boxoffice.Tier{ID: boxoffice.NewID(), EventID: e.ID, Name: "Tier " + string(rune('A'+i)), Price: boxoffice.Money{Amount: 100, Currency: "USD"}, Capacity: c})
	}
	if err := f.store.CreateEvent(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *onSaleFixture) refresh(t *testing.T) map[string]float64 {
	t.Helper()
	if err := f.o.refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	return series(t, f.m)
}

// perEvent returns the series that name one event.
func perEvent(all map[string]float64) map[string]float64 {
	out := make(map[string]float64)
	for k, v := range all {
		if strings.Contains(k, `event_id="`) {
			out[k] = v
		}
	}
	return out
}

func TestOnSaleGaugesFollowOnlyEventsOnSale(t *testing.T) {
	f := newOnSaleFixture(t, 10)
	ctx := t.Context()
	hot := f.event(t, "Hot", f.now.Add(-time.Minute), true, 100, 50)
	user := boxoffice.NewID()
	r := &boxoffice.Reservation{ID: boxoffice.NewID(), EventID: hot.ID, TierID: hot.Tiers[0].ID, UserID: user, Quantity: 3, Status: boxoffice.StatusHeld,
		Amount: boxoffice.Money{Amount: 300, Currency: "USD"}, HoldExpiresAt: f.now.Add(10 * time.Minute), CreatedAt: f.now, UpdatedAt: f.now}
	req := &boxoffice.HoldRequest{Reservation: r, MaxPerUser: 4}
	if err := f.store.CreateHolds(ctx, hot.Tiers[0].ID, []*boxoffice.HoldRequest{req}); err != nil || req.Err != nil {
		t.Fatal(err, req.Err)
	}
	for _, u := range []string{"u1", "u2"} {
		if _, _, err := f.queue.Join(ctx, hot.ID, u, false, f.now); err != nil {
			t.Fatal(err)
		}
	}

	all := f.refresh(t)
	tier := func(name string, i int) string {
		return name + `{event_id="` + hot.ID + `",tier="` + hot.Tiers[i].Name + `",tier_id="` + hot.Tiers[i].ID + `"}`
	}
	ev := `{event_id="` + hot.ID + `"}`
	expect(t, all, `boxoffice_onsale_event_info{event="Hot",event_id="`+hot.ID+`"}`, 1)
	expect(t, all, tier("boxoffice_tier_capacity_tickets", 0), 100)
	expect(t, all, tier("boxoffice_tier_available_tickets", 0), 97)
	expect(t, all, tier("boxoffice_tier_available_tickets", 1), 50)
	expect(t, all, tier("boxoffice_tier_held_tickets", 0), 3)
	expect(t, all, tier("boxoffice_tier_confirmed_tickets", 0), 0)
	expect(t, all, tier("boxoffice_tier_inventory_drift_tickets", 0), 0)
	expect(t, all, "boxoffice_queue_waiting"+ev, 2)
	expect(t, all, "boxoffice_queue_admitted"+ev, 0)
	expect(t, all, "boxoffice_queue_admissions_total"+ev, 0) // present at 0 for the stalled-queue alert
	expect(t, all, "boxoffice_onsale_events", 1)
	expect(t, all, "boxoffice_onsale_events_capped", 0)
	before := perEvent(all)

	// A thousand events outside their sales window add no series.
	for i := range 1000 {
		start := f.now.Add(24 * time.Hour)
		if i%2 == 1 {
			start = f.now.Add(-48 * time.Hour) // sales ended
		}
		f.event(t, "Off", start, i%3 == 0, 10)
	}
	all = f.refresh(t)
	if after := perEvent(all); len(after) != len(before) {
		t.Fatalf("per-event series grew from %d to %d with events off sale", len(before), len(after))
	}
	expect(t, all, "boxoffice_onsale_events", 1)

	// Admissions count per followed event; others go to "_other".
	f.m.OnAdmit(hot.ID, 1, []string{"u1"})
	f.m.OnAdmit("SOMEWHERE-ELSE", 1, []string{"x", "y"})
	all = series(t, f.m)
	expect(t, all, "boxoffice_queue_admissions_total"+ev, 1)
	expect(t, all, `boxoffice_queue_admissions_total{event_id="_other"}`, 2)

	// When sales end, the event's series go, admissions included.
	f.now = f.now.Add(2 * time.Hour)
	all = f.refresh(t)
	for k := range perEvent(all) {
		if strings.Contains(k, hot.ID) {
			t.Errorf("series of an event no longer on sale: %s", k)
		}
	}
	expect(t, all, "boxoffice_onsale_events", 0)
}

func TestOnSaleHardCap(t *testing.T) {
	f := newOnSaleFixture(t, 3)
	for range 8 {
		f.event(t, "On", f.now.Add(-time.Minute), true, 10, 10)
	}
	all := f.refresh(t)
	expect(t, all, "boxoffice_onsale_events", 3)
	expect(t, all, "boxoffice_onsale_events_capped", 1)
	if n := len(withPrefix(all, "boxoffice_tier_capacity_tickets{")); n != 6 {
		t.Errorf("%d tier series, want 3 events × 2 tiers", n)
	}
	if n := len(withPrefix(all, "boxoffice_onsale_event_info{")); n != 3 {
		t.Errorf("%d events followed, want 3", n)
	}
}

// driftStore reports sales that disagree with the tiers' counters, and
// optionally moves a counter between reads (a hold committed meanwhile).
type driftStore struct {
	boxoffice.Store
	moving bool
	reads  int
}

func (d *driftStore) Event(ctx context.Context, id string) (*boxoffice.Event, error) {
	e, err := d.Store.Event(ctx, id)
	if err == nil && d.moving {
		d.reads++
		e.Tiers[0].Reserved += d.reads
	}
	return e, err
}

func (d *driftStore) Sales(ctx context.Context, id string) (*boxoffice.Sales, error) {
	s, err := d.Store.Sales(ctx, id)
	if err == nil {
		s.Tiers[0].Held += 2 // two tickets held that the counter does not know
	}
	return s, err
}

func TestInventoryDrift(t *testing.T) {
	f := newOnSaleFixture(t, 10)
	e := f.event(t, "Drifty", f.now.Add(-time.Minute), false, 10)
	ds := &driftStore{Store: f.store}
	f.o.store = ds
	key := `boxoffice_tier_inventory_drift_tickets{event_id="` + e.ID + `",tier="Tier A",tier_id="` + e.Tiers[0].ID + `"}`
	expect(t, f.refresh(t), key, -2)

	// While the counter moves during the audit, no drift is claimed.
	ds.moving = true
	all := f.refresh(t)
	if _, ok := all[key]; ok {
		t.Errorf("drift reported while the counter moved: %v", all[key])
	}
	expect(t, all, `boxoffice_tier_held_tickets{event_id="`+e.ID+`",tier="Tier A",tier_id="`+e.Tiers[0].ID+`"}`, 2)
}

func TestAuditsNewEventsAtOnceAndAllEventsPeriodically(t *testing.T) {
	f := newOnSaleFixture(t, 10)
	f.o.auditEvery = 3
	f.refresh(t) // round 0: a full audit of nothing
	e := f.event(t, "New", f.now.Add(-time.Minute), false, 10)
	held := `boxoffice_tier_held_tickets{event_id="` + e.ID + `",tier="Tier A",tier_id="` + e.Tiers[0].ID + `"}`
	expect(t, f.refresh(t), held, 0) // round 1: audited because it is new
	r := &boxoffice.Reservation{ID: boxoffice.NewID(), EventID: e.ID, TierID: e.Tiers[0].ID, UserID: "U", Quantity: 2, Status: boxoffice.StatusHeld,
		Amount: boxoffice.Money{Amount: 200, Currency: "USD"}, HoldExpiresAt: f.now.Add(time.Hour), CreatedAt: f.now, UpdatedAt: f.now}
	req := &boxoffice.HoldRequest{Reservation: r, MaxPerUser: 4}
	if err := f.store.CreateHolds(t.Context(), e.Tiers[0].ID, []*boxoffice.HoldRequest{req}); err != nil || req.Err != nil {
		t.Fatal(err, req.Err)
	}
	all := f.refresh(t) // round 2: no audit; the held count is the last audit's
	expect(t, all, held, 0)
	expect(t, all, `boxoffice_tier_available_tickets{event_id="`+e.ID+`",tier="Tier A",tier_id="`+e.Tiers[0].ID+`"}`, 8)
	expect(t, f.refresh(t), held, 2) // round 3: a full audit
}

// TestRunRefreshesAndStops runs in a synctest bubble: synctest.Wait
// returns once Run has finished a refresh and waits for its ticker, so each
// check sees exactly the refreshes due by then on the fake clock.
func TestRunRefreshesAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newOnSaleFixture(t, 10)
		f.o.interval = 10 * time.Millisecond
		f.event(t, "On", f.now.Add(-time.Minute), false, 5)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- f.m.Run(ctx) }()
		onSale := func(want float64, when string) {
			t.Helper()
			synctest.Wait()
			if got := series(t, f.m)["boxoffice_onsale_events"]; got != want {
				t.Fatalf("boxoffice_onsale_events = %v %s, want %v", got, when, want)
			}
		}
		onSale(1, "after the first refresh, at once")
		f.event(t, "Also on", f.now.Add(-time.Minute), false, 5)
		time.Sleep(f.o.interval - time.Nanosecond)
		onSale(1, "a moment before the next refresh")
		time.Sleep(time.Nanosecond)
		onSale(2, "after the next refresh")
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Without sources Run just waits, until its context ends.
		ctx, cancel = context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		if err := New().Run(ctx); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != time.Hour {
			t.Errorf("Run without sources returned after %v, want when its context ended (1h)", waited)
		}
	})
}

func TestLabelText(t *testing.T) {
	long := strings.Repeat("é", 80)
	if got := labelText(long); len([]rune(got)) != 64 || !strings.HasSuffix(got, "…") {
		t.Errorf("labelText(long) = %q", got)
	}
	if got := labelText("a\xffb"); got != "a\uFFFDb" {
		t.Errorf("labelText(invalid) = %q", got)
	}
}
