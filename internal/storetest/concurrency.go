package storetest

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice"
)

// testConcurrentSellOut sends 2,000 single-ticket requests from 2,000 users
// for a tier of 500 in batches of random size from 32 goroutines: exactly
// 500 are granted.
func testConcurrentSellOut(t *testing.T, s boxoffice.Store) {
	const (
		capacity = 500
		requests = 2000
		workers  = 32
		maxBatch = 50
	)
	ctx := t.Context()
	users := createUsers(t, s, requests)
	e := createEvent(t, s, capacity)
	at := now()

	var batches [][]*boxoffice.HoldRequest
	order := rand.Perm(requests)
	for len(order) > 0 {
		n := min(1+rand.IntN(maxBatch), len(order))
		batch := make([]*boxoffice.HoldRequest, n)
		for i, u := range order[:n] {
			batch[i] = newHold(e, 0, users[u], 1, at)
		}
		batches = append(batches, batch)
		order = order[n:]
	}
	work := make(chan []*boxoffice.HoldRequest, len(batches))
	for _, b := range batches {
		work <- b
	}
	close(work)

	var wg sync.WaitGroup
	errs := make(chan error, len(batches))
	for range workers {
		wg.Go(func() {
			for b := range work {
				if err := s.CreateHolds(ctx, e.Tiers[0].ID, b); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreateHolds failed as a whole: %v", err)
	}

	var granted []*boxoffice.Reservation
	for _, b := range batches {
		for _, req := range b {
			switch {
			case req.Err == nil:
				granted = append(granted, req.Reservation)
			case !errors.Is(req.Err, boxoffice.ErrSoldOut):
				t.Fatalf("request refused with %v, want nil or ErrSoldOut", req.Err)
			}
		}
	}
	if len(granted) != capacity {
		t.Fatalf("%d holds granted, want %d", len(granted), capacity)
	}
	wantReserved(t, s, e.ID, capacity)
	sales := wantBalanced(t, s, e.ID)
	if sales.Tiers[0].Held != capacity || sales.Tiers[0].Available != 0 {
		t.Fatalf("sales after sell-out: %+v", sales.Tiers[0])
	}
	for _, r := range granted {
		got, err := s.Reservation(ctx, r.ID)
		must(t, "Reservation(granted)", err)
		diff(t, "granted reservation", r, got)
	}
}

// testConcurrentLimit sends 20 concurrent single-ticket holds of one user,
// over two tiers of an event with a limit of 4: exactly 4 are granted.
func testConcurrentLimit(t *testing.T, s boxoffice.Store) {
	const requests = 20
	ctx := t.Context()
	e := createEvent(t, s, 100, 100) // at most 4 per user
	u := createUser(t, s)
	at := now()

	reqs := make([]*boxoffice.HoldRequest, requests)
	for i := range reqs {
		reqs[i] = newHold(e, i%2, u.ID, 1, at)
	}
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	for _, req := range reqs {
		wg.Go(func() {
			if err := s.CreateHolds(ctx, req.Reservation.TierID, []*boxoffice.HoldRequest{req}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreateHolds failed as a whole: %v", err)
	}
	granted := 0
	for _, req := range reqs {
		switch {
		case req.Err == nil:
			granted++
		case !errors.Is(req.Err, boxoffice.ErrLimitExceeded):
			t.Fatalf("request refused with %v, want nil or ErrLimitExceeded", req.Err)
		}
	}
	if granted != e.MaxTicketsPerUser {
		t.Fatalf("%d holds granted, want %d", granted, e.MaxTicketsPerUser)
	}
	res := reserved(t, s, e.ID)
	if res[0]+res[1] != e.MaxTicketsPerUser {
		t.Fatalf("Reserved %v, want a sum of %d", res, e.MaxTicketsPerUser)
	}
	wantBalanced(t, s, e.ID)
}

// testConcurrentExpire expires 300 holds from several goroutines at once:
// each expires exactly once.
func testConcurrentExpire(t *testing.T, s boxoffice.Store) {
	const (
		expired = 300
		live    = 20
		workers = 6
		limit   = 25
	)
	ctx := t.Context()
	e := createEvent(t, s, 2000)
	e.MaxTicketsPerUser = 1000
	u := createUser(t, s)
	at := now()
	past := at.Add(-time.Duration(e.HoldSeconds)*time.Second - time.Minute)

	var holds []*boxoffice.HoldRequest
	for i := range expired + live {
		created := past
		if i >= expired {
			created = at
		}
		holds = append(holds, newHold(e, 0, u.ID, 1, created))
	}
	for i := 0; i < len(holds); i += 50 {
		batch := holds[i:min(i+50, len(holds))]
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, batch))
		for _, req := range batch {
			must(t, "hold", req.Err)
		}
	}
	wantReserved(t, s, e.ID, expired+live)

	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				n, err := s.ExpireHolds(ctx, at, limit)
				if err != nil {
					errs <- err
					return
				}
				if n < 0 || n > limit {
					errs <- errors.New("ExpireHolds returned a count outside 0..limit")
					return
				}
				total.Add(int64(n))
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ExpireHolds: %v", err)
	}
	// Every worker stopped after a call that found nothing, so nothing is left.
	n, err := s.ExpireHolds(ctx, at, 1000)
	must(t, "ExpireHolds after the race", err)
	if got := total.Load() + int64(n); got != expired {
		t.Fatalf("ExpireHolds expired %d in total, want %d", got, expired)
	}
	for i, req := range holds {
		want := boxoffice.StatusExpired
		if i >= expired {
			want = boxoffice.StatusHeld
		}
		wantStatus(t, s, req.Reservation.ID, want)
	}
	wantReserved(t, s, e.ID, live)
	wantBalanced(t, s, e.ID)
	// The user's counter went down by exactly the expired tickets.
	wantErr(t, "hold past the limit", newHoldErr(t, s, e, u.ID, e.MaxTicketsPerUser-live+1, at), boxoffice.ErrLimitExceeded)
	mustHold(t, s, e, 0, u.ID, e.MaxTicketsPerUser-live, at)
}

// testConfirmRacesExpiry confirms holds at the instant they expire while
// ExpireHolds runs: each ends either confirmed and counted, or expired and
// released, never both.
func testConfirmRacesExpiry(t *testing.T, s boxoffice.Store) {
	const (
		holds    = 60
		expirers = 4
	)
	ctx := t.Context()
	e := createEvent(t, s, 200, 200)
	e.MaxTicketsPerUser = 200
	u := createUser(t, s)
	expiry := now().Add(time.Hour)
	created := expiry.Add(-time.Duration(e.HoldSeconds) * time.Second)

	var rs []*boxoffice.Reservation
	for i := range holds {
		rs = append(rs, mustHold(t, s, e, i%2, u.ID, 1+i%3, created))
	}

	var c charger
	results := make([]error, holds)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range rs {
		// Most confirm a moment before the expiry, racing the sweeper;
		// every fifth one is exactly at the expiry and must lose.
		at := expiry.Add(-time.Duration(1+rand.IntN(3)) * time.Microsecond)
		if i%5 == 0 {
			at = expiry
		}
		wg.Go(func() {
			<-start
			_, results[i] = s.Confirm(ctx, r.ID, at, c.charge, nil)
		})
	}
	var expireErr atomic.Value
	for range expirers {
		wg.Go(func() {
			<-start
			for {
				n, err := s.ExpireHolds(ctx, expiry, 5)
				if err != nil {
					expireErr.Store(err)
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if err, _ := expireErr.Load().(error); err != nil {
		t.Fatalf("ExpireHolds: %v", err)
	}
	_, err := s.ExpireHolds(ctx, expiry, 1000)
	must(t, "final ExpireHolds", err)

	var confirmed [2]int
	for i, r := range rs {
		got, err := s.Reservation(ctx, r.ID)
		must(t, "Reservation", err)
		charged := c.count(r.ID)
		switch {
		case results[i] == nil:
			if got.Status != boxoffice.StatusConfirmed || charged != 1 {
				t.Fatalf("reservation %d: Confirm succeeded but status %q, charged %d times", i, got.Status, charged)
			}
			confirmed[i%2] += r.Quantity
		case errors.Is(results[i], boxoffice.ErrHoldExpired):
			if got.Status != boxoffice.StatusExpired || charged != 0 {
				t.Fatalf("reservation %d: ErrHoldExpired but status %q, charged %d times", i, got.Status, charged)
			}
		default:
			t.Fatalf("reservation %d: Confirm: %v", i, results[i])
		}
		if i%5 == 0 && results[i] == nil {
			t.Fatalf("reservation %d confirmed at its expiry instant", i)
		}
	}
	wantReserved(t, s, e.ID, confirmed[0], confirmed[1])
	sales := wantBalanced(t, s, e.ID)
	for i, ts := range sales.Tiers {
		if ts.Held != 0 || ts.Confirmed != confirmed[i] {
			t.Fatalf("tier %d sales %+v, want 0 held and %d confirmed", i, ts, confirmed[i])
		}
	}
}
