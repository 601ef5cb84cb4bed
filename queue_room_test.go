package boxoffice_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/memory"
	"boxoffice/internal/testdb"
)

// roomHarness is a waiting room over the real SQLite store and the
// in-process queue, with a fake clock shared with a Service (for holds).
type roomHarness struct {
	*harness
	tokens *auth.AdmissionTokens
}

func newRoomHarness(t *testing.T) *roomHarness {
	t.Helper()
	return &roomHarness{harness: newHarness(t, testdb.SQLite(t)), tokens: auth.NewAdmissionTokens(auth.AdmissionSecret([]byte("test-secret-test-secret-test-secret!")))}
}

// room returns a WaitingRoom ("an instance") on q.
func (h *roomHarness) room(q boxoffice.Queue, mod ...func(*boxoffice.WaitingRoomConfig)) *boxoffice.WaitingRoom {
	cfg := boxoffice.WaitingRoomConfig{Queue: q, Store: h.store, Tokens: h.tokens, Now: h.clock.Now}
	for _, m := range mod {
		m(&cfg)
	}
	return boxoffice.NewWaitingRoom(cfg)
}

// queued returns a queue-enabled event; mod adjusts it.
func (h *roomHarness) queued(t *testing.T, capacity, perMinute int, mod ...func(*boxoffice.EventInput)) *boxoffice.Event {
	t.Helper()
	return h.event(t, capacity, 4, append([]func(*boxoffice.EventInput){func(in *boxoffice.EventInput) {
		in.Queue = &boxoffice.QueueConfig{Enabled: true, AdmitPerMinute: perMinute}
		in.HoldSeconds = 3600
	}}, mod...)...)
}

func callers(n int) []boxoffice.Caller {
	out := make([]boxoffice.Caller, n)
	for i := range out {
		out[i] = boxoffice.Caller{UserID: boxoffice.NewID(), Role: boxoffice.RoleUser}
	}
	return out
}

func tick(t *testing.T, r *boxoffice.WaitingRoom) {
	t.Helper()
	if err := r.Tick(t.Context()); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

func status(t *testing.T, r *boxoffice.WaitingRoom, c boxoffice.Caller, eventID string) *boxoffice.QueueStatus {
	t.Helper()
	st, err := r.Status(t.Context(), c, eventID)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

func TestWaitingRoomJoinRules(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	r := h.room(memory.NewQueue())
	e := h.queued(t, 10, 60)
	plain := h.event(t, 10, 4)
	u := callers(3)

	if _, err := r.Join(ctx, u[0], boxoffice.NewID()); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("unknown event: %v", err)
	}
	if _, err := r.Join(ctx, u[0], "not-an-id"); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("malformed id: %v", err)
	}
	if _, err := r.Join(ctx, u[0], plain.ID); !errors.Is(err, boxoffice.ErrQueueDisabled) {
		t.Errorf("event without queue: %v", err)
	}
	if _, err := r.Status(ctx, u[0], e.ID); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("status before joining: %v", err)
	}
	for i, c := range u {
		st, err := r.Join(ctx, c, e.ID)
		if err != nil || st.Status != boxoffice.QueueWaiting || st.Position != i+1 || st.EventID != e.ID || st.AdmissionToken != "" || st.AdmissionExpiresAt != nil {
			t.Fatalf("join %d: %+v, %v", i, st, err)
		}
		// 60/min with no measured pace yet: one a second.
		if st.ETASeconds != i+1 {
			t.Errorf("join %d: eta %d, want %d", i, st.ETASeconds, i+1)
		}
	}
	h.clock.Advance(time.Hour)
	if st, err := r.Join(ctx, u[0], e.ID); err != nil || st.Position != 1 {
		t.Errorf("joining again an hour later: %+v, %v; want position 1", st, err)
	}
	if err := r.Leave(ctx, u[0], e.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.Leave(ctx, u[0], e.ID); err != nil {
		t.Errorf("leaving twice: %v", err)
	}
	if _, err := r.Status(ctx, u[0], e.ID); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("status after leaving: %v", err)
	}
	if st := status(t, r, u[2], e.ID); st.Position != 2 {
		t.Errorf("position after someone ahead left: %d", st.Position)
	}
	w, a, err := r.Counts(ctx, e.ID)
	if err != nil || w != 2 || a != 0 {
		t.Errorf("Counts = %d, %d, %v", w, a, err)
	}
	h.clock.Advance(48 * time.Hour) // past sales_end_at
	if _, err := r.Join(ctx, u[0], e.ID); !errors.Is(err, boxoffice.ErrSalesClosed) {
		t.Errorf("join after sales ended: %v", err)
	}
	tick(t, r)
	if st := status(t, r, u[2], e.ID); st.Status != boxoffice.QueueSoldOut {
		t.Errorf("waiting user after sales ended: %+v", st)
	}
}

// TestWaitingRoomPace admits at admit_per_minute, accumulating fractions.
func TestWaitingRoomPace(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	var admitted []string
	r := h.room(memory.NewQueue(), func(c *boxoffice.WaitingRoomConfig) {
		c.OnAdmit = func(_ string, _ int64, us []string) { admitted = append(admitted, us...) }
	})
	e := h.queued(t, 100, 30) // one every two seconds
	u := callers(20)
	for _, c := range u {
		if _, err := r.Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	if st := status(t, r, u[9], e.ID); st.ETASeconds != 20 {
		t.Errorf("eta before any admission = %d, want 20 (position 10 at 0.5/s)", st.ETASeconds)
	}
	for range 11 {
		tick(t, r)
		h.clock.Advance(time.Second)
	}
	if len(admitted) != 5 {
		t.Fatalf("admitted %d in 10 s at 30/min, want 5", len(admitted))
	}
	for i, id := range admitted {
		if id != u[i].UserID {
			t.Fatalf("admission %d is %s, want %s", i, id, u[i].UserID)
		}
	}
	st := status(t, r, u[0], e.ID)
	if st.Status != boxoffice.QueueAdmitted || st.AdmissionToken == "" || st.AdmissionExpiresAt == nil || st.Position != 0 {
		t.Fatalf("admitted status = %+v", st)
	}
	if want := h.clock.Now().Add(-9 * time.Second).Add(boxoffice.DefaultAdmissionTTL); st.AdmissionExpiresAt.Sub(want).Abs() > 2*time.Second {
		t.Errorf("admission ends %v, want about %v", st.AdmissionExpiresAt, want)
	}
	if !h.tokens.Verify(st.AdmissionToken, u[0].UserID, e.ID) || h.tokens.Verify(st.AdmissionToken, u[1].UserID, e.ID) {
		t.Error("the admission token is not bound to its user")
	}
	// The measured pace (about 0.5/s) drives the estimate.
	if st := status(t, r, u[9], e.ID); st.Position != 5 || st.ETASeconds < 5 || st.ETASeconds > 20 {
		t.Errorf("waiting status = %+v, want position 5 and eta near 10", st)
	}
	// Unused admissions expire and show it; the rest move up.
	h.clock.Advance(boxoffice.DefaultAdmissionTTL)
	tick(t, r)
	if st := status(t, r, u[0], e.ID); st.Status != boxoffice.QueueExpired || st.AdmissionToken != "" {
		t.Errorf("after the admission ended: %+v", st)
	}
	if st, err := r.Join(ctx, u[0], e.ID); err != nil || st.Status != boxoffice.QueueWaiting || st.Position < 10 {
		t.Errorf("joining again after expiry: %+v, %v; want the back of the line", st, err)
	}
}

// TestWaitingRoomInventory: 50 tickets, 5,000 waiting. Admission stops at a
// small multiple of the tickets left; while holds exist users keep waiting;
// a cancelled hold resumes admission; once nothing is held or left,
// everyone waiting learns sold_out.
func TestWaitingRoomInventory(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	var admitted []string
	r := h.room(memory.NewQueue(), func(c *boxoffice.WaitingRoomConfig) {
		c.OnAdmit = func(_ string, _ int64, us []string) { admitted = append(admitted, us...) }
	})
	h.svc = h.service(h.store, r)
	e := h.queued(t, 50, 1_000_000, func(in *boxoffice.EventInput) { in.MaxTicketsPerUser = 1 })
	u := callers(5000)
	byID := make(map[string]boxoffice.Caller)
	for _, c := range u {
		byID[c.UserID] = c
		if _, err := r.Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		tick(t, r)
		h.clock.Advance(time.Second)
	}
	if len(admitted) != 100 {
		t.Fatalf("admitted %d with 50 tickets, want 100 (2 per ticket)", len(admitted))
	}
	if w, a, _ := r.Counts(ctx, e.ID); w != 4900 || a != 100 {
		t.Errorf("counts = %d waiting, %d admitted", w, a)
	}
	// The first 50 admitted hold a ticket each.
	var holds []*boxoffice.Reservation
	for _, id := range admitted[:50] {
		st := status(t, r, byID[id], e.ID)
		res, err := h.svc.CreateReservation(ctx, byID[id], boxoffice.HoldInput{
			EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1,
			AdmissionToken: st.AdmissionToken,
		})
		if err != nil {
			t.Fatalf("hold: %v", err)
		}
		holds = append(holds, res)
	}
	// Everything is held: admission pauses and nobody is told sold_out.
	h.clock.Advance(boxoffice.DefaultAdmissionTTL + time.Second)
	tick(t, r)
	if len(admitted) != 100 {
		t.Fatalf("admitted %d while everything is held", len(admitted))
	}
	last := u[len(u)-1]
	if st := status(t, r, last, e.ID); st.Status != boxoffice.QueueWaiting || st.Position != 4900 {
		t.Fatalf("last user while holds exist: %+v", st)
	}
	// A cancelled hold returns a ticket: admission resumes, in order.
	if _, err := h.svc.Cancel(ctx, byID[holds[0].UserID], holds[0].ID, boxoffice.Idempotent{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	tick(t, r)
	if len(admitted) != 102 || admitted[100] != u[100].UserID || admitted[101] != u[101].UserID {
		t.Fatalf("after a cancellation admitted %d (want 102, the next two in line)", len(admitted))
	}
	next := byID[admitted[100]]
	st := status(t, r, next, e.ID)
	res, err := h.svc.CreateReservation(ctx, next, boxoffice.HoldInput{
		EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1, AdmissionToken: st.AdmissionToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	holds = append(holds[1:], res)
	// Holds confirmed: nothing held, nothing left, nothing can come back.
	for _, hold := range holds {
		if _, err := h.svc.Confirm(ctx, byID[hold.UserID], hold.ID, "tok_ok", boxoffice.Idempotent{}); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(time.Second)
	tick(t, r)
	for _, c := range u[102:] {
		if st := status(t, r, c, e.ID); st.Status != boxoffice.QueueSoldOut || st.Position != 0 {
			t.Fatalf("waiting user after the sell-out: %+v", st)
		}
	}
	if st := status(t, r, byID[admitted[101]], e.ID); st.Status != boxoffice.QueueAdmitted {
		t.Errorf("an unexpired admission after the sell-out: %+v", st)
	}
	if len(admitted) != 102 {
		t.Errorf("admitted %d after the sell-out", len(admitted))
	}
	h.checkSales(t, e.ID, 50)
}

// TestPresaleShuffle: users who join before sales open are drawn in a
// uniformly random order, ahead of everyone who joins later. The test would
// fail for first-come-first-served and for any fixed order.
func TestPresaleShuffle(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	const n, trials = 8, 2000
	opens := h.clock.Now().Add(time.Minute)
	e := h.queued(t, 100, 600, func(in *boxoffice.EventInput) { in.SalesStartAt = opens })
	u := callers(n)
	late := callers(1)[0]
	sum := make([]float64, n)
	count := make([][]int, n)
	for i := range count {
		count[i] = make([]int, n)
	}
	orders := map[string]bool{}
	for range trials {
		clock := h.clock.Now()
		now := clock
		r := h.room(memory.NewQueue(), func(c *boxoffice.WaitingRoomConfig) { c.Now = func() time.Time { return now } })
		for _, c := range u {
			st, err := r.Join(ctx, c, e.ID)
			if err != nil || st.Status != boxoffice.QueueWaiting || st.Position != 0 || st.ETASeconds < 60 {
				t.Fatalf("pre-sale join: %+v, %v", st, err)
			}
		}
		now = opens.Add(time.Second)
		if _, err := r.Join(ctx, late, e.ID); err != nil {
			t.Fatal(err)
		}
		tick(t, r)
		var order strings.Builder
		for i, c := range u {
			p := status(t, r, c, e.ID).Position
			if p < 1 || p > n {
				t.Fatalf("pool member at position %d", p)
			}
			sum[i] += float64(p)
			count[i][p-1]++
			fmt.Fprintf(&order, "%d,", p)
		}
		if p := status(t, r, late, e.ID).Position; p != n+1 {
			t.Fatalf("a user who joined after opening is at %d, want %d", p, n+1)
		}
		orders[order.String()] = true
	}
	for i := range n {
		if mean := sum[i] / trials; math.Abs(mean-float64(n+1)/2) > 0.3 {
			t.Errorf("user %d's mean position is %.2f, want about %.1f", i, mean, float64(n+1)/2)
		}
		for p, c := range count[i] {
			if want := trials / n; math.Abs(float64(c-want)) > 80 {
				t.Errorf("user %d was at position %d in %d of %d draws, want about %d", i, p+1, c, trials, want)
			}
		}
	}
	if len(orders) < trials*9/10 {
		t.Errorf("only %d distinct orders in %d draws", len(orders), trials)
	}
}

// TestPresaleOrderAudit: the logged seed reproduces a draw.
func TestPresaleOrderAudit(t *testing.T) {
	pool := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	var s1, s2 [32]byte
	s2[0] = 1
	o1, o1again, o2 := boxoffice.PresaleOrder(pool, s1), boxoffice.PresaleOrder(pool, s1), boxoffice.PresaleOrder(pool, s2)
	if !slices.Equal(o1, o1again) {
		t.Error("the same seed gave another order")
	}
	if slices.Equal(o1, o2) {
		t.Error("another seed gave the same order")
	}
	sorted := slices.Clone(o1)
	slices.Sort(sorted)
	if !slices.Equal(sorted, pool) {
		t.Errorf("not a permutation: %v", o1)
	}
}

// TestWaitingRoomStream: the coordinator loop (Run, on its own ticker)
// admits, and the stream delivers each change at most once a tick and ends
// when admitted. It runs in a synctest bubble: the room's clock and tickers
// are the bubble's fake time, so arrival times are exact and can be checked.
func TestWaitingRoomStream(t *testing.T) {
	synctest.Test(t, testWaitingRoomStream)
}

func testWaitingRoomStream(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	const tick = 100 * time.Millisecond
	r := h.room(memory.NewQueue(), func(c *boxoffice.WaitingRoomConfig) {
		c.Now = time.Now
		c.Tick = tick
	})
	e := h.queued(t, 100, 60*10) // ten a second: one a tick
	u := callers(5)
	for _, c := range u {
		if _, err := r.Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	first, sub, err := r.Subscribe(ctx, u[4], e.ID)
	if err != nil || sub == nil || first.Position != 5 {
		t.Fatalf("Subscribe = %+v, %v, %v", first, sub, err)
	}
	defer sub.Close()
	if r.Streams() != 1 {
		t.Errorf("Streams = %d", r.Streams())
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(runCtx) }()
	defer func() { stop(); <-done }()

	// On the fake clock, a status arrives at the moment the watcher's
	// round sends it, so the gaps between arrivals are those between
	// rounds.
	var got []boxoffice.QueueStatus
	var at []time.Time
	timeout := time.After(10 * time.Second) // a hundred ticks of fake time
	for len(got) == 0 || !got[len(got)-1].Status.Terminal() {
		select {
		case st := <-sub.C:
			got = append(got, st)
			at = append(at, time.Now())
		case <-timeout:
			t.Fatalf("no final status; got %+v", got)
		}
	}
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < tick {
			t.Errorf("statuses %d and %d arrived %v apart, less than a tick", i-1, i, d)
		}
	}
	if final := got[len(got)-1]; final.Status != boxoffice.QueueAdmitted || final.AdmissionToken == "" {
		t.Errorf("final status %+v", final)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Position > got[i-1].Position && got[i].Status == boxoffice.QueueWaiting {
			t.Errorf("position went up: %+v", got)
		}
	}
	// A new subscription of an admitted user is final at once.
	if st, s2, err := r.Subscribe(ctx, u[4], e.ID); err != nil || s2 != nil || st.Status != boxoffice.QueueAdmitted {
		t.Errorf("Subscribe when admitted = %+v, %v, %v", st, s2, err)
	}
	sub.Close()
	if r.Streams() != 0 {
		t.Errorf("Streams after Close = %d", r.Streams())
	}
	// Shutdown ends open streams and refuses new ones.
	stop()
	<-done
	late := callers(1)[0]
	if _, err := r.Join(ctx, late, e.ID); err != nil {
		t.Fatal(err)
	}
	_, s3, err := r.Subscribe(ctx, late, e.ID)
	if err != nil || s3 == nil {
		t.Fatalf("Subscribe: %v", err)
	}
	r.CloseStreams()
	select {
	case _, ok := <-s3.C:
		if ok {
			t.Error("a status instead of the end of the stream")
		}
	default:
		t.Error("CloseStreams did not end the stream at once")
	}
	s3.Close()
	if _, _, err := r.Subscribe(ctx, late, e.ID); !errors.Is(err, boxoffice.ErrUnavailable) {
		t.Errorf("Subscribe after CloseStreams: %v", err)
	}
}

// TestWaitingRoomPaceJitter: over every minute the room admits
// admit_per_minute (within 2 %, or one admission for slow rooms) although
// the coordinator's rounds are not exactly a tick apart: on a fake clock
// they come 0.97–1.03 s apart, with an occasional stall of 1.4 s.
func TestWaitingRoomPaceJitter(t *testing.T) {
	for _, perMinute := range []int{30, 60, 90, 600, 1200} {
		t.Run(fmt.Sprint(perMinute), func(t *testing.T) {
			h := newRoomHarness(t)
			ctx := t.Context()
			start := h.clock.Now()
			var at []time.Duration
			r := h.room(memory.NewQueue(), func(c *boxoffice.WaitingRoomConfig) {
				c.OnAdmit = func(_ string, _ int64, us []string) {
					for range us {
						at = append(at, h.clock.Now().Sub(start))
					}
				}
			})
			const minutes = 5
			e := h.queued(t, 100_000, perMinute)
			for _, c := range callers(perMinute*minutes + 50) {
				if _, err := r.Join(ctx, c, e.ID); err != nil {
					t.Fatal(err)
				}
			}
			rng := mrand.New(mrand.NewPCG(1, uint64(perMinute)))
			for i := 0; h.clock.Now().Sub(start) < minutes*time.Minute+time.Second; i++ {
				tick(t, r)
				step := 970*time.Millisecond + time.Duration(rng.IntN(61))*time.Millisecond
				if i%23 == 22 {
					step = 1400 * time.Millisecond
				}
				h.clock.Advance(step)
			}
			tolerance := max(0.02*float64(perMinute), 1)
			for m := range minutes {
				n := 0
				for _, d := range at {
					if d >= time.Duration(m)*time.Minute && d < time.Duration(m+1)*time.Minute {
						n++
					}
				}
				if math.Abs(float64(n-perMinute)) > tolerance {
					t.Errorf("minute %d: admitted %d, want %d ± %.0f", m+1, n, perMinute, tolerance)
				}
			}
		})
	}
}

// TestWaitingRoomQueueStateLost: the queue loses an open event's state
// while a coordinator runs (here the memory Queue drops it; in production a
// Redis restart without persistence). Users join again and the coordinator,
// which remembers the room as open, must notice, say so in the log, open
// the room again and keep admitting within a few rounds.
func TestWaitingRoomQueueStateLost(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	q := memory.NewQueue()
	var logs strings.Builder
	var admitted []string
	r := h.room(q, func(c *boxoffice.WaitingRoomConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.OnAdmit = func(_ string, _ int64, us []string) { admitted = append(admitted, us...) }
	})
	e := h.queued(t, 1000, 60)
	u := callers(20)
	for _, c := range u[:10] {
		if _, err := r.Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		tick(t, r)
		h.clock.Advance(time.Second)
	}
	if len(admitted) == 0 {
		t.Fatal("nobody admitted before the loss")
	}
	if err := q.Drop(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	before := len(admitted)
	for _, c := range u[10:] {
		if _, err := r.Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		tick(t, r)
		h.clock.Advance(time.Second)
	}
	if len(admitted) == before {
		t.Fatalf("nobody admitted in 3 rounds after the queue lost its state; %d waiting", len(u)-10)
	}
	if !strings.Contains(logs.String(), "state was lost") {
		t.Errorf("the loss was not logged; log:\n%s", logs.String())
	}
}

// TestWaitingRoomAbandonedAdmissions: 10 tickets, so at most 20 live
// admissions. The admitted never come back (their instance died), except
// five who keep asking for their status. Within seconds of the idle window
// (AdmissionIdle, 30 s here) the abandoned admissions stop holding the line back; the
// five still count. An abandoned holder who does come back before the
// admission ends finds it valid, and can buy.
func TestWaitingRoomAbandonedAdmissions(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	var admitted []string
	r := h.room(memory.NewQueue(), func(c *boxoffice.WaitingRoomConfig) {
		c.OnAdmit = func(_ string, _ int64, us []string) { admitted = append(admitted, us...) }
		c.AdmissionIdle = 30 * time.Second
	})
	h.svc = h.service(h.store, r)
	e := h.queued(t, 10, 6000, func(in *boxoffice.EventInput) { in.MaxTicketsPerUser = 1 })
	u := callers(200)
	byID := map[string]boxoffice.Caller{}
	for _, c := range u {
		byID[c.UserID] = c
		if _, err := r.Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		tick(t, r)
		h.clock.Advance(time.Second)
	}
	if len(admitted) != 20 {
		t.Fatalf("admitted %d with 10 tickets, want 20", len(admitted))
	}
	pollers := admitted[:5]
	for range 4 { // 40 s, polling every 10 s
		for _, id := range pollers {
			if st := status(t, r, byID[id], e.ID); st.Status != boxoffice.QueueAdmitted {
				t.Fatalf("a polling holder: %+v", st)
			}
		}
		for range 10 {
			tick(t, r)
			h.clock.Advance(time.Second)
		}
	}
	if len(admitted) != 35 {
		t.Fatalf("admitted %d after the first admissions went idle, want 35 (20 + 15: the 5 who poll still count)", len(admitted))
	}
	// An abandoned holder comes back before the admission ends: it is
	// still admitted, and the token buys.
	back := byID[admitted[7]]
	st := status(t, r, back, e.ID)
	if st.Status != boxoffice.QueueAdmitted {
		t.Fatalf("a holder back within the admission: %+v", st)
	}
	if _, err := h.svc.CreateReservation(ctx, back, boxoffice.HoldInput{
		EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1, AdmissionToken: st.AdmissionToken,
	}); err != nil {
		t.Fatalf("hold with an idle admission: %v", err)
	}
	// After the admission ends the holder is told it expired.
	gone := byID[admitted[8]]
	h.clock.Advance(boxoffice.DefaultAdmissionTTL)
	tick(t, r)
	if st := status(t, r, gone, e.ID); st.Status != boxoffice.QueueExpired {
		t.Errorf("an abandoned holder after the admission ended: %+v", st)
	}
}

// TestWaitingRoomLeaveEndsAdmission: an admission covers holds up to the
// event's per-user limit until it ends; leaving the queue ends it, at once
// on the instance that served the leave and from the next round on every
// other. Joining again and being admitted again gives a working admission.
func TestWaitingRoomLeaveEndsAdmission(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	q := memory.NewQueue()
	a, b := h.room(q), h.room(q)
	svcA, svcB := h.service(h.store, a), h.service(h.store, b)
	e := h.queued(t, 100, 600, func(in *boxoffice.EventInput) { in.MaxTicketsPerUser = 2 })
	u := callers(2)
	for _, c := range u {
		if _, err := a.Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	tick(t, a)
	h.clock.Advance(time.Second)
	tick(t, a)
	hold := func(svc *boxoffice.Service, c boxoffice.Caller, token string) error {
		_, err := svc.CreateReservation(ctx, c, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1, AdmissionToken: token})
		return err
	}
	st0, st1 := status(t, a, u[0], e.ID), status(t, a, u[1], e.ID)
	if st0.Status != boxoffice.QueueAdmitted || st1.Status != boxoffice.QueueAdmitted {
		t.Fatalf("not admitted: %+v, %+v", st0, st1)
	}
	// Holds up to the per-user limit, then no more.
	for i := range 2 {
		if err := hold(svcA, u[1], st1.AdmissionToken); err != nil {
			t.Fatalf("hold %d within the per-user limit: %v", i+1, err)
		}
	}
	if err := hold(svcA, u[1], st1.AdmissionToken); !errors.Is(err, boxoffice.ErrLimitExceeded) {
		t.Errorf("hold beyond the per-user limit: %v", err)
	}
	// u[0] leaves on instance a: its token buys nothing on a at once, nor
	// on b after b's next round.
	if err := a.Leave(ctx, u[0], e.ID); err != nil {
		t.Fatal(err)
	}
	if err := hold(svcA, u[0], st0.AdmissionToken); !errors.Is(err, boxoffice.ErrNotAdmitted) {
		t.Errorf("hold on the same instance after leaving: %v, want ErrNotAdmitted", err)
	}
	h.clock.Advance(time.Second)
	tick(t, a)
	tick(t, b)
	if err := hold(svcB, u[0], st0.AdmissionToken); !errors.Is(err, boxoffice.ErrNotAdmitted) {
		t.Errorf("hold on another instance after leaving: %v, want ErrNotAdmitted", err)
	}
	// Joining again: waiting, not admitted; then admitted again.
	if st, err := a.Join(ctx, u[0], e.ID); err != nil || st.Status != boxoffice.QueueWaiting {
		t.Fatalf("join again: %+v, %v", st, err)
	}
	if err := hold(svcA, u[0], st0.AdmissionToken); !errors.Is(err, boxoffice.ErrNotAdmitted) {
		t.Errorf("hold with the old token while waiting again: %v, want ErrNotAdmitted", err)
	}
	h.clock.Advance(time.Second)
	tick(t, a)
	tick(t, b)
	st := status(t, a, u[0], e.ID)
	if st.Status != boxoffice.QueueAdmitted {
		t.Fatalf("after joining again: %+v", st)
	}
	if err := hold(svcB, u[0], st.AdmissionToken); err != nil {
		t.Errorf("hold with the new admission: %v", err)
	}
}

// BenchmarkAdmits is the waiting room's cost on the hold path of a
// queue-enabled event, with some admissions revoked.
func BenchmarkAdmits(b *testing.B) {
	tokens := auth.NewAdmissionTokens(auth.AdmissionSecret([]byte("test-secret-test-secret-test-secret!")))
	var r *boxoffice.WaitingRoom
	ev, user := boxoffice.NewID(), boxoffice.NewID()
	token, err := tokens.Issue(user, ev, time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	// A thousand admissions of the event revoked by leaving.
	ctx := b.Context()
	q := memory.NewQueue()
	r = boxoffice.NewWaitingRoom(boxoffice.WaitingRoomConfig{Queue: q, Tokens: tokens, Owner: "bench"})
	for _, c := range callers(1000) {
		if _, _, err := q.Join(ctx, ev, c.UserID, false, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	if ok, err := q.Lead(ctx, "other", time.Hour); !ok || err != nil {
		b.Fatal(ok, err)
	}
	if _, err := q.Release(ctx, ev, "other", nil); err != nil {
		b.Fatal(err)
	}
	res, err := q.Admit(ctx, ev, boxoffice.AdmitRequest{Owner: "other", Now: time.Now(), Max: 1000, Limit: -1, Until: time.Now().Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	for _, u := range res.Admitted {
		if err := q.Leave(ctx, ev, u); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Tick(ctx); err != nil { // not the coordinator; learns the revocations
		b.Fatal(err)
	}
	// The token check alone, for comparison: the difference is what the
	// revocation check adds to each hold.
	for _, bc := range []struct {
		name   string
		admits func(token, userID, eventID string) bool
	}{{"token", tokens.Verify}, {"room", r.Admits}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !bc.admits(token, user, ev) {
						b.Fatal("not admitted")
					}
				}
			})
		})
	}
}
