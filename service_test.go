package boxoffice_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/testdb"
	"boxoffice/internal/testpay"
)

// clock is a controllable time source for the service.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type harness struct {
	store boxoffice.Store
	svc   *boxoffice.Service
	clock *clock
	admin boxoffice.Caller
}

// newHarness wires a Service over store with a fake clock and starts its
// background work.
func newHarness(t *testing.T, store boxoffice.Store) *harness {
	t.Helper()
	h := &harness{store: store, clock: newClock(time.Now().Truncate(time.Second))}
	h.svc = h.service(store)
	h.admin = boxoffice.Caller{UserID: boxoffice.NewID(), Role: boxoffice.RoleAdmin}
	return h
}

// service returns another Service (an "instance") on store, sharing the
// clock, with the test payment provider and, when given, a waiting room's
// admissions.
func (h *harness) service(store boxoffice.Store, admissions ...boxoffice.Admissions) *boxoffice.Service {
	cfg := boxoffice.ServiceConfig{
		Store: store, Hasher: auth.NewHasher(4, 0, 0, 0), Provider: testpay.New(""),
		Now: h.clock.Now, SweepInterval: 10 * time.Millisecond,
	}
	if len(admissions) > 0 {
		cfg.Admissions = admissions[0]
	}
	return boxoffice.NewService(cfg)
}

func run(t *testing.T, svc *boxoffice.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) users(t *testing.T, n int) []boxoffice.Caller {
	t.Helper()
	out := make([]boxoffice.Caller, n)
	for i := range out {
		u := &boxoffice.User{ID: boxoffice.NewID(), Email: fmt.Sprintf("u%d-%s@example.com", i, boxoffice.NewID()), Name: "U", Role: boxoffice.RoleUser, PasswordHash: []byte("x"), CreatedAt: h.clock.Now()}
		if err := h.store.CreateUser(context.Background(), u, nil); err != nil {
			t.Fatal(err)
		}
		out[i] = boxoffice.Caller{UserID: u.ID, Role: u.Role}
	}
	return out
}

func (h *harness) event(t *testing.T, capacity, perUser int, mod ...func(*boxoffice.EventInput)) *boxoffice.Event {
	t.Helper()
	now := h.clock.Now()
	in := boxoffice.EventInput{
		Title: "Show", Venue: "Hall", StartsAt: now.Add(48 * time.Hour),
		SalesStartAt: now.Add(-time.Hour), SalesEndAt: now.Add(24 * time.Hour),
		MaxTicketsPerUser: perUser, HoldSeconds: 60,
		Tiers: []boxoffice.TierInput{{Name: "GA", Price: boxoffice.Money{Amount: 5000, Currency: "USD"}, Capacity: capacity}},
	}
	for _, m := range mod {
		m(&in)
	}
	e, err := h.svc.CreateEvent(context.Background(), h.admin, in)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (h *harness) checkSales(t *testing.T, eventID string, wantReserved int) {
	t.Helper()
	s, err := h.svc.Sales(context.Background(), h.admin, eventID)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, ts := range s.Tiers {
		if ts.Held+ts.Confirmed+ts.Available != ts.Capacity {
			t.Errorf("tier %s unbalanced: %+v", ts.TierID, ts)
		}
		total += ts.Held + ts.Confirmed
	}
	if total != wantReserved {
		t.Errorf("held+confirmed = %d, want %d", total, wantReserved)
	}
}

func stores(t *testing.T) map[string]func(*testing.T) boxoffice.Store {
	return map[string]func(*testing.T) boxoffice.Store{
		"sqlite": func(t *testing.T) boxoffice.Store { return testdb.SQLite(t) },
		"mysql":  func(t *testing.T) boxoffice.Store { return testdb.MySQL(t) },
	}
}

// TestHoldRace: 2,000 concurrent buyers for 500 tickets; exactly 500 win.
func TestHoldRace(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			run(t, h.svc)
			e := h.event(t, 500, 4)
			buyers := h.users(t, 2000)
			holdRace(t, h, e, buyers, []*boxoffice.Service{h.svc})
		})
	}
}

// TestHoldRaceThreeInstances: the same race over three services, each with
// its own connection pool, on one MariaDB.
func TestHoldRaceThreeInstances(t *testing.T) {
	url := testdb.MySQLURL(t)
	first := testdb.OpenMySQL(t, url)
	h := newHarness(t, first)
	e := h.event(t, 500, 4)
	buyers := h.users(t, 2000)
	svcs := []*boxoffice.Service{h.svc, h.service(testdb.OpenMySQL(t, url)), h.service(testdb.OpenMySQL(t, url))}
	for _, s := range svcs {
		run(t, s)
	}
	holdRace(t, h, e, buyers, svcs)
}

func holdRace(t *testing.T, h *harness, e *boxoffice.Event, buyers []boxoffice.Caller, svcs []*boxoffice.Service) {
	t.Helper()
	var wg sync.WaitGroup
	var granted, soldOut atomic.Int64
	var mu sync.Mutex
	var ids []string
	for i, c := range buyers {
		wg.Go(func() {
			r, err := svcs[i%len(svcs)].CreateReservation(context.Background(), c, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1})
			switch {
			case err == nil:
				granted.Add(1)
				mu.Lock()
				ids = append(ids, r.ID)
				mu.Unlock()
			case errors.Is(err, boxoffice.ErrSoldOut):
				soldOut.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 500 || soldOut.Load() != int64(len(buyers)-500) {
		t.Fatalf("granted %d, sold out %d; want 500 and %d", granted.Load(), soldOut.Load(), len(buyers)-500)
	}
	for _, id := range ids {
		if _, err := h.store.Reservation(context.Background(), id); err != nil {
			t.Fatalf("acknowledged reservation %s: %v", id, err)
		}
	}
	h.checkSales(t, e.ID, 500)
}

// TestPerUserLimitRace: one user firing 20 holds at once never exceeds the
// event's max_tickets_per_user.
func TestPerUserLimitRace(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			run(t, h.svc)
			e := h.event(t, 100, 4, func(in *boxoffice.EventInput) {
				in.Tiers = append(in.Tiers, boxoffice.TierInput{Name: "VIP", Price: boxoffice.Money{Amount: 9000, Currency: "USD"}, Capacity: 100})
			})
			u := h.users(t, 1)[0]
			var wg sync.WaitGroup
			var tickets atomic.Int64
			for i := range 20 {
				wg.Go(func() {
					r, err := h.svc.CreateReservation(context.Background(), u, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[i%2].ID, Quantity: 1 + i%2})
					if err == nil {
						tickets.Add(int64(r.Quantity))
					} else if !errors.Is(err, boxoffice.ErrLimitExceeded) {
						t.Errorf("unexpected error: %v", err)
					}
				})
			}
			wg.Wait()
			if n := tickets.Load(); n > 4 || n < 3 {
				t.Fatalf("user holds %d tickets; limit 4", n)
			}
			h.checkSales(t, e.ID, int(tickets.Load()))
		})
	}
}

func TestHoldRules(t *testing.T) {
	h := newHarness(t, testdb.SQLite(t))
	run(t, h.svc)
	ctx := context.Background()
	e := h.event(t, 3, 2)
	other := h.event(t, 3, 2)
	u := h.users(t, 2)
	in := func(q int) boxoffice.HoldInput {
		return boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: q}
	}
	for _, tc := range []struct {
		name string
		in   boxoffice.HoldInput
		want boxoffice.Code
	}{
		{"zero", in(0), boxoffice.CodeValidationFailed},
		{"negative", in(-1), boxoffice.CodeValidationFailed},
		{"above limit", in(3), boxoffice.CodeLimitExceeded},
		{"unknown tier", boxoffice.HoldInput{EventID: e.ID, TierID: boxoffice.NewID(), Quantity: 1}, boxoffice.CodeValidationFailed},
		{"tier of another event", boxoffice.HoldInput{EventID: e.ID, TierID: other.Tiers[0].ID, Quantity: 1}, boxoffice.CodeValidationFailed},
		{"unknown event", boxoffice.HoldInput{EventID: boxoffice.NewID(), TierID: e.Tiers[0].ID, Quantity: 1}, boxoffice.CodeNotFound},
		{"malformed event id", boxoffice.HoldInput{EventID: "x'; DROP TABLE events;--", Quantity: 1}, boxoffice.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svc.CreateReservation(ctx, u[0], tc.in)
			if got := boxoffice.CodeOf(err); got != tc.want {
				t.Fatalf("code %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	h.checkSales(t, e.ID, 0)

	if _, err := h.svc.CreateReservation(ctx, u[0], in(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.CreateReservation(ctx, u[1], in(2)); !errors.Is(err, boxoffice.ErrSoldOut) {
		t.Fatalf("got %v, want sold out", err)
	}
	if _, err := h.svc.CreateReservation(ctx, u[0], in(1)); !errors.Is(err, boxoffice.ErrLimitExceeded) {
		t.Fatalf("got %v, want limit exceeded", err)
	}

	closed := h.event(t, 3, 2, func(in *boxoffice.EventInput) { in.SalesStartAt = h.clock.Now().Add(time.Hour) })
	if _, err := h.svc.CreateReservation(ctx, u[1], boxoffice.HoldInput{EventID: closed.ID, TierID: closed.Tiers[0].ID, Quantity: 1}); !errors.Is(err, boxoffice.ErrSalesClosed) {
		t.Fatalf("got %v, want sales closed", err)
	}
	h.svc = h.service(h.store, fixedAdmissions{"admitted"})
	queued := h.event(t, 3, 2, func(in *boxoffice.EventInput) { in.Queue = &boxoffice.QueueConfig{Enabled: true} })
	if _, err := h.svc.CreateReservation(ctx, u[1], boxoffice.HoldInput{EventID: queued.ID, TierID: queued.Tiers[0].ID, Quantity: 1}); !errors.Is(err, boxoffice.ErrNotAdmitted) {
		t.Fatalf("got %v, want not admitted", err)
	}
	if _, err := h.svc.CreateReservation(ctx, u[1], boxoffice.HoldInput{EventID: queued.ID, TierID: queued.Tiers[0].ID, Quantity: 1, AdmissionToken: "forged"}); !errors.Is(err, boxoffice.ErrNotAdmitted) {
		t.Fatalf("got %v, want not admitted", err)
	}
	if _, err := h.svc.CreateReservation(ctx, u[1], boxoffice.HoldInput{EventID: queued.ID, TierID: queued.Tiers[0].ID, Quantity: 1, AdmissionToken: "admitted"}); err != nil {
		t.Fatal(err)
	}
}

// fixedAdmissions admits every holder of its one token.
type fixedAdmissions struct{ token string }

func (a fixedAdmissions) Admits(token, _, _ string) bool { return token == a.token }
func (fixedAdmissions) AdmissionUsed(_, _ string)        {}

// TestExpiryAndCancelRelease: expired and cancelled holds return their
// tickets; a late confirm is hold_expired; nothing is "paid but released".
func TestExpiryAndCancelRelease(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			run(t, h.svc)
			ctx := context.Background()
			e := h.event(t, 2, 2)
			u := h.users(t, 2)
			hold := func(c boxoffice.Caller, q int) (*boxoffice.Reservation, error) {
				return h.svc.CreateReservation(ctx, c, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: q})
			}
			r1, err := hold(u[0], 2)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := hold(u[1], 1); !errors.Is(err, boxoffice.ErrSoldOut) {
				t.Fatalf("got %v, want sold out", err)
			}
			// Cancel returns the tickets at once.
			c1, err := h.svc.Cancel(ctx, u[0], r1.ID, boxoffice.Idempotent{})
			if err != nil || c1.Status != boxoffice.StatusCancelled {
				t.Fatalf("cancel: %v %+v", err, c1)
			}
			if _, err := h.svc.Cancel(ctx, u[0], r1.ID, boxoffice.Idempotent{}); !errors.Is(err, boxoffice.ErrInvalidState) {
				t.Fatalf("second cancel: %v, want invalid state", err)
			}
			if _, err := h.svc.Confirm(ctx, u[0], r1.ID, "tok_ok", boxoffice.Idempotent{}); !errors.Is(err, boxoffice.ErrInvalidState) {
				t.Fatalf("confirm cancelled: %v, want invalid state", err)
			}
			r2, err := hold(u[1], 2)
			if err != nil {
				t.Fatal(err)
			}
			// The hold runs out: the sweeper releases it.
			h.clock.Advance(61 * time.Second)
			waitFor(t, func() bool {
				r, err := h.store.Reservation(ctx, r2.ID)
				return err == nil && r.Status == boxoffice.StatusExpired
			})
			if _, err := h.svc.Confirm(ctx, u[1], r2.ID, "tok_ok", boxoffice.Idempotent{}); !errors.Is(err, boxoffice.ErrHoldExpired) {
				t.Fatalf("late confirm: %v, want hold expired", err)
			}
			h.checkSales(t, e.ID, 0)
			// Tickets are back on sale; confirm works, then a declined payment keeps the hold.
			r3, err := hold(u[0], 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.svc.Confirm(ctx, u[0], r3.ID, "tok_declined", boxoffice.Idempotent{}); !errors.Is(err, boxoffice.ErrPaymentDeclined) {
				t.Fatalf("declined: %v", err)
			}
			if _, err := h.svc.Confirm(ctx, u[1], r3.ID, "tok_ok", boxoffice.Idempotent{}); !errors.Is(err, boxoffice.ErrNotFound) {
				t.Fatalf("someone else's confirm: %v, want not found", err)
			}
			c3, err := h.svc.Confirm(ctx, u[0], r3.ID, "tok_ok", boxoffice.Idempotent{})
			if err != nil || c3.Status != boxoffice.StatusConfirmed || c3.ConfirmedAt == nil {
				t.Fatalf("confirm: %v %+v", err, c3)
			}
			again, err := h.svc.Confirm(ctx, u[0], r3.ID, "tok_ok", boxoffice.Idempotent{})
			if err != nil || again.Status != boxoffice.StatusConfirmed {
				t.Fatalf("confirm twice: %v", err)
			}
			// Confirmed holds do not expire. A pending probe hold, taken
			// after r3's, runs out after it: once the sweeper has expired
			// the probe, it has swept past r3's hold time too.
			probe, err := hold(u[1], 1)
			if err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(2 * time.Minute)
			waitFor(t, func() bool {
				r, err := h.store.Reservation(ctx, probe.ID)
				return err == nil && r.Status == boxoffice.StatusExpired
			})
			h.checkSales(t, e.ID, 1)
			// A confirmed reservation can be cancelled before the event starts.
			if r, err := h.svc.Cancel(ctx, u[0], r3.ID, boxoffice.Idempotent{}); err != nil || r.Status != boxoffice.StatusCancelled {
				t.Fatalf("cancel confirmed: %v", err)
			}
			h.checkSales(t, e.ID, 0)
		})
	}
}

// TestExpiryRealTime lets a 5 s hold run out on the real clock against
// MariaDB, with the sweeper of a second instance doing the release.
func TestExpiryRealTime(t *testing.T) {
	url := testdb.MySQLURL(t)
	store := testdb.OpenMySQL(t, url)
	svc := boxoffice.NewService(boxoffice.ServiceConfig{Store: store, Hasher: auth.NewHasher(4, 0, 0, 0)})
	sweeper := boxoffice.NewService(boxoffice.ServiceConfig{Store: testdb.OpenMySQL(t, url), Hasher: auth.NewHasher(4, 0, 0, 0)})
	run(t, sweeper)
	ctx := context.Background()
	admin := boxoffice.Caller{UserID: boxoffice.NewID(), Role: boxoffice.RoleAdmin}
	now := time.Now()
	e, err := svc.CreateEvent(ctx, admin, boxoffice.EventInput{
		Title: "Real", Venue: "Time", StartsAt: now.Add(time.Hour), SalesStartAt: now.Add(-time.Minute), SalesEndAt: now.Add(time.Hour),
		MaxTicketsPerUser: 1, HoldSeconds: 5, Tiers: []boxoffice.TierInput{{Name: "GA", Price: boxoffice.Money{Amount: 1, Currency: "EUR"}, Capacity: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := &boxoffice.User{ID: boxoffice.NewID(), Email: "rt@example.com", Name: "RT", Role: boxoffice.RoleUser, PasswordHash: []byte("x"), CreatedAt: now}
	if err := store.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	c := boxoffice.Caller{UserID: u.ID, Role: u.Role}
	r, err := svc.CreateReservation(ctx, c, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1})
	if err != nil {
		t.Fatal(err)
	}
	// How soon the ticket comes back is the sweeper's interval (1 s by
	// default), which a loaded machine stretches on the wall clock: the
	// deadline only keeps the test from hanging, and the lag is logged.
	deadline := r.HoldExpiresAt.Add(30 * time.Second)
	for {
		got, err := store.Event(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Available() == 1 {
			t.Logf("the ticket came back %v after the hold expired", time.Since(r.HoldExpiresAt).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired hold's ticket did not come back within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	got, _ := store.Reservation(ctx, r.ID)
	if got.Status != boxoffice.StatusExpired {
		t.Fatalf("status %s, want expired", got.Status)
	}
}

func TestIdempotency(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			run(t, h.svc)
			ctx := context.Background()
			e := h.event(t, 10, 4)
			u := h.users(t, 2)
			in := boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1, IdempotencyKey: "k1", Fingerprint: "fp1"}
			r1, err := h.svc.CreateReservation(ctx, u[0], in)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := h.svc.CreateReservation(ctx, u[0], in)
			if err != nil || r2.ID != r1.ID || r2.Status != boxoffice.StatusHeld {
				t.Fatalf("replay: %v %+v", err, r2)
			}
			other := in
			other.Fingerprint, other.Quantity = "fp2", 2
			if _, err := h.svc.CreateReservation(ctx, u[0], other); !errors.Is(err, boxoffice.ErrIdempotencyKeyReused) {
				t.Fatalf("reused: %v", err)
			}
			// Keys are per user.
			if r, err := h.svc.CreateReservation(ctx, u[1], in); err != nil || r.ID == r1.ID {
				t.Fatalf("other user, same key: %v", err)
			}
			h.checkSales(t, e.ID, 2)

			// Concurrent duplicates: one hold at most.
			var wg sync.WaitGroup
			var okIDs sync.Map
			dup := in
			dup.IdempotencyKey = "k-concurrent"
			for range 10 {
				wg.Go(func() {
					r, err := h.svc.CreateReservation(ctx, u[0], dup)
					if err == nil {
						okIDs.Store(r.ID, true)
					} else if !errors.Is(err, boxoffice.ErrRequestInProgress) {
						t.Errorf("concurrent duplicate: %v", err)
					}
				})
			}
			wg.Wait()
			n := 0
			okIDs.Range(func(any, any) bool { n++; return true })
			if n != 1 {
				t.Fatalf("%d distinct reservations for one key", n)
			}
			h.checkSales(t, e.ID, 3)

			// Confirm and cancel replay too.
			idem := boxoffice.Idempotent{Key: "c1", Fingerprint: "confirm"}
			c1, err := h.svc.Confirm(ctx, u[0], r1.ID, "tok_ok", idem)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := h.svc.Confirm(ctx, u[0], r1.ID, "tok_ok", idem)
			if err != nil || c2.Status != boxoffice.StatusConfirmed || c2.ID != c1.ID {
				t.Fatalf("confirm replay: %v %+v", err, c2)
			}
			if _, err := h.svc.Cancel(ctx, u[0], r1.ID, boxoffice.Idempotent{Key: "c1", Fingerprint: "cancel"}); !errors.Is(err, boxoffice.ErrIdempotencyKeyReused) {
				t.Fatalf("key reused across operations: %v", err)
			}
			cx := boxoffice.Idempotent{Key: "x1", Fingerprint: "cancel"}
			if _, err := h.svc.Cancel(ctx, u[0], r1.ID, cx); err != nil {
				t.Fatal(err)
			}
			if r, err := h.svc.Cancel(ctx, u[0], r1.ID, cx); err != nil || r.Status != boxoffice.StatusCancelled {
				t.Fatalf("cancel replay: %v", err)
			}
		})
	}
}

// TestIdempotentHoldAnswer: a repeated hold request gets the first 201's
// reservation again, field for field, even after the reservation's quantity, amount and
// status changed, and not_found once its event was deleted.
func TestIdempotentHoldAnswer(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			ctx := context.Background()
			e := h.event(t, 10, 4)
			u := h.users(t, 1)[0]
			for i, attendee := range []*boxoffice.Attendee{nil, {Name: "Ann Lee", Phone: ""}} {
				in := boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1, Attendee: attendee,
					IdempotencyKey: fmt.Sprint("hold-", i), Fingerprint: fmt.Sprint("fp-", i)}
				first, err := h.svc.CreateReservation(ctx, u, in)
				if err != nil {
					t.Fatal(err)
				}
				replay := func(step string) {
					t.Helper()
					r, err := h.svc.CreateReservation(ctx, u, in)
					if err != nil {
						t.Fatalf("%s: %v", step, err)
					}
					if d := cmp.Diff(first, r); d != "" {
						t.Fatalf("%s: replayed answer differs from the first (-first +replay):\n%s", step, d)
					}
				}
				replay("unchanged")
				h.clock.Advance(time.Second)
				if _, err := h.svc.ChangeQuantity(ctx, u, first.ID, 2); err != nil {
					t.Fatal(err)
				}
				replay("after a quantity change")
				if _, err := h.svc.Confirm(ctx, u, first.ID, "tok_ok", boxoffice.Idempotent{}); err != nil {
					t.Fatal(err)
				}
				replay("after confirm")
				if _, err := h.svc.Cancel(ctx, u, first.ID, boxoffice.Idempotent{}); err != nil {
					t.Fatal(err)
				}
				replay("after cancel")
			}
			h.checkSales(t, e.ID, 0)

			// An event whose reservations were paid keeps them; one whose
			// hold was only cancelled can be deleted.
			gone := h.event(t, 10, 4)
			in := boxoffice.HoldInput{EventID: gone.ID, TierID: gone.Tiers[0].ID, Quantity: 1, IdempotencyKey: "hold-gone", Fingerprint: "fp-gone"}
			r, err := h.svc.CreateReservation(ctx, u, in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.svc.Cancel(ctx, u, r.ID, boxoffice.Idempotent{}); err != nil {
				t.Fatal(err)
			}
			if err := h.svc.DeleteEvent(ctx, h.admin, gone.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := h.svc.CreateReservation(ctx, u, in); !errors.Is(err, boxoffice.ErrNotFound) {
				t.Fatalf("replay after the event was deleted: %v, want not found", err)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDatabaseOutage: when MariaDB goes away mid-sale, holds fail with
// unavailable (never a false success), and the service recovers by itself
// when the database returns.
func TestDatabaseOutage(t *testing.T) {
	proxy, proxied := proxiedMySQL(t, testdb.MySQLURL(t))
	h := newHarness(t, testdb.OpenMySQL(t, proxied))
	run(t, h.svc)
	e := h.event(t, 100, 4)
	u := h.users(t, 1)[0]
	hold := func() (*boxoffice.Reservation, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		return h.svc.CreateReservation(ctx, u, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1})
	}
	if _, err := hold(); err != nil {
		t.Fatal(err)
	}
	proxy.setCut(true)
	for range 3 {
		r, err := hold()
		if err == nil {
			t.Fatalf("hold %s succeeded while the database was away", r.ID)
		}
		if boxoffice.CodeOf(err) != boxoffice.CodeUnavailable {
			t.Fatalf("hold during the outage: %v (code %s), want unavailable", err, boxoffice.CodeOf(err))
		}
	}
	proxy.setCut(false)
	waitFor(t, func() bool { _, err := hold(); return err == nil })
	// Exactly the holds that succeeded exist: one before, one after.
	h.checkSales(t, e.ID, 2)
}

// gatedStore holds every CreateHolds until its gate opens, and says when a
// batch has entered and when it has finished.
type gatedStore struct {
	boxoffice.Store
	entered, finished chan struct{}
	gate              chan struct{}
}

func (g *gatedStore) CreateHolds(ctx context.Context, tierID string, reqs []*boxoffice.HoldRequest) error {
	g.entered <- struct{}{}
	<-g.gate
	err := g.Store.CreateHolds(ctx, tierID, reqs)
	g.finished <- struct{}{}
	return err
}

// TestHoldAnswersWithinBudget: a hold answers when its caller's time is up,
// even while its batch is still in the database (a slow database made holds
// answer after the batch's own 10 s, long past the request's budget); the
// hold the batch then grants is not lost to a client that retries with its
// Idempotency-Key.
func TestHoldAnswersWithinBudget(t *testing.T) {
	store := testdb.SQLite(t)
	h := newHarness(t, store)
	gated := &gatedStore{Store: store, entered: make(chan struct{}, 1), finished: make(chan struct{}, 1), gate: make(chan struct{})}
	svc := h.service(gated)
	e := h.event(t, 5, 2)
	u := h.users(t, 1)[0]
	in := boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 2, IdempotencyKey: "budget", Fingerprint: "fp"}

	ctx, cancel := context.WithCancel(context.Background())
	answered := make(chan error, 1)
	go func() {
		_, err := svc.CreateReservation(ctx, u, in)
		answered <- err
	}()
	<-gated.entered // the batch is in the database
	cancel()        // and the caller's time is up
	select {
	case err := <-answered:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("hold answered %v, want the caller's context error", err)
		}
	case <-time.After(10 * time.Second): // a guard: the batch is held until the gate opens
		t.Fatal("the hold did not answer before its batch finished")
	}

	close(gated.gate) // the database answers after all: the hold is granted
	<-gated.finished
	h.checkSales(t, e.ID, 2)
	r, err := svc.CreateReservation(context.Background(), u, in) // the client's retry
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	mine, err := svc.ListReservations(context.Background(), u, boxoffice.ReservationQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine.Items) != 1 || mine.Items[0].ID != r.ID || r.Status != boxoffice.StatusHeld || r.Quantity != 2 {
		t.Fatalf("retry answered %+v; the user has %d reservations", r, len(mine.Items))
	}
}

// proxiedMySQL puts a cutProxy in front of the database at url and returns
// it with the URL that goes through it.
func proxiedMySQL(t *testing.T, url string) (*cutProxy, string) {
	t.Helper()
	host := strings.TrimPrefix(url, "mysql://")
	at := strings.LastIndex(host, "@")
	slash := strings.Index(host[at+1:], "/") + at + 1
	proxy := newCutProxy(t, host[at+1:slash])
	return proxy, "mysql://" + host[:at+1] + proxy.addr() + host[slash:]
}

// sweepLog counts the passes a sweeper reports.
type sweepLog struct{ ok, failed atomic.Int64 }

func (l *sweepLog) note(p boxoffice.SweepPass) {
	if p.Err != nil {
		l.failed.Add(1)
	} else {
		l.ok.Add(1)
	}
}

// TestSweeperSurvivesPartition: a silent partition between the sweeper and
// MariaDB (connections that swallow everything and never answer, also
// after it heals) costs the sweeper some passes, not its life: a hold that
// ran out during the partition is released soon after it ends.
func TestSweeperSurvivesPartition(t *testing.T) {
	url := testdb.MySQLURL(t)
	proxy, proxied := proxiedMySQL(t, url)
	h := newHarness(t, testdb.OpenMySQL(t, url)) // buyers reach the database directly
	var passes sweepLog
	sweeper := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: testdb.OpenMySQL(t, proxied), Hasher: auth.NewHasher(4, 0, 0, 0), Now: h.clock.Now,
		SweepInterval: 50 * time.Millisecond, SweepTimeout: time.Second, OnSweep: passes.note,
	})
	run(t, sweeper)
	e := h.event(t, 10, 4, func(in *boxoffice.EventInput) { in.HoldSeconds = 5 })
	u := h.users(t, 1)[0]
	r, err := h.svc.CreateReservation(context.Background(), u, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return passes.ok.Load() > 0 })

	proxy.setBlackhole(true)
	h.clock.Advance(6 * time.Second) // the hold runs out during the partition
	// The partition lasts three seconds, as in the fault this reproduces.
	<-time.After(3 * time.Second)
	proxy.setBlackhole(false)
	healed := time.Now()

	// Real time: the sweeper's timeouts and the network are real. The
	// deadline only keeps a broken sweeper from hanging the test.
	for {
		got, err := h.store.Reservation(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == boxoffice.StatusExpired {
			break
		}
		if time.Since(healed) > 30*time.Second {
			t.Fatalf("the hold is still %s 30 s after the partition ended (%d passes failed, %d finished)",
				got.Status, passes.failed.Load(), passes.ok.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("released %v after the partition ended", time.Since(healed).Round(time.Millisecond))
	if passes.failed.Load() == 0 {
		t.Error("no pass was reported failed during the partition")
	}
	h.checkSales(t, e.ID, 0)
}
