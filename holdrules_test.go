package boxoffice

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func holdReq(user string, quantity, maxPerUser int, key string) *HoldRequest {
	r := &HoldRequest{Reservation: &Reservation{UserID: user, Quantity: quantity}, MaxPerUser: maxPerUser}
	if key != "" {
		r.Idempotency = &Idempotency{UserID: user, Key: key}
	}
	return r
}

func TestDecideHolds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts HoldFacts
		reqs  []*HoldRequest
		want  []error
	}{{
		name:  "a refused request does not count towards the limit",
		facts: HoldFacts{Left: 2, Tickets: map[string]int{"a": 3}},
		reqs:  []*HoldRequest{holdReq("b", 3, 4, ""), holdReq("b", 2, 4, "")},
		want:  []error{ErrSoldOut, nil},
	}, {
		name:  "availability before the limit",
		facts: HoldFacts{Left: 1, Tickets: map[string]int{"a": 4}},
		reqs:  []*HoldRequest{holdReq("a", 2, 4, ""), holdReq("a", 1, 4, "")},
		want:  []error{ErrSoldOut, ErrLimitExceeded},
	}, {
		name:  "the limit counts grants earlier in the batch",
		facts: HoldFacts{Left: 20},
		reqs:  []*HoldRequest{holdReq("a", 2, 4, ""), holdReq("b", 4, 4, ""), holdReq("a", 3, 4, ""), holdReq("a", 2, 4, ""), holdReq("a", 1, 4, "")},
		want:  []error{nil, nil, ErrLimitExceeded, nil, ErrLimitExceeded},
	}, {
		name:  "keys: recorded, claimed earlier in the batch (even when refused), other users' own",
		facts: HoldFacts{Left: 3, Recorded: map[IdempotencyKey]bool{{"a", "k1"}: true}},
		reqs:  []*HoldRequest{holdReq("a", 1, 4, "k1"), holdReq("a", 5, 9, "k2"), holdReq("a", 1, 4, "k2"), holdReq("b", 1, 4, "k2")},
		want:  []error{ErrIdempotencyKeyReused, ErrSoldOut, ErrIdempotencyKeyReused, nil},
	}, {
		name:  "no limit below 1; no tickets for less than one",
		facts: HoldFacts{Left: 10},
		reqs:  []*HoldRequest{holdReq("a", 9, 0, ""), holdReq("a", 0, 4, "")},
		want:  []error{nil, ErrSoldOut},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			granted := DecideHolds(tc.reqs, tc.facts)
			sum := 0
			for i, r := range tc.reqs {
				if !errors.Is(r.Err, tc.want[i]) || (r.Err == nil) != (tc.want[i] == nil) {
					t.Errorf("request %d: %v, want %v", i, r.Err, tc.want[i])
				}
				if r.Err == nil {
					sum += r.Reservation.Quantity
				}
			}
			if granted != sum {
				t.Errorf("granted %d, requests granted add up to %d", granted, sum)
			}
		})
	}
}

// TestHoldCandidatesCoverGrants: whatever the tickets left, every request
// DecideHolds grants is a candidate, and grants never exceed what is left or
// a user's limit.
func TestHoldCandidatesCoverGrants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	users := []string{"a", "b", "c"}
	for range 20000 {
		facts := HoldFacts{Left: rng.IntN(15), Tickets: map[string]int{}, Recorded: map[IdempotencyKey]bool{}}
		limit := 1 + rng.IntN(6)
		for _, u := range users {
			facts.Tickets[u] = rng.IntN(limit + 1)
			if rng.IntN(3) == 0 {
				facts.Recorded[IdempotencyKey{u, "k0"}] = true
			}
		}
		reqs := make([]*HoldRequest, 1+rng.IntN(8))
		for i := range reqs {
			key := ""
			if rng.IntN(2) == 0 {
				key = []string{"k0", "k1", "k2"}[rng.IntN(3)]
			}
			reqs[i] = holdReq(users[rng.IntN(len(users))], rng.IntN(7), limit, key)
		}
		cand := HoldCandidates(reqs, facts)
		granted := DecideHolds(reqs, facts)
		perUser := map[string]int{}
		for i, r := range reqs {
			if r.Err == nil {
				if !cand[i] {
					t.Fatalf("request %d granted but not a candidate: %+v", i, facts)
				}
				perUser[r.Reservation.UserID] += r.Reservation.Quantity
			}
		}
		if granted > facts.Left {
			t.Fatalf("granted %d of %d left", granted, facts.Left)
		}
		for u, n := range perUser {
			if facts.Tickets[u]+n > limit {
				t.Fatalf("user %s: %d + %d over the limit %d", u, facts.Tickets[u], n, limit)
			}
		}
	}
}

func TestDecideQuantityChange(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	held := &Reservation{Status: StatusHeld, Quantity: 2, HoldExpiresAt: now.Add(time.Minute)}
	for _, tc := range []struct {
		name                    string
		r                       *Reservation
		quantity, left, tickets int
		at                      time.Time
		wantDelta               int
		wantErr                 error
	}{
		{"more, fits", held, 4, 2, 2, now, 2, nil},
		{"fewer", held, 1, 0, 2, now, -1, nil},
		{"more than left", held, 5, 2, 2, now, 0, ErrSoldOut},
		{"over the limit", held, 4, 10, 3, now, 0, ErrLimitExceeded},
		{"hold ran out", held, 1, 10, 2, now.Add(time.Minute), 0, ErrHoldExpired},
		{"not held", &Reservation{Status: StatusConfirmed, Quantity: 2, HoldExpiresAt: now.Add(time.Minute)}, 1, 10, 2, now, 0, ErrInvalidState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			delta, err := DecideQuantityChange(tc.r, tc.quantity, tc.at, tc.left, tc.tickets, 4)
			if delta != tc.wantDelta || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("got (%d, %v), want (%d, %v)", delta, err, tc.wantDelta, tc.wantErr)
			}
		})
	}
}
