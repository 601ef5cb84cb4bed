package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"

	"github.com/google/go-cmp/cmp/cmpopts"
)

// This file is the conformance suite of boxoffice.OrderStore: orders,
// their payments and refunds. The decisions are the domain's
// (DecideOrders, Settle, DecideRefund, OrderCancelStep, OrderExpireStep);
// the suite checks that a store reads the facts they need, calls them, and
// writes what they decided, all or nothing.

// runOrders runs the order groups of the suite; Run calls it.
func runOrders(t *testing.T, open func(t *testing.T) boxoffice.Store) {
	t.Run("Orders", func(t *testing.T) { testOrders(t, open(t)) })
	t.Run("OrderLifecycle", func(t *testing.T) { testOrderLifecycle(t, open(t)) })
	t.Run("Payments", func(t *testing.T) { testPayments(t, open(t)) })
	t.Run("SettlePayment", func(t *testing.T) { testSettlePayment(t, open(t)) })
	t.Run("SettlePayments", func(t *testing.T) { testSettlePayments(t, open(t)) })
	t.Run("StuckPayments", func(t *testing.T) { testStuckPayments(t, open(t)) })
	t.Run("RefundOrder", func(t *testing.T) { testRefundOrder(t, open(t)) })
	t.Run("RefundOutbox", func(t *testing.T) { testRefundOutbox(t, open(t)) })
	t.Run("OrdersAndDeleteEvent", func(t *testing.T) { testOrdersDeleteEvent(t, open(t)) })
	t.Run("RefundPolicy", func(t *testing.T) { testRefundPolicy(t, open(t)) })
	t.Run("OrdersConcurrently", func(t *testing.T) { testConcurrentOrders(t, open(t)) })
}

// equateEmpty treats nil and empty slices and maps as equal (a line
// without attendees, a refund without lines).
var equateEmpty = cmpopts.EquateEmpty()

// ol is one line of an order to build: quantity tickets of the event's
// tier number tier.
type ol struct{ tier, quantity int }

// newOrder returns an order request built the way the service builds one:
// a pending order of user for e made at at, each line priced at its tier's
// price, its hold running out after the event's hold seconds. Refunded
// carries the order's currency.
func newOrder(e *boxoffice.Event, user string, at time.Time, lines ...ol) *boxoffice.OrderRequest {
	cur := e.Tiers[0].Price.Currency
	o := &boxoffice.Order{
		ID:            boxoffice.NewID(),
		EventID:       e.ID,
		UserID:        user,
		Email:         "buyer-" + strings.ToLower(user) + "@example.test",
		Status:        boxoffice.OrderPending,
		Total:         boxoffice.Money{Currency: cur},
		Refunded:      boxoffice.Money{Currency: cur},
		HoldExpiresAt: at.Add(time.Duration(e.HoldSeconds) * time.Second),
		CreatedAt:     at,
		UpdatedAt:     at,
	}
	for _, l := range lines {
		tier := &e.Tiers[l.tier]
		amount := boxoffice.Money{Amount: tier.Price.Amount * int64(l.quantity), Currency: cur}
		o.Lines = append(o.Lines, boxoffice.OrderLine{TierID: tier.ID, Quantity: l.quantity, UnitPrice: tier.Price, Amount: amount})
		o.Total.Amount += amount.Amount
	}
	return &boxoffice.OrderRequest{Order: o, MaxPerUser: e.MaxTicketsPerUser}
}

// placeOrders decides reqs in one batch and fails the test when the batch
// failed as a whole.
func placeOrders(t *testing.T, s boxoffice.Store, e *boxoffice.Event, reqs ...*boxoffice.OrderRequest) {
	t.Helper()
	must(t, "CreateOrders", s.CreateOrders(t.Context(), e.ID, reqs))
}

// mustOrder places one order and fails the test unless it is granted.
func mustOrder(t *testing.T, s boxoffice.Store, e *boxoffice.Event, user string, at time.Time, lines ...ol) *boxoffice.Order {
	t.Helper()
	req := newOrder(e, user, at, lines...)
	placeOrders(t, s, e, req)
	if req.Err != nil {
		t.Fatalf("order %v: %v", lines, req.Err)
	}
	return req.Order
}

// wantLineErr fails the test unless err is a *LineError naming line and
// the tier, wrapping want.
func wantLineErr(t *testing.T, what string, err error, line int, tierID string, want error) {
	t.Helper()
	le, ok := boxoffice.IsLineError(err)
	if !ok {
		t.Fatalf("%s: got %v, want a LineError", what, err)
	}
	if le.Line != line || le.TierID != tierID || !errors.Is(err, want) {
		t.Fatalf("%s: got line %d tier %s %v, want line %d tier %s %v", what, le.Line, le.TierID, le.Err, line, tierID, want)
	}
}

// getOrder reads an order, failing the test on error.
func getOrder(t *testing.T, s boxoffice.Store, id string) *boxoffice.Order {
	t.Helper()
	o, err := s.Order(t.Context(), id)
	must(t, "Order", err)
	return o
}

// wantOrderStatus fails the test unless the stored order has status want.
func wantOrderStatus(t *testing.T, s boxoffice.Store, id string, want boxoffice.OrderStatus) *boxoffice.Order {
	t.Helper()
	o := getOrder(t, s, id)
	if o.Status != want {
		t.Fatalf("order %s: status %q, want %q", id, o.Status, want)
	}
	return o
}

// wantNoOrder fails the test unless no order id is stored.
func wantNoOrder(t *testing.T, s boxoffice.Store, id string) {
	t.Helper()
	_, err := s.Order(t.Context(), id)
	wantErr(t, "Order(refused)", err, boxoffice.ErrNotFound)
}

// wantTickets fails the test unless user's held + confirmed tickets for e
// (the store's count) are n: an order of the rest of a limit of n+1 is
// refused for the limit, and one ticket more is granted (then cancelled).
// Tier i must have two tickets left.
func wantTickets(t *testing.T, s boxoffice.Store, e *boxoffice.Event, i int, user string, n int) {
	t.Helper()
	at := now()
	over := newOrder(e, user, at, ol{i, 2})
	fit := newOrder(e, user, at, ol{i, 1})
	over.MaxPerUser, fit.MaxPerUser = n+1, n+1
	placeOrders(t, s, e, over, fit)
	if !errors.Is(over.Err, boxoffice.ErrLimitExceeded) || fit.Err != nil {
		t.Fatalf("user %s has not %d tickets for the event: 2 more: %v, 1 more: %v", user, n, over.Err, fit.Err)
	}
	_, err := s.CancelOrder(t.Context(), fit.Order.ID, at, nil)
	must(t, "CancelOrder(probe)", err)
}

// orderIdem returns an idempotency record of user's key for an order.
func orderIdem(user, key, orderID string, at time.Time) *boxoffice.Idempotency {
	return &boxoffice.Idempotency{UserID: user, Key: key, Fingerprint: "fp-" + key,
		Outcome: boxoffice.Outcome{Kind: boxoffice.OutcomeOrder, ReservationID: orderID}, CreatedAt: at}
}

func testOrders(t *testing.T, s boxoffice.Store) {
	t.Run("CreateAndRead", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10, 10)
		u := createUser(t, s)
		at := now()
		req := newOrder(e, u.ID, at, ol{0, 2}, ol{1, 1}, ol{0, 1})
		req.Order.Lines[1].Attendees = []boxoffice.Attendee{{Name: "Ada", Phone: "+1 555 0100"}}
		placeOrders(t, s, e, req)
		must(t, "order", req.Err)
		got := getOrder(t, s, req.Order.ID)
		diff(t, "Order", req.Order, got, equateEmpty)
		if got.CreatedAt.Location() != time.UTC || got.HoldExpiresAt.Location() != time.UTC {
			t.Errorf("times not in UTC: %v %v", got.CreatedAt, got.HoldExpiresAt)
		}
		wantReserved(t, s, e.ID, 3, 1, 0)
		sales := wantBalanced(t, s, e.ID)
		for i, want := range []int{3, 1, 0} {
			if ts := sales.Tiers[i]; ts.Held != want || ts.Confirmed != 0 {
				t.Fatalf("tier %d sales %+v, want %d held", i, ts, want)
			}
		}
		if len(sales.OrderRevenue) != 0 && sales.OrderRevenue["USD"] != 0 {
			t.Fatalf("OrderRevenue of unpaid orders: %v", sales.OrderRevenue)
		}
		wantTickets(t, s, e, 2, u.ID, 4)
		_, err := s.Order(ctx, boxoffice.NewID())
		wantErr(t, "Order(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		e := createEvent(t, s, 3, 10)
		u := createUser(t, s)
		at := now()
		// The second line does not fit: nothing of the order is written.
		req := newOrder(e, u.ID, at, ol{1, 2}, ol{0, 4})
		placeOrders(t, s, e, req)
		wantLineErr(t, "order past the tier", req.Err, 1, e.Tiers[0].ID, boxoffice.ErrSoldOut)
		wantNoOrder(t, s, req.Order.ID)
		wantReserved(t, s, e.ID, 0, 0)
		// Two lines of one tier count together.
		req = newOrder(e, u.ID, at, ol{0, 2}, ol{0, 2})
		placeOrders(t, s, e, req)
		wantLineErr(t, "two lines past the tier", req.Err, 1, e.Tiers[0].ID, boxoffice.ErrSoldOut)
		// The line that takes the user over the limit (4) is named.
		req = newOrder(e, u.ID, at, ol{1, 3}, ol{0, 1}, ol{1, 1})
		placeOrders(t, s, e, req)
		wantLineErr(t, "order past the limit", req.Err, 2, e.Tiers[1].ID, boxoffice.ErrLimitExceeded)
		wantNoOrder(t, s, req.Order.ID)
		wantReserved(t, s, e.ID, 0, 0)
		wantBalanced(t, s, e.ID)
		// The refusals took nothing from the user's count.
		mustOrder(t, s, e, u.ID, at, ol{0, 3}, ol{1, 1})
		wantReserved(t, s, e.ID, 3, 1)
	})

	t.Run("LimitAcrossHoldsAndOrders", func(t *testing.T) {
		e := createEvent(t, s, 10, 10)
		u := createUser(t, s)
		at := now()
		mustHold(t, s, e, 0, u.ID, 2, at)
		req := newOrder(e, u.ID, at, ol{1, 3})
		placeOrders(t, s, e, req)
		wantLineErr(t, "order past the limit with a hold", req.Err, 0, e.Tiers[1].ID, boxoffice.ErrLimitExceeded)
		mustOrder(t, s, e, u.ID, at, ol{1, 1}, ol{0, 1})
		wantErr(t, "hold past the limit with an order", hold(t, s, e, 1, u.ID, 1, at).Err, boxoffice.ErrLimitExceeded)
		wantReserved(t, s, e.ID, 3, 1)
		wantBalanced(t, s, e.ID)
	})

	t.Run("Batch", func(t *testing.T) {
		e := createEvent(t, s, 3, 10)
		u, v := createUser(t, s), createUser(t, s)
		at := now()
		first := newOrder(e, u.ID, at, ol{0, 2})
		tooMany := newOrder(e, v.ID, at, ol{1, 1}, ol{0, 2}) // one left in tier 0
		other := newOrder(e, v.ID, at, ol{1, 2})
		sameUser := newOrder(e, u.ID, at, ol{1, 3}) // 2 + 3 > 4 in the same batch
		last := newOrder(e, u.ID, at, ol{0, 1}, ol{1, 1})
		placeOrders(t, s, e, first, tooMany, other, sameUser, last)
		must(t, "first", first.Err)
		wantLineErr(t, "second", tooMany.Err, 1, e.Tiers[0].ID, boxoffice.ErrSoldOut)
		must(t, "third", other.Err)
		wantLineErr(t, "fourth", sameUser.Err, 0, e.Tiers[1].ID, boxoffice.ErrLimitExceeded)
		must(t, "fifth", last.Err)
		wantReserved(t, s, e.ID, 3, 3)
		wantNoOrder(t, s, tooMany.Order.ID)
		wantNoOrder(t, s, sameUser.Order.ID)
		for _, r := range []*boxoffice.OrderRequest{first, other, last} {
			diff(t, "granted order", r.Order, getOrder(t, s, r.Order.ID), equateEmpty)
		}
		wantBalanced(t, s, e.ID)
		// An empty batch and an unknown event's batch of nothing change nothing.
		must(t, "CreateOrders(empty)", s.CreateOrders(t.Context(), e.ID, nil))
	})

	t.Run("Idempotency", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10)
		e.MaxTicketsPerUser = 10
		u := createUser(t, s)
		at := now()
		a := newOrder(e, u.ID, at, ol{0, 1})
		a.Idempotency = orderIdem(u.ID, "key-a", a.Order.ID, at)
		dup := newOrder(e, u.ID, at, ol{0, 1})
		dup.Idempotency = orderIdem(u.ID, "key-a", dup.Order.ID, at)
		placeOrders(t, s, e, a, dup)
		must(t, "keyed order", a.Err)
		wantErr(t, "same key in the batch", dup.Err, boxoffice.ErrIdempotencyKeyReused)
		wantNoOrder(t, s, dup.Order.ID)
		rec, err := s.Idempotency(ctx, u.ID, "key-a")
		must(t, "Idempotency", err)
		diff(t, "idempotency record", a.Idempotency, rec)

		again := newOrder(e, u.ID, at, ol{0, 2})
		again.Idempotency = orderIdem(u.ID, "key-a", again.Order.ID, at)
		placeOrders(t, s, e, again)
		wantErr(t, "recorded key", again.Err, boxoffice.ErrIdempotencyKeyReused)
		wantNoOrder(t, s, again.Order.ID)

		// A key recorded by a hold is recorded for orders too.
		h := newHold(e, 0, u.ID, 1, at)
		h.Idempotency = &boxoffice.Idempotency{UserID: u.ID, Key: "key-h", Fingerprint: "fp",
			Outcome: boxoffice.Outcome{Kind: boxoffice.OutcomeHeld, ReservationID: h.Reservation.ID, Quantity: 1,
				Amount: h.Reservation.Amount}, CreatedAt: at}
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{h}))
		must(t, "keyed hold", h.Err)
		byHold := newOrder(e, u.ID, at, ol{0, 1})
		byHold.Idempotency = orderIdem(u.ID, "key-h", byHold.Order.ID, at)
		placeOrders(t, s, e, byHold)
		wantErr(t, "key of a hold", byHold.Err, boxoffice.ErrIdempotencyKeyReused)
		// Another user's same key is another key.
		v := createUser(t, s)
		b := newOrder(e, v.ID, at, ol{0, 1})
		b.Idempotency = orderIdem(v.ID, "key-a", b.Order.ID, at)
		placeOrders(t, s, e, b)
		must(t, "other user's key", b.Err)
		wantReserved(t, s, e.ID, 3)
	})

	t.Run("ListOrders", func(t *testing.T) {
		ctx := t.Context()
		e1, e2 := createEvent(t, s, 50, 50), createEvent(t, s, 50)
		e1.MaxTicketsPerUser, e2.MaxTicketsPerUser = 50, 50
		u, v := createUser(t, s), createUser(t, s)
		at := now()
		var mine, ofE1 []*boxoffice.Order
		for i := range 7 {
			e := e1
			if i%3 == 2 {
				e = e2
			}
			o := mustOrder(t, s, e, u.ID, at, ol{0, 1}, ol{len(e.Tiers) - 1, 1})
			mine = append(mine, o)
			if e == e1 {
				ofE1 = append(ofE1, o)
			}
			if i%2 == 0 {
				ofE1 = append(ofE1, mustOrder(t, s, e1, v.ID, at, ol{1, 2}))
			}
		}
		cancelled, err := s.CancelOrder(ctx, mine[1].ID, at, nil)
		must(t, "CancelOrder", err)
		mine[1] = cancelled
		for i, o := range ofE1 {
			if o.ID == cancelled.ID {
				ofE1[i] = cancelled
			}
		}
		reverse := func(os []*boxoffice.Order) []*boxoffice.Order {
			out := make([]*boxoffice.Order, len(os))
			for i, o := range os {
				out[len(os)-1-i] = o
			}
			return out
		}
		listAll := func(f boxoffice.OrderFilter, limit int) []*boxoffice.Order {
			t.Helper()
			var all []*boxoffice.Order
			f.Limit = limit
			for range 100 {
				got, err := s.ListOrders(ctx, f)
				must(t, "ListOrders", err)
				if len(got) > limit {
					t.Fatalf("ListOrders returned %d, limit %d", len(got), limit)
				}
				for _, o := range got {
					if o.Payment != nil {
						t.Fatalf("ListOrders returned order %s with its payment", o.ID)
					}
				}
				all = append(all, got...)
				if len(got) < limit {
					return all
				}
				f.BeforeID = got[len(got)-1].ID
			}
			t.Fatal("ListOrders does not terminate")
			return nil
		}
		diff(t, "orders of the user", reverse(mine), listAll(boxoffice.OrderFilter{UserID: u.ID}, 3), equateEmpty)
		diff(t, "orders of the event", reverse(ofE1), listAll(boxoffice.OrderFilter{EventID: e1.ID}, 2), equateEmpty)
		got := listAll(boxoffice.OrderFilter{UserID: u.ID, Status: boxoffice.OrderCancelled}, 10)
		diff(t, "cancelled orders of the user", []*boxoffice.Order{cancelled}, got, equateEmpty)
		got = listAll(boxoffice.OrderFilter{EventID: e1.ID, Status: boxoffice.OrderPending}, 100)
		if len(got) != len(ofE1)-1 {
			t.Fatalf("pending orders of the event: %d, want %d", len(got), len(ofE1)-1)
		}
		got = listAll(boxoffice.OrderFilter{UserID: u.ID, BeforeID: mine[3].ID}, 100)
		diff(t, "orders before a cursor", reverse(mine[:3]), got, equateEmpty)
		got = listAll(boxoffice.OrderFilter{UserID: createUser(t, s).ID}, 10)
		if len(got) != 0 {
			t.Fatalf("orders of a user without any: %d", len(got))
		}
	})
}

func testOrderLifecycle(t *testing.T, s boxoffice.Store) {
	t.Run("CancelOrder", func(t *testing.T) {
		ctx := t.Context()
		// Room for the order's 4 tickets and the keyed hold's 1.
		e := newEvent(3, 5)
		e.MaxTicketsPerUser = 5
		must(t, "CreateEvent", s.CreateEvent(ctx, e))
		u, v := createUser(t, s), createUser(t, s)
		at := now()
		o := mustOrder(t, s, e, u.ID, at, ol{0, 3}, ol{1, 1})
		wantErr(t, "hold of a sold-out tier", hold(t, s, e, 0, v.ID, 1, at).Err, boxoffice.ErrSoldOut)

		// A recorded key aborts the cancellation.
		mustHoldKeyed(t, s, e, 1, u.ID, "taken", at)
		_, err := s.CancelOrder(ctx, o.ID, at, orderIdem(u.ID, "taken", o.ID, at))
		wantErr(t, "CancelOrder with a recorded key", err, boxoffice.ErrIdempotencyKeyReused)
		wantOrderStatus(t, s, o.ID, boxoffice.OrderPending)
		wantReserved(t, s, e.ID, 3, 2)

		later := at.Add(time.Second)
		idem := orderIdem(u.ID, "cancel", o.ID, later)
		got, err := s.CancelOrder(ctx, o.ID, later, idem)
		must(t, "CancelOrder", err)
		want := *o
		want.ApplyStatus(boxoffice.OrderCancelled, later)
		diff(t, "cancelled order", &want, got, equateEmpty)
		diff(t, "stored cancelled order", &want, getOrder(t, s, o.ID), equateEmpty)
		rec, err := s.Idempotency(ctx, u.ID, "cancel")
		must(t, "Idempotency", err)
		diff(t, "idempotency record", idem, rec)
		wantReserved(t, s, e.ID, 0, 1)
		wantBalanced(t, s, e.ID)
		// The tickets are back on sale, for holds too, and the user's count
		// went down.
		mustHold(t, s, e, 0, v.ID, 3, at)
		wantTickets(t, s, e, 1, u.ID, 1)

		_, err = s.CancelOrder(ctx, o.ID, later, nil)
		if boxoffice.CodeOf(err) != boxoffice.CodeInvalidState {
			t.Fatalf("CancelOrder(cancelled): %v, want invalid_state", err)
		}
		_, err = s.CancelOrder(ctx, boxoffice.NewID(), later, nil)
		wantErr(t, "CancelOrder(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("ExpireOrders", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		e.MaxTicketsPerUser = 10
		u, v := createUser(t, s), createUser(t, s)
		at := now()
		past := at.Add(-time.Duration(e.HoldSeconds)*time.Second - time.Minute)
		var old []*boxoffice.Order
		for range 3 {
			old = append(old, mustOrder(t, s, e, u.ID, past, ol{0, 1}, ol{1, 2}))
		}
		live := mustOrder(t, s, e, u.ID, at, ol{0, 1})
		// An order whose hold runs out exactly now expires now.
		edge := mustOrder(t, s, e, v.ID, at.Add(-time.Duration(e.HoldSeconds)*time.Second), ol{1, 1})
		wantReserved(t, s, e.ID, 4, 7)
		n, err := s.ExpireOrders(ctx, at, 2)
		must(t, "ExpireOrders", err)
		if n != 2 {
			t.Fatalf("ExpireOrders(limit 2) expired %d", n)
		}
		n, err = s.ExpireOrders(ctx, at, 10)
		must(t, "ExpireOrders", err)
		if n != 2 {
			t.Fatalf("ExpireOrders expired %d, want the last 2", n)
		}
		n, err = s.ExpireOrders(ctx, at, 10)
		must(t, "ExpireOrders", err)
		if n != 0 {
			t.Fatalf("ExpireOrders expired %d again", n)
		}
		for _, o := range append(old, edge) {
			got := wantOrderStatus(t, s, o.ID, boxoffice.OrderExpired)
			if !got.UpdatedAt.Equal(at) {
				t.Fatalf("expired order's UpdatedAt %v, want %v", got.UpdatedAt, at)
			}
		}
		wantOrderStatus(t, s, live.ID, boxoffice.OrderPending)
		wantReserved(t, s, e.ID, 1, 0)
		wantBalanced(t, s, e.ID)
		wantTickets(t, s, e, 0, u.ID, 1)
		wantTickets(t, s, e, 0, v.ID, 0)
		mustHold(t, s, e, 1, v.ID, 10, at)
		_, err = s.CancelOrder(ctx, old[0].ID, at, nil)
		if boxoffice.CodeOf(err) != boxoffice.CodeInvalidState {
			t.Fatalf("CancelOrder(expired): %v, want invalid_state", err)
		}
	})
}

// mustHoldKeyed holds one ticket with an idempotency key.
func mustHoldKeyed(t *testing.T, s boxoffice.Store, e *boxoffice.Event, i int, user, key string, at time.Time) {
	t.Helper()
	h := newHold(e, i, user, 1, at)
	h.Idempotency = &boxoffice.Idempotency{UserID: user, Key: key, Fingerprint: "fp",
		Outcome: boxoffice.Outcome{Kind: boxoffice.OutcomeHeld, ReservationID: h.Reservation.ID, Quantity: 1,
			Amount: h.Reservation.Amount}, CreatedAt: at}
	must(t, "CreateHolds", s.CreateHolds(t.Context(), h.Reservation.TierID, []*boxoffice.HoldRequest{h}))
	must(t, "keyed hold", h.Err)
}

// newPayment returns a processing payment of o, made at at.
func newPayment(o *boxoffice.Order, at time.Time) *boxoffice.Payment {
	return &boxoffice.Payment{ID: boxoffice.NewID(), OrderID: o.ID, Provider: "test", Status: boxoffice.PaymentProcessing,
		Amount: o.Total, StatusAt: at, CreatedAt: at, UpdatedAt: at}
}

// mustPayment stores a new payment of o.
func mustPayment(t *testing.T, s boxoffice.Store, o *boxoffice.Order, at time.Time) *boxoffice.Payment {
	t.Helper()
	p := newPayment(o, at)
	must(t, "CreatePayment", s.CreatePayment(t.Context(), p, func(*boxoffice.Order) error { return nil }))
	return p
}

// settleWith returns a decide function for SettlePayment that applies the
// real rule, boxoffice.Settle, with the provider's report st made at at,
// at now, for an event with the given limit per user. facts, when not nil,
// receives the facts the store read.
func settleWith(st boxoffice.PaymentState, at, now time.Time, maxPerUser int, facts *boxoffice.SettleFacts) func(boxoffice.SettleFacts) (boxoffice.Settlement, bool, error) {
	return func(f boxoffice.SettleFacts) (boxoffice.Settlement, bool, error) {
		if facts != nil {
			c := f
			o, p := *f.Order, *f.Payment
			o.Lines = append([]boxoffice.OrderLine(nil), f.Order.Lines...)
			c.Order, c.Payment, c.Left = &o, &p, maps.Clone(f.Left)
			*facts = c
		}
		f.MaxPerUser = maxPerUser
		s, changed := boxoffice.Settle(f, st, at, now)
		return s, changed, nil
	}
}

// succeeded is a provider's report of a successful payment.
func succeeded(ref string) boxoffice.PaymentState {
	return boxoffice.PaymentState{Ref: ref, Status: boxoffice.PaymentSucceeded}
}

// paidOrder places an order of user and pays it.
func paidOrder(t *testing.T, s boxoffice.Store, e *boxoffice.Event, user string, at time.Time, lines ...ol) (*boxoffice.Order, *boxoffice.Payment) {
	t.Helper()
	o := mustOrder(t, s, e, user, at, lines...)
	p := mustPayment(t, s, o, at)
	got, err := s.SettlePayment(t.Context(), p.ID, "", settleWith(succeeded("pi_"+p.ID), at, at, e.MaxTicketsPerUser, nil))
	must(t, "SettlePayment", err)
	if got.Status != boxoffice.OrderPaid {
		t.Fatalf("order %s after a successful payment: %s", o.ID, got.Status)
	}
	p, err = s.Payment(t.Context(), p.ID)
	must(t, "Payment", err)
	return got, p
}

func testPayments(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 10)
	u := createUser(t, s)
	at := now()
	o := mustOrder(t, s, e, u.ID, at, ol{0, 1}, ol{1, 2})

	t.Run("CreateWithCheck", func(t *testing.T) {
		p := newPayment(o, at)
		var seen *boxoffice.Order
		must(t, "CreatePayment", s.CreatePayment(ctx, p, func(got *boxoffice.Order) error { seen = got; return nil }))
		diff(t, "order given to check", o, seen, equateEmpty)
		got, err := s.Payment(ctx, p.ID)
		must(t, "Payment", err)
		diff(t, "Payment", p, got)

		parties, err := s.PaymentParties(ctx, []string{p.ID})
		must(t, "PaymentParties", err)
		party := parties[p.ID]
		want := boxoffice.PaymentParty{OrderID: o.ID, EventID: e.ID, Email: o.Email}
		if o.Email == "" {
			want.Email = u.Email
		}
		if party != want {
			t.Errorf("PaymentParties = %+v, want %+v", party, want)
		}
		// An order without an email of its own: its buyer's.
		bare := newOrder(e, u.ID, at, ol{0, 1})
		bare.Order.Email = ""
		placeOrders(t, s, e, bare)
		if bare.Err != nil {
			t.Fatal(bare.Err)
		}
		bp := newPayment(bare.Order, at)
		must(t, "CreatePayment", s.CreatePayment(ctx, bp, func(*boxoffice.Order) error { return nil }))
		unknown := boxoffice.NewID()
		parties, err = s.PaymentParties(ctx, []string{p.ID, bp.ID, unknown})
		must(t, "PaymentParties", err)
		if parties[bp.ID].Email != u.Email {
			t.Errorf("PaymentParties: an order without an email = %+v; want the buyer's %s", parties[bp.ID], u.Email)
		}
		if _, ok := parties[unknown]; ok || len(parties) != 2 || parties[p.ID] != party {
			t.Errorf("PaymentParties of two payments and an unknown one: %+v", parties)
		}
		if none, err := s.PaymentParties(ctx, nil); err != nil || len(none) != 0 {
			t.Errorf("PaymentParties(none) = %v, %v", none, err)
		}

		// The next check sees the order with its latest payment: a rule
		// that allows one payment under way at a time relies on it.
		var seen2 *boxoffice.Order
		next := newPayment(o, at.Add(time.Millisecond))
		must(t, "CreatePayment", s.CreatePayment(ctx, next, func(got *boxoffice.Order) error { seen2 = got; return nil }))
		if seen2.Payment == nil || seen2.Payment.ID != p.ID {
			t.Fatalf("check saw latest payment %+v, want %s", seen2.Payment, p.ID)
		}

		refused := newPayment(o, at)
		errNo := errors.New("storetest: no")
		err = s.CreatePayment(ctx, refused, func(*boxoffice.Order) error { return errNo })
		if !errors.Is(err, errNo) {
			t.Fatalf("CreatePayment refused by check: %v", err)
		}
		_, err = s.Payment(ctx, refused.ID)
		wantErr(t, "Payment(refused)", err, boxoffice.ErrNotFound)

		orphan := newPayment(o, at)
		orphan.OrderID = boxoffice.NewID()
		called := false
		err = s.CreatePayment(ctx, orphan, func(*boxoffice.Order) error { called = true; return nil })
		wantErr(t, "CreatePayment(unknown order)", err, boxoffice.ErrNotFound)
		if called {
			t.Error("check called for an unknown order")
		}
		_, err = s.Payment(ctx, boxoffice.NewID())
		wantErr(t, "Payment(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("ByRefAndLatest", func(t *testing.T) {
		later := at.Add(time.Second)
		p2 := newPayment(o, later)
		p2.Ref, p2.Status, p2.ClientSecret = "pi_second", boxoffice.PaymentRequiresAction, "secret_2"
		must(t, "CreatePayment", s.CreatePayment(ctx, p2, func(*boxoffice.Order) error { return nil }))
		got, err := s.PaymentByRef(ctx, "test", "pi_second")
		must(t, "PaymentByRef", err)
		diff(t, "PaymentByRef", p2, got)
		_, err = s.PaymentByRef(ctx, "stripe", "pi_second")
		wantErr(t, "PaymentByRef(other provider)", err, boxoffice.ErrNotFound)
		_, err = s.PaymentByRef(ctx, "test", "pi_none")
		wantErr(t, "PaymentByRef(unknown)", err, boxoffice.ErrNotFound)

		all, err := s.OrderPayments(ctx, o.ID)
		must(t, "OrderPayments", err)
		if len(all) != 3 || all[0].CreatedAt.After(all[1].CreatedAt) || all[1].CreatedAt.After(all[2].CreatedAt) || all[2].ID != p2.ID {
			t.Fatalf("OrderPayments: %d payments, want 3 oldest first", len(all))
		}
		diff(t, "latest payment", p2, getOrder(t, s, o.ID).Payment)
		none, err := s.OrderPayments(ctx, boxoffice.NewID())
		must(t, "OrderPayments(unknown)", err)
		if len(none) != 0 {
			t.Fatalf("OrderPayments(unknown): %d", len(none))
		}
	})
}

func testSettlePayment(t *testing.T, s boxoffice.Store) {
	t.Run("PendingToPaid", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		u := createUser(t, s)
		at := now()
		o := mustOrder(t, s, e, u.ID, at, ol{0, 2}, ol{1, 1})
		p := mustPayment(t, s, o, at)

		// A report that needs the buyer to act.
		t1 := at.Add(time.Second)
		ra := boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentRequiresAction, ClientSecret: "cs_1"}
		var facts boxoffice.SettleFacts
		got, err := s.SettlePayment(ctx, p.ID, "evt_ra", settleWith(ra, t1, t1, e.MaxTicketsPerUser, &facts))
		must(t, "SettlePayment(requires_action)", err)
		if got.Status != boxoffice.OrderPending {
			t.Fatalf("order after requires_action: %s", got.Status)
		}
		diff(t, "facts: order", o, facts.Order, equateEmpty)
		diff(t, "facts: payment", p, facts.Payment)
		diff(t, "facts: tickets left", map[string]int{e.Tiers[0].ID: 8, e.Tiers[1].ID: 9}, facts.Left)
		if facts.Tickets != 3 || facts.MaxPerUser != 0 {
			t.Fatalf("facts: user's tickets %d (want 3), MaxPerUser %d (want 0)", facts.Tickets, facts.MaxPerUser)
		}
		stored, err := s.PaymentByRef(ctx, "test", "pi_1")
		must(t, "PaymentByRef", err)
		if stored.ID != p.ID || stored.Status != boxoffice.PaymentRequiresAction || stored.ClientSecret != "cs_1" || !stored.StatusAt.Equal(t1) {
			t.Fatalf("payment after requires_action: %+v", stored)
		}

		t2 := at.Add(2 * time.Second)
		got, err = s.SettlePayment(ctx, p.ID, "evt_ok", settleWith(succeeded("pi_1"), t2, t2, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment(succeeded)", err)
		want := *o
		want.ApplyStatus(boxoffice.OrderPaid, t2)
		want.PaidBy = p.ID
		got.Payment = nil
		diff(t, "paid order", &want, got, equateEmpty)
		stored = getOrder(t, s, o.ID).Payment
		if stored == nil || stored.ID != p.ID || stored.Status != boxoffice.PaymentSucceeded {
			t.Fatalf("order's payment after success: %+v", stored)
		}
		wantReserved(t, s, e.ID, 2, 1)
		sales := wantBalanced(t, s, e.ID)
		if sales.Tiers[0].Confirmed != 2 || sales.Tiers[0].Held != 0 || sales.Tiers[1].Confirmed != 1 {
			t.Fatalf("sales of a paid order: %+v", sales.Tiers)
		}
		diff(t, "OrderRevenue", map[string]int64{"USD": o.Total.Amount}, sales.OrderRevenue)
		rev, err := s.Revenue(ctx, e.ID)
		must(t, "Revenue", err)
		if rev.Paid["USD"] != o.Total.Amount || rev.Refunded["USD"] != 0 {
			t.Fatalf("Revenue: %+v", rev)
		}

		// The same provider event again changes nothing.
		before, err := s.Payment(ctx, p.ID)
		must(t, "Payment", err)
		fail := boxoffice.PaymentState{Status: boxoffice.PaymentFailed, FailureReason: "late"}
		_, err = s.SettlePayment(ctx, p.ID, "evt_ok", settleWith(fail, t2.Add(time.Hour), t2.Add(time.Hour), 4, nil))
		wantErr(t, "SettlePayment(duplicate event)", err, boxoffice.ErrDuplicateEvent)
		after, err := s.Payment(ctx, p.ID)
		must(t, "Payment", err)
		diff(t, "payment after a duplicate event", before, after)
		// A report that changes nothing writes nothing; succeeded is final.
		got, err = s.SettlePayment(ctx, p.ID, "evt_late", settleWith(fail, t2.Add(time.Hour), t2.Add(time.Hour), 4, nil))
		must(t, "SettlePayment(stale)", err)
		if got.Status != boxoffice.OrderPaid {
			t.Fatalf("order after a stale failure: %s", got.Status)
		}
		after, err = s.Payment(ctx, p.ID)
		must(t, "Payment", err)
		diff(t, "payment after a stale report", before, after)
		_, err = s.SettlePayment(ctx, p.ID, "evt_late", settleWith(fail, t2, t2, 4, nil))
		wantErr(t, "SettlePayment(recorded no-op event)", err, boxoffice.ErrDuplicateEvent)
		_, err = s.SettlePayment(ctx, boxoffice.NewID(), "", settleWith(fail, t2, t2, 4, nil))
		wantErr(t, "SettlePayment(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("FailedKeepsTickets", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10)
		u := createUser(t, s)
		at := now()
		o := mustOrder(t, s, e, u.ID, at, ol{0, 2})
		p := mustPayment(t, s, o, at)
		fail := boxoffice.PaymentState{Ref: "pi_f", Status: boxoffice.PaymentFailed, FailureReason: "card declined"}
		got, err := s.SettlePayment(ctx, p.ID, "evt_f", settleWith(fail, at, at, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment(failed)", err)
		if got.Status != boxoffice.OrderPending {
			t.Fatalf("order after a failed payment: %s", got.Status)
		}
		stored, err := s.Payment(ctx, p.ID)
		must(t, "Payment", err)
		if stored.Status != boxoffice.PaymentFailed || stored.FailureReason != "card declined" || stored.Ref != "pi_f" {
			t.Fatalf("failed payment: %+v", stored)
		}
		wantReserved(t, s, e.ID, 2)

		// decide's error is returned and nothing is written, the event key
		// included.
		errNo := errors.New("storetest: decide failed")
		_, err = s.SettlePayment(ctx, p.ID, "evt_again", func(boxoffice.SettleFacts) (boxoffice.Settlement, bool, error) {
			return boxoffice.Settlement{}, false, errNo
		})
		if !errors.Is(err, errNo) {
			t.Fatalf("SettlePayment with a failing decide: %v", err)
		}
		p2 := mustPayment(t, s, o, at)
		_, err = s.SettlePayment(ctx, p2.ID, "evt_again", settleWith(succeeded("pi_g"), at, at, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment after a failed decide", err)
		wantOrderStatus(t, s, o.ID, boxoffice.OrderPaid)
	})

	t.Run("ExpiredThenPaid", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 5, 5)
		u := createUser(t, s)
		at := now()
		past := at.Add(-time.Hour)
		o := mustOrder(t, s, e, u.ID, past, ol{0, 2}, ol{1, 1})
		p := mustPayment(t, s, o, past)
		_, err := s.ExpireOrders(ctx, at, 100)
		must(t, "ExpireOrders", err)
		wantOrderStatus(t, s, o.ID, boxoffice.OrderExpired)
		wantReserved(t, s, e.ID, 0, 0)

		got, err := s.SettlePayment(ctx, p.ID, "evt_exp", settleWith(succeeded("pi_e"), at, at, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment(late)", err)
		if got.Status != boxoffice.OrderPaid || got.PaidBy != p.ID {
			t.Fatalf("late payment with tickets there: order %s paid by %q", got.Status, got.PaidBy)
		}
		wantReserved(t, s, e.ID, 2, 1)
		sales := wantBalanced(t, s, e.ID)
		if sales.Tiers[0].Confirmed != 2 || sales.Tiers[1].Confirmed != 1 {
			t.Fatalf("sales after a late payment: %+v", sales.Tiers)
		}
		refunds, err := s.OrderRefunds(ctx, o.ID)
		must(t, "OrderRefunds", err)
		if len(refunds) != 0 {
			t.Fatalf("%d refunds of a payment that was kept", len(refunds))
		}
		wantTickets(t, s, e, 0, u.ID, 3)
	})

	t.Run("ExpiredTicketsGone", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 3, 10)
		u, v := createUser(t, s), createUser(t, s)
		at := now()
		o := mustOrder(t, s, e, u.ID, at.Add(-time.Hour), ol{0, 2})
		p := mustPayment(t, s, o, at.Add(-time.Hour))
		_, err := s.ExpireOrders(ctx, at, 100)
		must(t, "ExpireOrders", err)
		mustHold(t, s, e, 0, v.ID, 2, at)

		got, err := s.SettlePayment(ctx, p.ID, "evt_gone", settleWith(succeeded("pi_x"), at, at, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment(tickets gone)", err)
		if got.Status != boxoffice.OrderExpired {
			t.Fatalf("order whose tickets are gone: %s", got.Status)
		}
		stored, err := s.Payment(ctx, p.ID)
		must(t, "Payment", err)
		if stored.Status != boxoffice.PaymentSucceeded {
			t.Fatalf("payment: %s", stored.Status)
		}
		wantReserved(t, s, e.ID, 2, 0)
		wantTickets(t, s, e, 1, u.ID, 0)
		refunds, err := s.OrderRefunds(ctx, o.ID)
		must(t, "OrderRefunds", err)
		if len(refunds) != 1 {
			t.Fatalf("%d refunds, want 1", len(refunds))
		}
		r := refunds[0]
		if r.PaymentID != p.ID || r.Amount != p.Amount || r.Status != boxoffice.RefundPending || !r.Automatic || len(r.Lines) != 0 || r.Provider != "test" {
			t.Fatalf("automatic refund: %+v", r)
		}
		one, err := s.Refund(ctx, r.ID)
		must(t, "Refund", err)
		diff(t, "Refund", r, one, equateEmpty)
		rev, err := s.Revenue(ctx, e.ID)
		must(t, "Revenue", err)
		if rev.Paid["USD"] != p.Amount.Amount || rev.Refunded["USD"] != p.Amount.Amount {
			t.Fatalf("Revenue: %+v", rev)
		}
		sales := wantBalanced(t, s, e.ID)
		if sales.OrderRevenue["USD"] != 0 {
			t.Fatalf("OrderRevenue of an expired order: %v", sales.OrderRevenue)
		}
	})

	t.Run("SecondPaymentRefunded", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10)
		u := createUser(t, s)
		at := now()
		o := mustOrder(t, s, e, u.ID, at, ol{0, 1})
		p1, p2 := mustPayment(t, s, o, at), mustPayment(t, s, o, at)
		_, err := s.SettlePayment(ctx, p1.ID, "", settleWith(succeeded("pi_a"), at, at, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment(first)", err)
		got, err := s.SettlePayment(ctx, p2.ID, "", settleWith(succeeded("pi_b"), at, at, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment(second)", err)
		if got.Status != boxoffice.OrderPaid || got.PaidBy != p1.ID {
			t.Fatalf("order paid twice: %s by %s", got.Status, got.PaidBy)
		}
		wantReserved(t, s, e.ID, 1)
		refunds, err := s.OrderRefunds(ctx, o.ID)
		must(t, "OrderRefunds", err)
		if len(refunds) != 1 || refunds[0].PaymentID != p2.ID || !refunds[0].Automatic {
			t.Fatalf("refunds after a second payment: %+v", refunds)
		}
		rev, err := s.Revenue(ctx, e.ID)
		must(t, "Revenue", err)
		sales := wantBalanced(t, s, e.ID)
		wantNet(t, rev, sales)
		_, err = s.Revenue(ctx, boxoffice.NewID())
		wantErr(t, "Revenue(unknown)", err, boxoffice.ErrNotFound)
	})
}

// testSettlePayments applies one batch of reports that see each other:
// one payment reported twice, a provider event repeated within the batch
// and one recorded before it, an unknown payment, a report its decide
// refuses (its event key stays free), and two late payments wanting the
// same last ticket: the first takes it again, the second is refunded.
func testSettlePayments(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 1)
	at := now()
	past := at.Add(-time.Hour)
	users := make([]*boxoffice.User, 5)
	for i := range users {
		users[i] = createUser(t, s)
	}
	a := mustOrder(t, s, e, users[0].ID, at, ol{0, 2})
	pa := mustPayment(t, s, a, at)
	b := mustOrder(t, s, e, users[1].ID, at, ol{0, 1})
	pb := mustPayment(t, s, b, at)
	c := mustOrder(t, s, e, users[2].ID, at, ol{0, 1})
	pc := mustPayment(t, s, c, at)
	// Tier 1's one ticket was ordered twice, each time held until its
	// hold ran out.
	late1 := mustOrder(t, s, e, users[3].ID, past, ol{1, 1})
	pl1 := mustPayment(t, s, late1, past)
	_, err := s.ExpireOrders(ctx, at, 100)
	must(t, "ExpireOrders", err)
	late2 := mustOrder(t, s, e, users[4].ID, past, ol{1, 1})
	pl2 := mustPayment(t, s, late2, past)
	_, err = s.ExpireOrders(ctx, at, 100)
	must(t, "ExpireOrders", err)
	wantReserved(t, s, e.ID, 4, 0)
	_, err = s.SettlePayment(ctx, pb.ID, "evt_before", settleWith(boxoffice.PaymentState{Ref: "pi_b", Status: boxoffice.PaymentRequiresAction}, at, at, e.MaxTicketsPerUser, nil))
	must(t, "SettlePayment(before the batch)", err)

	refusal := errors.New("refused by decide")
	t1, t2 := at.Add(time.Second), at.Add(2*time.Second)
	fail := boxoffice.PaymentState{Status: boxoffice.PaymentFailed, FailureReason: "stale"}
	reqs := []*boxoffice.SettleRequest{
		{PaymentID: pa.ID, EventKey: "evt_a", Decide: settleWith(succeeded("pi_a"), t2, t2, e.MaxTicketsPerUser, nil)},
		{PaymentID: pa.ID, EventKey: "evt_a_stale", Decide: settleWith(fail, t1, t2, e.MaxTicketsPerUser, nil)},
		{PaymentID: pb.ID, EventKey: "evt_a", Decide: settleWith(succeeded("pi_b"), t2, t2, e.MaxTicketsPerUser, nil)},
		{PaymentID: pb.ID, EventKey: "evt_before", Decide: settleWith(succeeded("pi_b"), t2, t2, e.MaxTicketsPerUser, nil)},
		{PaymentID: boxoffice.NewID(), EventKey: "evt_unknown", Decide: settleWith(succeeded("pi_x"), t2, t2, e.MaxTicketsPerUser, nil)},
		{PaymentID: pc.ID, EventKey: "evt_c", Decide: func(f boxoffice.SettleFacts) (boxoffice.Settlement, bool, error) {
			boxoffice.Settle(f, succeeded("pi_c"), t2, t2) // moves the facts, then refuses
			return boxoffice.Settlement{}, false, refusal
		}},
		{PaymentID: pl1.ID, EventKey: "evt_l1", Decide: settleWith(succeeded("pi_l1"), t2, t2, e.MaxTicketsPerUser, nil)},
		{PaymentID: pl2.ID, EventKey: "evt_l2", Decide: settleWith(succeeded("pi_l2"), t2, t2, e.MaxTicketsPerUser, nil)},
	}
	must(t, "SettlePayments", s.SettlePayments(ctx, e.ID, reqs))

	ra, stale, dupInBatch, dupBefore, unknown, refused, l1, l2 := reqs[0], reqs[1], reqs[2], reqs[3], reqs[4], reqs[5], reqs[6], reqs[7]
	must(t, "report a", ra.Err)
	if !ra.Changed || ra.Order.Status != boxoffice.OrderPaid || ra.Order.Payment.Status != boxoffice.PaymentSucceeded || len(ra.Settlement.Tickets) != 2 {
		t.Fatalf("report a: changed %v, order %+v, %d tickets", ra.Changed, ra.Order, len(ra.Settlement.Tickets))
	}
	must(t, "stale report of a", stale.Err)
	if stale.Changed || stale.Order.Status != boxoffice.OrderPaid || stale.Order.Payment.Status != boxoffice.PaymentSucceeded {
		t.Fatalf("a stale report after the success in the same batch: changed %v, order %s, payment %s",
			stale.Changed, stale.Order.Status, stale.Order.Payment.Status)
	}
	if ra.Order.Payment == stale.Order.Payment || ra.Order == stale.Order {
		t.Fatal("two reports of one batch share their answers' orders or payments")
	}
	wantErr(t, "event repeated in the batch", dupInBatch.Err, boxoffice.ErrDuplicateEvent)
	wantErr(t, "event recorded before", dupBefore.Err, boxoffice.ErrDuplicateEvent)
	wantErr(t, "unknown payment", unknown.Err, boxoffice.ErrNotFound)
	if !errors.Is(refused.Err, refusal) || refused.Order != nil || refused.Changed {
		t.Fatalf("refused report: err %v, order %v, changed %v", refused.Err, refused.Order, refused.Changed)
	}
	must(t, "late payment 1", l1.Err)
	must(t, "late payment 2", l2.Err)
	if l1.Order.Status != boxoffice.OrderPaid || !l1.Settlement.Reserve {
		t.Fatalf("first late payment for the last ticket: %s, reserve %v", l1.Order.Status, l1.Settlement.Reserve)
	}
	if l2.Order.Status != boxoffice.OrderExpired || l2.Settlement.Refund == nil {
		t.Fatalf("second late payment for the same last ticket: %s, refund %v", l2.Order.Status, l2.Settlement.Refund)
	}

	wantOrderStatus(t, s, a.ID, boxoffice.OrderPaid)
	wantOrderStatus(t, s, b.ID, boxoffice.OrderPending)
	wantOrderStatus(t, s, c.ID, boxoffice.OrderPending)
	if p, err := s.Payment(ctx, pb.ID); err != nil || p.Status != boxoffice.PaymentRequiresAction {
		t.Fatalf("payment b after its duplicate events: %+v, %v", p, err)
	}
	if p, err := s.Payment(ctx, pc.ID); err != nil || p.Status != boxoffice.PaymentProcessing {
		t.Fatalf("payment c after its refused report: %+v, %v", p, err)
	}
	wantOrderStatus(t, s, late1.ID, boxoffice.OrderPaid)
	wantOrderStatus(t, s, late2.ID, boxoffice.OrderExpired)
	wantReserved(t, s, e.ID, 4, 1)
	wantTickets(t, s, e, 0, users[0].ID, 2)
	wantTickets(t, s, e, 0, users[3].ID, 1)
	wantTickets(t, s, e, 0, users[4].ID, 0)
	refunds, err := s.OrderRefunds(ctx, late2.ID)
	must(t, "OrderRefunds", err)
	if len(refunds) != 1 || refunds[0].PaymentID != pl2.ID || !refunds[0].Automatic {
		t.Fatalf("refunds of the second late payment: %+v", refunds)
	}
	rev, err := s.Revenue(ctx, e.ID)
	must(t, "Revenue", err)
	wantNet(t, rev, wantBalanced(t, s, e.ID))

	// The refused report's event key was not recorded: it applies now.
	got, err := s.SettlePayment(ctx, pc.ID, "evt_c", settleWith(succeeded("pi_c"), t2, t2, e.MaxTicketsPerUser, nil))
	must(t, "SettlePayment(the refused report's event again)", err)
	if got.Status != boxoffice.OrderPaid {
		t.Fatalf("order c: %s", got.Status)
	}
}

// wantNet fails the test unless Revenue's paid − refunded equals the
// Sales view's OrderRevenue, per currency (zeros omitted).
func wantNet(t *testing.T, rev *boxoffice.Revenue, sales *boxoffice.Sales) {
	t.Helper()
	net := map[string]int64{}
	for c, n := range rev.Paid {
		net[c] += n
	}
	for c, n := range rev.Refunded {
		net[c] -= n
	}
	nonzero := func(m map[string]int64) map[string]int64 {
		out := map[string]int64{}
		for c, n := range m {
			if n != 0 {
				out[c] = n
			}
		}
		return out
	}
	diff(t, "Revenue net vs Sales.OrderRevenue", nonzero(net), nonzero(sales.OrderRevenue))
}

func testStuckPayments(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 50)
	e.MaxTicketsPerUser = 50
	u := createUser(t, s)
	base := now().Add(-24 * time.Hour)
	o := mustOrder(t, s, e, u.ID, base, ol{0, 1})
	mk := func(status boxoffice.PaymentStatus, created, updated time.Duration) *boxoffice.Payment {
		p := newPayment(o, base.Add(created))
		p.Status, p.UpdatedAt = status, base.Add(updated)
		must(t, "CreatePayment", s.CreatePayment(ctx, p, func(*boxoffice.Order) error { return nil }))
		return p
	}
	mk(boxoffice.PaymentProcessing, 0, time.Minute) // created before since
	a := mk(boxoffice.PaymentProcessing, time.Hour, 3*time.Hour)
	b := mk(boxoffice.PaymentRequiresAction, time.Hour, 2*time.Hour)
	c := mk(boxoffice.PaymentProcessing, 2*time.Hour, 4*time.Hour)
	mk(boxoffice.PaymentSucceeded, time.Hour, 2*time.Hour)
	mk(boxoffice.PaymentFailed, time.Hour, 2*time.Hour)
	mk(boxoffice.PaymentProcessing, time.Hour, 10*time.Hour) // updated too recently
	ids := func(ps []*boxoffice.Payment) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	before, since := base.Add(5*time.Hour), base.Add(30*time.Minute)
	got, err := s.StuckPayments(ctx, before, since, 10)
	must(t, "StuckPayments", err)
	diff(t, "stuck payments", []string{b.ID, a.ID, c.ID}, ids(got))
	diff(t, "stuck payment", b, got[0])
	got, err = s.StuckPayments(ctx, before, since, 2)
	must(t, "StuckPayments(limit)", err)
	diff(t, "stuck payments, limit 2", []string{b.ID, a.ID}, ids(got))
}

// refundWith returns a decide function for RefundOrder that applies the
// real rule, boxoffice.DecideRefund, for event e at now, and queues mail
// when mail is not nil.
func refundWith(e *boxoffice.Event, req boxoffice.RefundRequest, now time.Time, mail *boxoffice.OutboxMessage) func(*boxoffice.Order, *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error) {
	return func(o *boxoffice.Order, p *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error) {
		deadline, ok := e.FanRefundDeadline()
		r, err := boxoffice.DecideRefund(o, p, req, deadline, ok, now)
		if err != nil {
			return nil, nil, err
		}
		return r, mail, nil
	}
}

func testRefundOrder(t *testing.T, s boxoffice.Store) {
	t.Run("PartialThenFull", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		e.MaxTicketsPerUser = 6
		u, v := createUser(t, s), createUser(t, s)
		at := now()
		o, p := paidOrder(t, s, e, u.ID, at, ol{0, 3}, ol{1, 2})
		other, _ := paidOrder(t, s, e, v.ID, at, ol{1, 1})
		wantReserved(t, s, e.ID, 3, 3)

		t1 := at.Add(time.Minute)
		mail := &boxoffice.OutboxMessage{ID: boxoffice.NewID(), CreatedAt: t1, NextAttemptAt: t1,
			Message: boxoffice.Message{Kind: "order_refunded", To: o.Email, Subject: "Your refund", Text: "refunded"}}
		var seenPay *boxoffice.Payment
		partial := refundWith(e, boxoffice.RefundRequest{Lines: []boxoffice.RefundLine{{TierID: e.Tiers[0].ID, Quantity: 1}}, Reason: "can't come"}, t1, mail)
		r1, err := s.RefundOrder(ctx, o.ID, func(o *boxoffice.Order, pay *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error) {
			seenPay = pay
			return partial(o, pay)
		})
		must(t, "RefundOrder(partial)", err)
		diff(t, "payment given to decide", p, seenPay)
		price0 := e.Tiers[0].Price.Amount
		if r1.Amount.Amount != price0 || r1.PaymentID != p.ID || r1.Status != boxoffice.RefundPending || r1.Automatic || r1.ByOrganizer {
			t.Fatalf("partial refund: %+v", r1)
		}
		got := wantOrderStatus(t, s, o.ID, boxoffice.OrderPartiallyRefunded)
		if got.Lines[0].Refunded != 1 || got.Lines[1].Refunded != 0 || got.Refunded.Amount != price0 || got.Tickets() != 4 {
			t.Fatalf("order after a partial refund: %+v", got)
		}
		wantReserved(t, s, e.ID, 2, 3)
		sales := wantBalanced(t, s, e.ID)
		if ts := sales.Tiers[0]; ts.Confirmed != 2 || ts.Held != 0 || ts.Available != 8 {
			t.Fatalf("tier 0 after a partial refund: %+v", ts)
		}
		diff(t, "OrderRevenue", map[string]int64{"USD": o.Total.Amount - price0 + other.Total.Amount}, sales.OrderRevenue)
		rev, err := s.Revenue(ctx, e.ID)
		must(t, "Revenue", err)
		wantNet(t, rev, sales)
		msgs, err := s.ClaimMail(ctx, t1, t1.Add(time.Minute), 100)
		must(t, "ClaimMail", err)
		if len(msgs) != 1 || msgs[0].ID != mail.ID {
			t.Fatalf("mail of the refund: %d messages", len(msgs))
		}
		// The refunded ticket is back on sale and off the user's count.
		wantTickets(t, s, e, 0, u.ID, 4)

		t2 := t1.Add(time.Minute)
		r2, err := s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{ByOrganizer: true, Reason: "cancelled show"}, t2, nil))
		must(t, "RefundOrder(rest)", err)
		if r2.Amount.Amount != o.Total.Amount-price0 || !r2.ByOrganizer || len(r2.Lines) != 2 {
			t.Fatalf("refund of the rest: %+v", r2)
		}
		got = wantOrderStatus(t, s, o.ID, boxoffice.OrderRefunded)
		if got.Tickets() != 0 || got.Refunded != o.Total {
			t.Fatalf("order after a full refund: %+v", got)
		}
		wantReserved(t, s, e.ID, 0, 1)
		sales = wantBalanced(t, s, e.ID)
		diff(t, "OrderRevenue", map[string]int64{"USD": other.Total.Amount}, sales.OrderRevenue)
		rev, err = s.Revenue(ctx, e.ID)
		must(t, "Revenue", err)
		wantNet(t, rev, sales)
		wantTickets(t, s, e, 0, u.ID, 0)

		refunds, err := s.OrderRefunds(ctx, o.ID)
		must(t, "OrderRefunds", err)
		diff(t, "OrderRefunds", []*boxoffice.Refund{r1, r2}, refunds, equateEmpty)
		one, err := s.Refund(ctx, r2.ID)
		must(t, "Refund", err)
		diff(t, "Refund", r2, one, equateEmpty)
		_, err = s.Refund(ctx, boxoffice.NewID())
		wantErr(t, "Refund(unknown)", err, boxoffice.ErrNotFound)

		// Nothing is left to refund: decide's error, nothing changes.
		_, err = s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{ByOrganizer: true}, t2, nil))
		if boxoffice.CodeOf(err) != boxoffice.CodeInvalidState {
			t.Fatalf("RefundOrder(refunded): %v, want invalid_state", err)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		ctx := t.Context()
		e := newEvent(10)
		e.Refunds = boxoffice.RefundPolicy{None: true}
		must(t, "CreateEvent", s.CreateEvent(ctx, e))
		u := createUser(t, s)
		at := now()
		pending := mustOrder(t, s, e, u.ID, at, ol{0, 1})
		var seen *boxoffice.Payment = &boxoffice.Payment{}
		_, err := s.RefundOrder(ctx, pending.ID, func(o *boxoffice.Order, p *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error) {
			seen = p
			return refundWith(e, boxoffice.RefundRequest{ByOrganizer: true}, at, nil)(o, p)
		})
		if boxoffice.CodeOf(err) != boxoffice.CodeInvalidState || seen != nil {
			t.Fatalf("RefundOrder(pending): %v (payment given %v), want invalid_state and no payment", err, seen)
		}
		o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 2})
		_, err = s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{}, at, nil))
		wantErr(t, "fan's RefundOrder without fan refunds", err, boxoffice.ErrRefundClosed)
		_, err = s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{ByOrganizer: true,
			Lines: []boxoffice.RefundLine{{TierID: e.Tiers[0].ID, Quantity: 3}}}, at, nil))
		var ve *boxoffice.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("RefundOrder of more than the line: %v", err)
		}
		got := wantOrderStatus(t, s, o.ID, boxoffice.OrderPaid)
		if got.Refunded.Amount != 0 || got.Lines[0].Refunded != 0 {
			t.Fatalf("refused refund changed the order: %+v", got)
		}
		refunds, err := s.OrderRefunds(ctx, o.ID)
		must(t, "OrderRefunds", err)
		if len(refunds) != 0 {
			t.Fatalf("refused refunds written: %d", len(refunds))
		}
		wantReserved(t, s, e.ID, 3)
		_, err = s.RefundOrder(ctx, boxoffice.NewID(), refundWith(e, boxoffice.RefundRequest{}, at, nil))
		wantErr(t, "RefundOrder(unknown)", err, boxoffice.ErrNotFound)
	})
}

func testRefundOutbox(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 100)
	e.MaxTicketsPerUser = 100
	u := createUser(t, s)
	at := now()
	const n = 12
	var refunds []*boxoffice.Refund
	for range n {
		o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 1})
		r, err := s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{ByOrganizer: true}, at, nil))
		must(t, "RefundOrder", err)
		refunds = append(refunds, r)
	}
	lease := at.Add(time.Minute)

	t.Run("ClaimOnce", func(t *testing.T) {
		got, err := s.ClaimRefunds(ctx, at.Add(-time.Second), lease, 100)
		must(t, "ClaimRefunds(before due)", err)
		if len(got) != 0 {
			t.Fatalf("claimed %d refunds before they were due", len(got))
		}
		claimed := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				for {
					got, err := s.ClaimRefunds(ctx, at, lease, 2)
					if err != nil {
						errs <- err
						return
					}
					if len(got) > 2 {
						errs <- fmt.Errorf("ClaimRefunds(limit 2) returned %d", len(got))
						return
					}
					mu.Lock()
					for _, r := range got {
						claimed[r.ID]++
						if !r.NextAttemptAt.Equal(lease) {
							errs <- fmt.Errorf("claimed refund's NextAttemptAt %v, want the lease %v", r.NextAttemptAt, lease)
						}
					}
					mu.Unlock()
					if len(got) == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(claimed) != n {
			t.Fatalf("claimed %d refunds, want %d", len(claimed), n)
		}
		for id, c := range claimed {
			if c != 1 {
				t.Fatalf("refund %s claimed %d times", id, c)
			}
		}
		// Once the lease runs out they are due again, oldest due first.
		got, err = s.ClaimRefunds(ctx, lease, lease.Add(time.Minute), 100)
		must(t, "ClaimRefunds(after the lease)", err)
		if len(got) != n {
			t.Fatalf("claimed %d refunds after the lease, want %d", len(got), n)
		}
	})

	t.Run("UpdateRefund", func(t *testing.T) {
		r := *refunds[0]
		t1 := lease.Add(2 * time.Minute)
		r.Status, r.Attempts, r.LastError, r.NextAttemptAt, r.UpdatedAt = boxoffice.RefundFailed, 1, "provider down", t1.Add(time.Minute), t1
		must(t, "UpdateRefund(failed)", s.UpdateRefund(ctx, &r, ""))
		got, err := s.Refund(ctx, r.ID)
		must(t, "Refund", err)
		diff(t, "failed refund", &r, got, equateEmpty)
		// A failed refund is claimed again when due.
		claimed, err := s.ClaimRefunds(ctx, t1.Add(time.Minute), t1.Add(time.Hour), 100)
		must(t, "ClaimRefunds", err)
		found := false
		for _, c := range claimed {
			found = found || c.ID == r.ID
		}
		if !found {
			t.Fatal("a failed refund that is due was not claimed")
		}

		ok := r
		ok.Ref, ok.Status, ok.Attempts, ok.LastError, ok.UpdatedAt = "re_1", boxoffice.RefundSucceeded, 2, "", t1.Add(time.Second)
		must(t, "UpdateRefund(succeeded)", s.UpdateRefund(ctx, &ok, "evt_refund_1"))
		got, err = s.Refund(ctx, r.ID)
		must(t, "Refund", err)
		diff(t, "succeeded refund", &ok, got, equateEmpty)
		again := ok
		again.Status, again.LastError = boxoffice.RefundFailed, "late failure"
		err = s.UpdateRefund(ctx, &again, "evt_refund_1")
		wantErr(t, "UpdateRefund(duplicate event)", err, boxoffice.ErrDuplicateEvent)
		must(t, "UpdateRefund(after success)", s.UpdateRefund(ctx, &again, "evt_refund_2"))
		got, err = s.Refund(ctx, r.ID)
		must(t, "Refund", err)
		diff(t, "succeeded refund is final", &ok, got, equateEmpty)
		claimed, err = s.ClaimRefunds(ctx, t1.Add(24*time.Hour), t1.Add(25*time.Hour), 100)
		must(t, "ClaimRefunds", err)
		for _, c := range claimed {
			if c.ID == r.ID {
				t.Fatal("a succeeded refund was claimed")
			}
		}
		if len(claimed) != n-1 {
			t.Fatalf("claimed %d refunds, want the %d not succeeded", len(claimed), n-1)
		}
		// Revenue counts refunds that are not failed.
		failed := *refunds[1]
		failed.Status, failed.UpdatedAt = boxoffice.RefundFailed, t1
		must(t, "UpdateRefund(failed)", s.UpdateRefund(ctx, &failed, ""))
		rev, err := s.Revenue(ctx, e.ID)
		must(t, "Revenue", err)
		var want int64
		for _, r := range refunds[2:] {
			want += r.Amount.Amount
		}
		want += refunds[0].Amount.Amount
		if rev.Refunded["USD"] != want || rev.Paid["USD"] != int64(n)*e.Tiers[0].Price.Amount {
			t.Fatalf("Revenue %+v, want refunded %d", rev, want)
		}
	})
}

func testOrdersDeleteEvent(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	at := now()
	u := createUser(t, s)

	e := createEvent(t, s, 10)
	o := mustOrder(t, s, e, u.ID, at, ol{0, 1})
	wantErr(t, "DeleteEvent with a pending order", errHas(s.DeleteEvent(ctx, e.ID)), errHasAny)
	_, err := s.CancelOrder(ctx, o.ID, at, nil)
	must(t, "CancelOrder", err)
	wantErr(t, "DeleteEvent with a cancelled order", s.DeleteEvent(ctx, e.ID), boxoffice.ErrHasOrders)
	wantOrderStatus(t, s, o.ID, boxoffice.OrderCancelled)

	e = createEvent(t, s, 10)
	past := mustOrder(t, s, e, u.ID, at.Add(-time.Hour), ol{0, 1})
	_, err = s.ExpireOrders(ctx, at, 100)
	must(t, "ExpireOrders", err)
	wantErr(t, "DeleteEvent with an expired order", s.DeleteEvent(ctx, e.ID), boxoffice.ErrHasOrders)
	wantOrderStatus(t, s, past.ID, boxoffice.OrderExpired)

	// A reservation that was ever confirmed keeps its money history.
	e = createEvent(t, s, 10)
	r := mustHold(t, s, e, 0, u.ID, 1, at)
	_, err = s.Confirm(ctx, r.ID, at, chargeOK, nil)
	must(t, "Confirm", err)
	_, err = s.Cancel(ctx, r.ID, at, refundable, nil)
	must(t, "Cancel", err)
	wantErr(t, "DeleteEvent with a refunded reservation", s.DeleteEvent(ctx, e.ID), boxoffice.ErrHasReservations)
	wantStatus(t, s, r.ID, boxoffice.StatusCancelled)
}

// errHasAny matches either refusal of DeleteEvent for an event with sales.
var errHasAny = errors.New("has reservations or orders")

// errHas maps ErrHasReservations and ErrHasOrders to errHasAny: an event
// with a pending order has both held tickets and an order, and either
// answer is right.
func errHas(err error) error {
	if errors.Is(err, boxoffice.ErrHasReservations) || errors.Is(err, boxoffice.ErrHasOrders) {
		return errHasAny
	}
	return err
}

func testRefundPolicy(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	until := now().Add(72 * time.Hour)
	e := newEvent(5)
	e.Refunds = boxoffice.RefundPolicy{Until: &until}
	must(t, "CreateEvent", s.CreateEvent(ctx, e))
	none := newEvent(5)
	none.StartsAt = e.StartsAt.Add(time.Hour)
	none.Refunds = boxoffice.RefundPolicy{None: true}
	must(t, "CreateEvent", s.CreateEvent(ctx, none))
	got, err := s.Event(ctx, e.ID)
	must(t, "Event", err)
	diff(t, "Event with a refund deadline", e, got)
	got, err = s.Event(ctx, none.ID)
	must(t, "Event", err)
	diff(t, "Event without fan refunds", none, got)
	list, err := s.ListEvents(ctx, boxoffice.EventFilter{Limit: 10})
	must(t, "ListEvents", err)
	diff(t, "ListEvents", []*boxoffice.Event{e, none}, list)

	updated, err := s.UpdateEvent(ctx, e.ID, func(ev *boxoffice.Event) error {
		ev.Refunds = boxoffice.RefundPolicy{None: true}
		return nil
	})
	must(t, "UpdateEvent", err)
	if !updated.Refunds.None || updated.Refunds.Until != nil {
		t.Fatalf("UpdateEvent's answer: %+v", updated.Refunds)
	}
	got, err = s.Event(ctx, e.ID)
	must(t, "Event", err)
	diff(t, "updated refund policy", boxoffice.RefundPolicy{None: true}, got.Refunds)
	later := until.Add(time.Hour)
	_, err = s.UpdateEvent(ctx, e.ID, func(ev *boxoffice.Event) error {
		ev.Refunds = boxoffice.RefundPolicy{Until: &later}
		return nil
	})
	must(t, "UpdateEvent", err)
	got, err = s.Event(ctx, e.ID)
	must(t, "Event", err)
	diff(t, "updated refund deadline", boxoffice.RefundPolicy{Until: &later}, got.Refunds)
}

// testConcurrentOrders runs goroutines that place random multi-line orders
// and v1 holds on a small event, pay, cancel, refund and expire them, then
// checks the inventory against what was stored: each tier's Reserved is the
// tickets of its held and confirmed reservations plus the kept tickets of
// the orders that hold, and at most its capacity; each user's count is
// their tickets; every order was written whole or not at all.
// BOXOFFICE_PROPERTY_SEED sets the seed (default: random, logged).
func testConcurrentOrders(t *testing.T, s boxoffice.Store) {
	const (
		workers = 8
		ops     = 60
	)
	ctx := t.Context()
	seed := rand.Uint64()
	if n, err := strconv.ParseUint(os.Getenv("BOXOFFICE_PROPERTY_SEED"), 10, 64); err == nil {
		seed = n
	}
	t.Logf("BOXOFFICE_PROPERTY_SEED=%d", seed)

	e := newEvent(8, 6, 5)
	e.MaxTicketsPerUser = 5
	must(t, "CreateEvent", s.CreateEvent(ctx, e))
	users := make([]string, 10)
	for i := range users {
		users[i] = createUser(t, s).ID
	}
	at := now()
	past := at.Add(-time.Duration(e.HoldSeconds)*time.Second - time.Minute)

	var mu sync.Mutex
	var placed []*boxoffice.OrderRequest // every request, with its verdict
	var granted []string                 // IDs of granted orders
	var holds []*boxoffice.Reservation
	pick := func(rng *rand.Rand) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(granted) == 0 {
			return "", false
		}
		return granted[rng.IntN(len(granted))], true
	}
	// Errors that a random operation may meet on a random order.
	allowed := func(err error) bool {
		c := boxoffice.CodeOf(err)
		return err == nil || c == boxoffice.CodeInvalidState || c == boxoffice.CodeRefundClosed
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			fail := func(err error) { errs <- fmt.Errorf("worker %d (seed %d): %w", w, seed, err) }
			for range ops {
				switch k := rng.IntN(20); {
				case k < 8: // a batch of orders
					var reqs []*boxoffice.OrderRequest
					for range 1 + rng.IntN(3) {
						created := at
						if rng.IntN(3) == 0 {
							created = past
						}
						var lines []ol
						for range 1 + rng.IntN(3) {
							lines = append(lines, ol{rng.IntN(len(e.Tiers)), 1 + rng.IntN(2)})
						}
						reqs = append(reqs, newOrder(e, users[rng.IntN(len(users))], created, lines...))
					}
					if err := s.CreateOrders(ctx, e.ID, reqs); err != nil {
						fail(fmt.Errorf("CreateOrders: %w", err))
						return
					}
					mu.Lock()
					for _, r := range reqs {
						placed = append(placed, r)
						if r.Err == nil {
							granted = append(granted, r.Order.ID)
						}
					}
					mu.Unlock()
				case k < 11: // a v1 hold
					created := at
					if rng.IntN(3) == 0 {
						created = past
					}
					h := newHold(e, rng.IntN(len(e.Tiers)), users[rng.IntN(len(users))], 1+rng.IntN(2), created)
					if err := s.CreateHolds(ctx, h.Reservation.TierID, []*boxoffice.HoldRequest{h}); err != nil {
						fail(fmt.Errorf("CreateHolds: %w", err))
						return
					}
					if h.Err != nil {
						continue
					}
					mu.Lock()
					holds = append(holds, h.Reservation)
					mu.Unlock()
					if rng.IntN(2) == 0 { // some holds are paid for
						if _, err := s.Confirm(ctx, h.Reservation.ID, at, chargeOK, nil); err != nil && !errors.Is(err, boxoffice.ErrHoldExpired) {
							fail(fmt.Errorf("confirm: %w", err))
							return
						}
					}
				case k < 13: // cancel an order
					if id, ok := pick(rng); ok {
						if _, err := s.CancelOrder(ctx, id, at, nil); !allowed(err) {
							fail(fmt.Errorf("CancelOrder: %w", err))
							return
						}
					}
				case k < 15: // pay for an order
					if id, ok := pick(rng); ok {
						p := &boxoffice.Payment{ID: boxoffice.NewID(), OrderID: id, Provider: "test",
							Status: boxoffice.PaymentProcessing, StatusAt: at, CreatedAt: at, UpdatedAt: at}
						if err := s.CreatePayment(ctx, p, func(o *boxoffice.Order) error { p.Amount = o.Total; return nil }); err != nil {
							fail(fmt.Errorf("CreatePayment: %w", err))
							return
						}
						if _, err := s.SettlePayment(ctx, p.ID, "evt_"+p.ID, settleWith(succeeded("pi_"+p.ID), at, at, e.MaxTicketsPerUser, nil)); err != nil {
							fail(fmt.Errorf("SettlePayment: %w", err))
							return
						}
					}
				case k < 16: // refund some of an order
					if id, ok := pick(rng); ok {
						req := boxoffice.RefundRequest{ByOrganizer: true}
						if rng.IntN(2) == 0 {
							req.Lines = []boxoffice.RefundLine{{TierID: e.Tiers[rng.IntN(len(e.Tiers))].ID, Quantity: 1}}
						}
						_, err := s.RefundOrder(ctx, id, refundWith(e, req, at, nil))
						var ve *boxoffice.ValidationError
						if !allowed(err) && !errors.As(err, &ve) {
							fail(fmt.Errorf("RefundOrder: %w", err))
							return
						}
					}
				case k < 18:
					if _, err := s.ExpireOrders(ctx, at, 1+rng.IntN(4)); err != nil {
						fail(fmt.Errorf("ExpireOrders: %w", err))
						return
					}
				default:
					if _, err := s.ExpireHolds(ctx, at, 1+rng.IntN(4)); err != nil {
						fail(fmt.Errorf("ExpireHolds: %w", err))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Every order was written whole, or not at all.
	tiers := map[string]int{}
	tickets := map[string]int{}
	statuses := map[boxoffice.OrderStatus]int{}
	for _, req := range placed {
		got, err := s.Order(ctx, req.Order.ID)
		if req.Err != nil {
			if _, ok := boxoffice.IsLineError(req.Err); !ok {
				t.Fatalf("order refused with %v, want a LineError (seed %d)", req.Err, seed)
			}
			wantErr(t, "Order(refused)", err, boxoffice.ErrNotFound)
			continue
		}
		must(t, "Order(granted)", err)
		if len(got.Lines) != len(req.Order.Lines) {
			t.Fatalf("order %s has %d lines, was placed with %d (seed %d)", got.ID, len(got.Lines), len(req.Order.Lines), seed)
		}
		for i, l := range got.Lines {
			w := req.Order.Lines[i]
			if l.TierID != w.TierID || l.Quantity != w.Quantity || l.Refunded < 0 || l.Refunded > l.Quantity {
				t.Fatalf("order %s line %d: %+v, placed %+v (seed %d)", got.ID, i, l, w, seed)
			}
		}
		statuses[got.Status]++
		if got.Status.Holds() {
			for tier, n := range got.PerTier() {
				tiers[tier] += n
			}
			tickets[got.UserID] += got.Tickets()
		}
	}
	listed := 0
	for f := (boxoffice.OrderFilter{EventID: e.ID, Limit: 50}); ; {
		page, err := s.ListOrders(ctx, f)
		must(t, "ListOrders", err)
		listed += len(page)
		if len(page) < f.Limit {
			break
		}
		f.BeforeID = page[len(page)-1].ID
	}
	if listed != len(granted) {
		t.Fatalf("ListOrders lists %d orders of the event, %d were granted (seed %d)", listed, len(granted), seed)
	}
	for _, h := range holds {
		r, err := s.Reservation(ctx, h.ID)
		must(t, "Reservation", err)
		if r.Status == boxoffice.StatusHeld || r.Status == boxoffice.StatusConfirmed {
			tiers[r.TierID] += r.Quantity
			tickets[r.UserID] += r.Quantity
		}
	}
	t.Logf("orders: %d placed, %d granted, by status %v; %d holds", len(placed), len(granted), statuses, len(holds))

	got, err := s.Event(ctx, e.ID)
	must(t, "Event", err)
	for _, tier := range got.Tiers {
		if tier.Reserved != tiers[tier.ID] || tier.Reserved > tier.Capacity {
			t.Fatalf("tier %s: Reserved %d, capacity %d; the reservations and orders hold %d (seed %d)",
				tier.ID, tier.Reserved, tier.Capacity, tiers[tier.ID], seed)
		}
	}
	wantBalanced(t, s, e.ID)

	// Each user's count is their tickets: make room, then probe.
	_, err = s.UpdateEvent(ctx, e.ID, func(ev *boxoffice.Event) error {
		for i := range ev.Tiers {
			ev.Tiers[i].Capacity += len(users)
		}
		return nil
	})
	must(t, "UpdateEvent", err)
	for i := range e.Tiers {
		e.Tiers[i].Capacity += len(users)
	}
	for _, u := range users {
		wantTickets(t, s, e, 0, u, tickets[u])
	}
}
