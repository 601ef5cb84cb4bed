package storetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"boxoffice"
)

// testHoldDecision checks that the store decides holds exactly as
// boxoffice.DecideHolds does: named regressions first, then random batches.
func testHoldDecision(t *testing.T, s boxoffice.Store) {
	// A request refused for lack of tickets must not count against its
	// user's limit: a smaller one after it in the same batch is granted.
	// (A store that checked the limit first and counted the refused request
	// answered limit_exceeded to the second request.)
	t.Run("RefusedRequestDoesNotCountTowardsLimit", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 5) // at most 4 per user
		a, b := createUser(t, s), createUser(t, s)
		at := now()
		mustHold(t, s, e, 0, a.ID, 3, at)
		reqs := []*boxoffice.HoldRequest{
			newHold(e, 0, b.ID, 3, at), // 2 left: sold out
			newHold(e, 0, b.ID, 2, at), // fits, and B holds none
		}
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, reqs))
		wantErr(t, "request for 3", reqs[0].Err, boxoffice.ErrSoldOut)
		if reqs[1].Err != nil {
			t.Fatalf("request for 2: %v, want granted", reqs[1].Err)
		}
		wantReserved(t, s, e.ID, 5)
		wantBalanced(t, s, e.ID)
	})

	// A request repeated with its key while the tier is sold out is told
	// its key is on record (and is then replayed), not sold_out.
	t.Run("RecordedKeyOnSoldOutTier", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 2)
		u := createUser(t, s)
		at := now()
		first := newHold(e, 0, u.ID, 2, at)
		first.Idempotency = newIdem(t, first.Reservation, "sold-out-retry", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{first}))
		if first.Err != nil {
			t.Fatalf("first hold: %v", first.Err)
		}
		again := newHold(e, 0, u.ID, 2, at)
		again.Idempotency = newIdem(t, again.Reservation, "sold-out-retry", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{again}))
		wantErr(t, "repeated request on a sold-out tier", again.Err, boxoffice.ErrIdempotencyKeyReused)
		wantReserved(t, s, e.ID, 2)
	})

	// A hold repeated with its key after it was granted must be told its
	// key is on record even though, counted again, it would exceed the
	// user's limit (a store that looked keys up lazily answered
	// limit_exceeded to the retry of a successful hold).
	t.Run("RecordedKeyOverLimit", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10) // at most 4 per user
		u := createUser(t, s)
		at := now()
		first := newHold(e, 0, u.ID, 3, at)
		first.Idempotency = newIdem(t, first.Reservation, "retry-over-limit", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{first}))
		if first.Err != nil {
			t.Fatalf("first hold: %v", first.Err)
		}
		again := newHold(e, 0, u.ID, 3, at)
		again.Idempotency = newIdem(t, again.Reservation, "retry-over-limit", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{again}))
		wantErr(t, "repeated request over the limit", again.Err, boxoffice.ErrIdempotencyKeyReused)
		wantReserved(t, s, e.ID, 3)
	})

	t.Run("RandomBatches", func(t *testing.T) { testRandomHoldBatches(t, s) })
}

// holdModel is what the test knows of one event: the tickets left per tier,
// each user's held tickets, the keys on record and the granted holds.
type holdModel struct {
	left     []int
	tickets  map[string]int
	recorded map[boxoffice.IdempotencyKey]bool
	held     []*boxoffice.Reservation
}

// testRandomHoldBatches runs random batches (users, quantities, limits,
// capacities, earlier holds and cancellations, reused and duplicated
// idempotency keys) through the store and checks every verdict against
// boxoffice.DecideHolds given the facts the test tracked, and the inventory
// against the model. BOXOFFICE_PROPERTY_BATCHES sets the number of batches
// (default 2000) and BOXOFFICE_PROPERTY_SEED the seed (default: random,
// logged).
func testRandomHoldBatches(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	batches := 2000
	if n, err := strconv.Atoi(os.Getenv("BOXOFFICE_PROPERTY_BATCHES")); err == nil && n > 0 {
		batches = n
	}
	seed := rand.Uint64()
	if n, err := strconv.ParseUint(os.Getenv("BOXOFFICE_PROPERTY_SEED"), 10, 64); err == nil {
		seed = n
	}
	t.Logf("BOXOFFICE_PROPERTY_SEED=%d BOXOFFICE_PROPERTY_BATCHES=%d", seed, batches)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	users := make([]string, 4)
	for i := range users {
		users[i] = createUser(t, s).ID
	}
	const batchesPerEvent = 8
	var e *boxoffice.Event
	var m *holdModel
	keyN := 0
	at := now()
	for b := range batches {
		if b%batchesPerEvent == 0 {
			e = newEvent(1+rng.IntN(12), 1+rng.IntN(12))
			e.MaxTicketsPerUser = 1 + rng.IntN(6)
			must(t, "CreateEvent", s.CreateEvent(ctx, e))
			m = &holdModel{
				left:     []int{e.Tiers[0].Capacity, e.Tiers[1].Capacity},
				tickets:  map[string]int{},
				recorded: map[boxoffice.IdempotencyKey]bool{},
			}
		}
		// Now and then a granted hold is cancelled: tickets come back to
		// the tier and to the user's count.
		if len(m.held) > 0 && rng.IntN(4) == 0 {
			i := rng.IntN(len(m.held))
			r := m.held[i]
			_, err := s.Cancel(ctx, r.ID, at, time.Time{}, nil)
			must(t, "Cancel", err)
			m.left[tierIndex(e, r.TierID)] += r.Quantity
			m.tickets[r.UserID] -= r.Quantity
			m.held = append(m.held[:i], m.held[i+1:]...)
		}

		tier := rng.IntN(2)
		reqs := make([]*boxoffice.HoldRequest, 1+rng.IntN(8))
		var keys []boxoffice.IdempotencyKey // keys of this event, to reuse
		for k := range m.recorded {
			keys = append(keys, k)
		}
		for i := range reqs {
			u := users[rng.IntN(len(users))]
			req := newHold(e, tier, u, 1+rng.IntN(6), at)
			switch rng.IntN(6) {
			case 0, 1: // a new key
				keyN++
				req.Idempotency = newIdem(t, req.Reservation, fmt.Sprintf("k%d", keyN), at)
			case 2: // a key of an earlier request of this batch, or recorded
				if i > 0 && reqs[i-1].Idempotency != nil && rng.IntN(2) == 0 {
					prev := reqs[i-1].Idempotency
					req.Reservation.UserID = prev.UserID
					req.Idempotency = newIdem(t, req.Reservation, prev.Key, at)
				} else if len(keys) > 0 {
					k := keys[rng.IntN(len(keys))]
					req.Reservation.UserID = k.UserID
					req.Idempotency = newIdem(t, req.Reservation, k.Key, at)
				}
			}
			reqs[i] = req
		}

		// What DecideHolds says, on copies, from the facts the test knows.
		want := make([]*boxoffice.HoldRequest, len(reqs))
		for i, r := range reqs {
			c := *r
			want[i] = &c
		}
		tickets := make(map[string]int, len(m.tickets))
		for u, n := range m.tickets {
			tickets[u] = n
		}
		granted := boxoffice.DecideHolds(want, boxoffice.HoldFacts{Left: m.left[tier], Tickets: tickets, Recorded: m.recorded})

		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[tier].ID, reqs))
		for i := range reqs {
			if boxoffice.CodeOf(reqs[i].Err) != boxoffice.CodeOf(want[i].Err) || (reqs[i].Err == nil) != (want[i].Err == nil) {
				t.Fatalf("batch %d (seed %d), request %d of %d (user %s, %d tickets, key %v): store says %v, DecideHolds %v\nfacts: left %d, tickets %v, limit %d",
					b, seed, i, len(reqs), reqs[i].Reservation.UserID, reqs[i].Reservation.Quantity, reqs[i].Idempotency != nil,
					reqs[i].Err, want[i].Err, m.left[tier], m.tickets, e.MaxTicketsPerUser)
			}
			if r := reqs[i]; r.Err == nil {
				m.tickets[r.Reservation.UserID] += r.Reservation.Quantity
				m.held = append(m.held, r.Reservation)
				if r.Idempotency != nil {
					m.recorded[boxoffice.IdempotencyKey{UserID: r.Idempotency.UserID, Key: r.Idempotency.Key}] = true
				}
			}
		}
		m.left[tier] -= granted
		if b%batchesPerEvent == batchesPerEvent-1 || b == batches-1 {
			wantReserved(t, s, e.ID, e.Tiers[0].Capacity-m.left[0], e.Tiers[1].Capacity-m.left[1])
			wantBalanced(t, s, e.ID)
		}
	}
}

func tierIndex(e *boxoffice.Event, tierID string) int {
	for i := range e.Tiers {
		if e.Tiers[i].ID == tierID {
			return i
		}
	}
	panic("no tier " + tierID)
}
