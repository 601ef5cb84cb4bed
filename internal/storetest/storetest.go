// Package storetest is the conformance suite for boxoffice.Store: the
// executable definition of a correct store. Every Store implementation runs
// it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) boxoffice.Store { ... })
//	}
//
// The suite only uses the Store interface (and boxoffice.Seeder, when the
// store implements it, to create many users quickly), so it runs unchanged
// against SQLite and MySQL/MariaDB.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"

	"github.com/google/go-cmp/cmp"
)

// Run runs the whole conformance suite. Each call of open must return a
// fresh, empty, migrated store; the opener is responsible for cleaning it up
// with t.Cleanup. Groups of subtests share one store, so open is called a
// dozen or so times, never concurrently.
func Run(t *testing.T, open func(t *testing.T) boxoffice.Store) {
	t.Run("Basics", func(t *testing.T) { testBasics(t, open(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open(t)) })
	t.Run("ListEvents", func(t *testing.T) { testListEvents(t, open(t)) })
	t.Run("UpdateEvent", func(t *testing.T) { testUpdateEvent(t, open(t)) })
	t.Run("DeleteEvent", func(t *testing.T) { testDeleteEvent(t, open(t)) })
	t.Run("Bookmarks", func(t *testing.T) { testBookmarks(t, open(t)) })
	t.Run("Holds", func(t *testing.T) { testHolds(t, open(t)) })
	t.Run("HoldDecision", func(t *testing.T) { testHoldDecision(t, open(t)) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, open(t)) })
	t.Run("ChangeQuantity", func(t *testing.T) { testChangeQuantity(t, open(t)) })
	t.Run("Confirm", func(t *testing.T) { testConfirm(t, open(t)) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, open(t)) })
	t.Run("ExpireHolds", func(t *testing.T) { testExpireHolds(t, open(t)) })
	t.Run("ListReservations", func(t *testing.T) { testListReservations(t, open(t)) })
	t.Run("Sales", func(t *testing.T) { testSales(t, open(t)) })
	t.Run("Mail", func(t *testing.T) { testMail(t, open(t)) })
	t.Run("RefreshTokens", func(t *testing.T) { testRefreshTokens(t, open(t)) })
	runOrganizers(t, open)
	runOrders(t, open)
	runTickets(t, open)
	RunAttendees(t, open)
	runWebhooks(t, open)
	runAudit(t, open)
	t.Run("Concurrency", func(t *testing.T) {
		t.Run("HoldsNeverOversell", func(t *testing.T) { testConcurrentSellOut(t, open(t)) })
		t.Run("LimitPerUser", func(t *testing.T) { testConcurrentLimit(t, open(t)) })
		t.Run("ExpireOnce", func(t *testing.T) { testConcurrentExpire(t, open(t)) })
		t.Run("ConfirmRacesExpiry", func(t *testing.T) { testConfirmRacesExpiry(t, open(t)) })
		t.Run("CheckInOnce", func(t *testing.T) { testConcurrentCheckIn(t, open(t)) })
	})
}

func testBasics(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// The opener migrated the store already; migrating again is a no-op.
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after Migrate: %v", err)
	}
}

// now returns the current time the way the service makes it: UTC,
// truncated to microseconds.
// refundable is a refund deadline far in the future: a confirmed
// reservation may be cancelled.
var refundable = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// must fails the test when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// diff fails the test when got differs from want.
func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Fatalf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// newUser returns a user that is not stored yet.
func newUser() *boxoffice.User {
	id := boxoffice.NewID()
	return &boxoffice.User{
		ID:           id,
		Email:        "user-" + strings.ToLower(id) + "@example.test",
		Name:         "Test User",
		Role:         boxoffice.RoleUser,
		PasswordHash: []byte("$2a$10$not-a-real-hash-" + id),
		CreatedAt:    now(),
	}
}

// createUser stores and returns a new user.
func createUser(t *testing.T, s boxoffice.Store) *boxoffice.User {
	t.Helper()
	u := newUser()
	must(t, "CreateUser", s.CreateUser(t.Context(), u, nil))
	return u
}

// createUsers stores n users and returns their IDs. It uses the store's
// Seeder when it has one (on a fresh store only: seeded users have fixed
// IDs and emails), which is far faster than n single inserts.
func createUsers(t *testing.T, s boxoffice.Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	if seeder, ok := s.(boxoffice.Seeder); ok {
		spec := boxoffice.SeedSpec{Users: n, PasswordHash: []byte("seed-hash"), Now: now()}
		must(t, "Seed users", seeder.Seed(t.Context(), spec, nil))
		for i := range ids {
			ids[i] = boxoffice.SeedUserID(i)
		}
		return ids
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range ids {
		u := newUser()
		ids[i] = u.ID
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.CreateUser(t.Context(), u, nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreateUser: %v", err)
	}
	return ids
}

// newEvent returns an event that is not stored yet: on sale from an hour
// ago for a day, starting in 30 days, at most 4 tickets per user, with one
// tier per capacity given (10 when none), priced 5000, 7000, … USD.
func newEvent(capacities ...int) *boxoffice.Event {
	if len(capacities) == 0 {
		capacities = []int{10}
	}
	n := now()
	ends := n.Add(30*24*time.Hour + 3*time.Hour)
	e := &boxoffice.Event{
		ID:                boxoffice.NewID(),
		OrganizerID:       boxoffice.DefaultOrganizerID,
		Status:            boxoffice.EventPublished,
		Title:             "Test Event",
		Description:       "An event made by the conformance suite.",
		Venue:             "Test Hall",
		StartsAt:          n.Add(30 * 24 * time.Hour),
		EndsAt:            &ends,
		SalesStartAt:      n.Add(-time.Hour),
		SalesEndAt:        n.Add(24 * time.Hour),
		MaxTicketsPerUser: 4,
		HoldSeconds:       900,
		CreatedAt:         n,
		UpdatedAt:         n,
	}
	for i, c := range capacities {
		e.Tiers = append(e.Tiers, boxoffice.Tier{
			ID:       boxoffice.NewID(),
			EventID:  e.ID,
			Name:     fmt.Sprintf("Tier %d", i+1),
			Price:    boxoffice.Money{Amount: 5000 + 2000*int64(i), Currency: "USD"},
			Capacity: c,
		})
	}
	return e
}

// createEvent stores and returns newEvent(capacities...).
func createEvent(t *testing.T, s boxoffice.Store, capacities ...int) *boxoffice.Event {
	t.Helper()
	e := newEvent(capacities...)
	must(t, "CreateEvent", s.CreateEvent(t.Context(), e))
	return e
}

// newHold returns a hold request built the way the service builds one: a
// held reservation of quantity tickets of tier i of e for user, made at at,
// priced at the tier's price, expiring after the event's hold seconds.
func newHold(e *boxoffice.Event, i int, user string, quantity int, at time.Time) *boxoffice.HoldRequest {
	tier := &e.Tiers[i]
	return &boxoffice.HoldRequest{
		Reservation: &boxoffice.Reservation{
			ID:            boxoffice.NewID(),
			EventID:       e.ID,
			TierID:        tier.ID,
			UserID:        user,
			Quantity:      quantity,
			Status:        boxoffice.StatusHeld,
			Amount:        boxoffice.Money{Amount: tier.Price.Amount * int64(quantity), Currency: tier.Price.Currency},
			HoldExpiresAt: at.Add(time.Duration(e.HoldSeconds) * time.Second),
			CreatedAt:     at,
			UpdatedAt:     at,
		},
		MaxPerUser: e.MaxTicketsPerUser,
	}
}

// hold asks for one hold in a batch of its own and returns the request
// with the store's verdict in Err.
func hold(t *testing.T, s boxoffice.Store, e *boxoffice.Event, i int, user string, quantity int, at time.Time) *boxoffice.HoldRequest {
	t.Helper()
	req := newHold(e, i, user, quantity, at)
	must(t, "CreateHolds", s.CreateHolds(t.Context(), req.Reservation.TierID, []*boxoffice.HoldRequest{req}))
	return req
}

// mustHold is hold that fails the test unless the hold is granted, and
// returns the reservation.
func mustHold(t *testing.T, s boxoffice.Store, e *boxoffice.Event, i int, user string, quantity int, at time.Time) *boxoffice.Reservation {
	t.Helper()
	req := hold(t, s, e, i, user, quantity, at)
	if req.Err != nil {
		t.Fatalf("hold of %d: %v", quantity, req.Err)
	}
	return req.Reservation
}

// reserved returns the Reserved counts of e's tiers as the store has them.
func reserved(t *testing.T, s boxoffice.Store, eventID string) []int {
	t.Helper()
	e, err := s.Event(t.Context(), eventID)
	must(t, "Event", err)
	out := make([]int, len(e.Tiers))
	for i, tier := range e.Tiers {
		out[i] = tier.Reserved
	}
	return out
}

// wantReserved fails the test unless e's tiers have the given Reserved
// counts.
func wantReserved(t *testing.T, s boxoffice.Store, eventID string, want ...int) {
	t.Helper()
	diff(t, "Reserved per tier", want, reserved(t, s, eventID))
}

// wantStatus fails the test unless the stored reservation has status want.
func wantStatus(t *testing.T, s boxoffice.Store, id string, want boxoffice.ReservationStatus) *boxoffice.Reservation {
	t.Helper()
	r, err := s.Reservation(t.Context(), id)
	must(t, "Reservation", err)
	if r.Status != want {
		t.Fatalf("reservation %s: status %q, want %q", id, r.Status, want)
	}
	return r
}

// wantBalanced fails the test unless every tier of the event satisfies
// held + confirmed + available = capacity and held + confirmed = Reserved.
func wantBalanced(t *testing.T, s boxoffice.Store, eventID string) *boxoffice.Sales {
	t.Helper()
	sales, err := s.Sales(t.Context(), eventID)
	must(t, "Sales", err)
	res := reserved(t, s, eventID)
	if len(sales.Tiers) != len(res) {
		t.Fatalf("Sales has %d tiers, the event %d", len(sales.Tiers), len(res))
	}
	for i, ts := range sales.Tiers {
		if ts.Held+ts.Confirmed+ts.Available != ts.Capacity || ts.Held < 0 || ts.Confirmed < 0 || ts.Available < 0 {
			t.Fatalf("tier %s unbalanced: %+v", ts.TierID, ts)
		}
		if ts.Held+ts.Confirmed != res[i] {
			t.Fatalf("tier %s: held %d + confirmed %d != Reserved %d", ts.TierID, ts.Held, ts.Confirmed, res[i])
		}
	}
	return sales
}

// chargeOK is a charge function that always succeeds.
func chargeOK(context.Context, *boxoffice.Reservation) error { return nil }

// errCharge is what a failing charge function returns.
var errCharge = errors.New("storetest: charge failed")

// charger counts calls of its charge function and fails them with err.
type charger struct {
	mu    sync.Mutex
	calls map[string]int
	err   error
}

func (c *charger) charge(_ context.Context, r *boxoffice.Reservation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = make(map[string]int)
	}
	c.calls[r.ID]++
	return c.err
}

func (c *charger) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}
