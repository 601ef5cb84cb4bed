package boxoffice_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/memory"
	"boxoffice/internal/testdb"
)

// buy places and pays an order of n GA tickets of e for buyer.
func (h *harness) buy(t *testing.T, buyer boxoffice.Caller, e *boxoffice.Event, n int, pay bool) *boxoffice.Order {
	t.Helper()
	o, err := h.svc.Orders.CreateOrder(t.Context(), buyer, boxoffice.OrderInput{EventID: e.ID,
		Lines: []boxoffice.OrderLineInput{{TierID: e.Tiers[0].ID, Quantity: n}}})
	if err != nil {
		t.Fatal(err)
	}
	if !pay {
		return o
	}
	if _, o, err = h.svc.Orders.StartPayment(t.Context(), buyer, o.ID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	if o.Status != boxoffice.OrderPaid {
		t.Fatalf("order %s after paying: %s", o.ID, o.Status)
	}
	return o
}

// settled checks that every order of e is refunded in full or cancelled,
// that no ticket of them stays valid, and that the event's money is all
// given back; it returns how many refunds each order has.
func (h *harness) settled(t *testing.T, e *boxoffice.Event, orders []*boxoffice.Order) map[string]int {
	t.Helper()
	ctx := t.Context()
	refunds := map[string]int{}
	for _, o := range orders {
		got, err := h.store.Order(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := boxoffice.OrderRefunded
		if o.Status == boxoffice.OrderPending {
			want = boxoffice.OrderCancelled
		}
		if got.Status != want || (want == boxoffice.OrderRefunded && got.Refunded.Amount != got.Total.Amount) {
			t.Errorf("order %s (was %s): %s, refunded %v of %v", o.ID, o.Status, got.Status, got.Refunded, got.Total)
		}
		ts, err := h.store.OrderTickets(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range ts {
			if tk.Status != boxoffice.TicketVoid {
				t.Errorf("ticket %s of order %s: %s", tk.ID, o.ID, tk.Status)
			}
		}
		rs, err := h.store.OrderRefunds(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		refunds[o.ID] = len(rs)
	}
	rev, err := h.store.Revenue(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Paid["USD"] == 0 || rev.Paid["USD"] != rev.Refunded["USD"] {
		t.Errorf("revenue: paid %v, refunded %v", rev.Paid, rev.Refunded)
	}
	h.checkSales(t, e.ID, 0)
	return refunds
}

// TestCancelEvent: cancelling an event refunds its paid orders in full as
// its organizer, cancels its pending ones, voids every ticket, mails each
// buyer once, keeps the event readable and records the cancellation; a
// second pass refunds nothing twice. On both stores.
func TestCancelEvent(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			h := newHarness(t, open(t))
			e := h.event(t, 20, 4)
			fans := h.users(t, 5)
			var orders []*boxoffice.Order
			for _, f := range fans[:3] {
				orders = append(orders, h.buy(t, f, e, 2, true))
			}
			// One buyer already took a ticket back.
			if _, err := h.svc.Orders.RefundOrder(ctx, fans[0], orders[0].ID, boxoffice.RefundInput{
				Lines: []boxoffice.RefundLine{{TierID: e.Tiers[0].ID, Quantity: 1}}}); err != nil {
				t.Fatal(err)
			}
			orders = append(orders, h.buy(t, fans[3], e, 1, false))

			if _, err := h.svc.Orders.CancelEvent(ctx, fans[4], e.ID, ""); !errors.Is(err, boxoffice.ErrNotFound) {
				t.Fatalf("a fan cancels: %v", err)
			}
			if _, err := h.svc.Orders.CancelEvent(ctx, h.admin, e.ID, strings.Repeat("x", 501)); err == nil {
				t.Fatal("a reason of 501 characters was taken")
			}
			out, err := h.svc.Orders.CancelEvent(ctx, h.admin, e.ID, "The hall flooded.")
			if err != nil {
				t.Fatal(err)
			}
			if out.Event.Status != boxoffice.EventCancelled || out.Refunded != 3 || out.Cancelled != 1 || !out.Complete {
				t.Fatalf("cancellation: %+v (event %s)", out, out.Event.Status)
			}
			if _, err := h.svc.Orders.CancelEvent(ctx, h.admin, e.ID, ""); !errors.Is(err, boxoffice.ErrInvalidState) {
				t.Fatalf("cancelling twice: %v", err)
			}
			refunds := h.settled(t, e, orders)
			if refunds[orders[0].ID] != 2 || refunds[orders[1].ID] != 1 || refunds[orders[3].ID] != 0 {
				t.Fatalf("refunds per order: %v", refunds)
			}
			if got, err := h.svc.Event(ctx, boxoffice.Caller{}, e.ID); err != nil || got.Status != boxoffice.EventCancelled {
				t.Fatalf("the public reads the cancelled event: %v, %v", got, err)
			}
			// The background pass finds nothing left and refunds nothing twice.
			if n, err := h.svc.Orders.SettleCancelled(ctx); n != 0 || err != nil {
				t.Fatalf("SettleCancelled after a complete cancellation: %d, %v", n, err)
			}
			if again := h.settled(t, e, orders); again[orders[0].ID] != 2 || again[orders[1].ID] != 1 {
				t.Fatalf("refunds after a second pass: %v", again)
			}
			// One mail per paying buyer, saying it all.
			now := h.clock.Now()
			msgs, err := h.store.ClaimMail(ctx, now, now.Add(time.Minute), 100)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, m := range msgs {
				if m.Kind == boxoffice.MailEventCancelled {
					got[m.To]++
					for _, want := range []string{"is cancelled", "The hall flooded.", "no longer valid", "USD"} {
						if !strings.Contains(m.Text, want) {
							t.Errorf("the mail does not say %q:\n%s", want, m.Text)
						}
					}
				}
			}
			if len(got) != 3 {
				t.Errorf("cancellation mails: %v", got)
			}
			for to, n := range got {
				if n != 1 {
					t.Errorf("%s got %d cancellation mails", to, n)
				}
			}
			// The audit log says who cancelled.
			page, err := h.svc.Audit.List(ctx, h.admin, e.OrganizerOf(), boxoffice.AuditQuery{})
			if err != nil {
				t.Fatal(err)
			}
			var cancelled *boxoffice.AuditEntry
			for _, a := range page.Items {
				if a.Action == "event.cancelled" {
					cancelled = a
				}
			}
			if cancelled == nil || cancelled.Actor != h.admin.UserID || cancelled.SubjectID != e.ID {
				t.Fatalf("no event.cancelled entry by the admin: %+v", page.Items)
			}
			var d map[string]any
			if err := json.Unmarshal(cancelled.Detail, &d); err != nil || d["reason"] != "The hall flooded." {
				t.Fatalf("detail %s: %v", cancelled.Detail, err)
			}
		})
	}
}

// TestCancelEventResumes: a cancellation interrupted after the event was
// marked cancelled is finished by the background pass, batch by batch.
func TestCancelEventResumes(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			h := newHarness(t, open(t))
			e := h.event(t, 20, 4)
			var orders []*boxoffice.Order
			for _, f := range h.users(t, 4) {
				orders = append(orders, h.buy(t, f, e, 1, true))
			}
			orders = append(orders, h.buy(t, h.users(t, 1)[0], e, 2, false))
			// The crash: the event is cancelled, its orders untouched.
			if _, err := h.store.UpdateEvent(ctx, e.ID, func(e *boxoffice.Event) error {
				e.Status = boxoffice.EventCancelled
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			n, err := h.svc.Orders.SettleCancelled(ctx)
			if n != 5 || err != nil {
				t.Fatalf("SettleCancelled: %d, %v", n, err)
			}
			h.settled(t, e, orders)
			run(t, h.svc)
			// The refund outbox sends every refund to the provider.
			waitFor(t, func() bool {
				for _, o := range orders[:4] {
					rs, err := h.store.OrderRefunds(context.Background(), o.ID)
					if err != nil || len(rs) != 1 || rs[0].Status != boxoffice.RefundSucceeded {
						return false
					}
				}
				return true
			})
		})
	}
}

func TestCancelTransition(t *testing.T) {
	now := time.Now()
	past := now.Add(-time.Hour)
	for _, c := range []struct {
		from boxoffice.EventStatus
		ok   bool
	}{{boxoffice.EventDraft, true}, {boxoffice.EventPublished, true}, {boxoffice.EventCancelled, false}, {boxoffice.EventArchived, false}} {
		e := &boxoffice.Event{Status: c.from, StartsAt: past}
		if err := e.Transition(boxoffice.EventCancelled, now); (err == nil) != c.ok {
			t.Errorf("%s → cancelled: %v", c.from, err)
		}
	}
}

func TestAuditDetail(t *testing.T) {
	got := string(boxoffice.AuditDetail(map[string]any{"url": "https://x", "secret": "whsec_1", "Password": "p", "token_hash": "h", "n": 2}))
	if got != `{"n":2,"url":"https://x"}` {
		t.Fatalf("detail: %s", got)
	}
	if got := string(boxoffice.AuditDetail(map[string]any{"big": strings.Repeat("x", 5000)})); got != `{"truncated":true}` {
		t.Fatalf("a big detail: %s", got)
	}
	if a := boxoffice.ActorOf(boxoffice.Caller{Key: &boxoffice.KeyGrant{KeyID: "K"}}); a != "key:K" {
		t.Fatalf("actor of a key: %s", a)
	}
}

// TestCancelClosesWaitingRoom: once the event is cancelled its waiting
// room admits nobody: those in it read cancelled (no admission token),
// and joining answers sales_closed.
func TestCancelClosesWaitingRoom(t *testing.T) {
	h := newRoomHarness(t)
	ctx := t.Context()
	r := h.room(memory.NewQueue())
	e := h.queued(t, 10, 60)
	u := callers(3)
	for _, c := range u[:2] {
		if _, err := r.Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.svc.Orders.CancelEvent(ctx, h.admin, e.ID, ""); err != nil {
		t.Fatal(err)
	}
	// The room's copy of the event is at most a second old.
	waitFor(t, func() bool {
		st, err := r.Status(ctx, u[0], e.ID)
		return err == nil && st.Status == boxoffice.QueueCancelled
	})
	tick(t, r)
	for _, c := range u[:2] {
		st := status(t, r, c, e.ID)
		if st.Status != boxoffice.QueueCancelled || st.AdmissionToken != "" || st.Position != 0 || !st.Status.Terminal() {
			t.Fatalf("status in a cancelled event's room: %+v", st)
		}
	}
	if _, err := r.Join(ctx, u[2], e.ID); !errors.Is(err, boxoffice.ErrSalesClosed) {
		t.Fatalf("joining a cancelled event's room: %v", err)
	}
}

// TestCancelEventInBatches: a cancellation settles 100 orders before it
// answers (Complete false), and the background pass the rest.
func TestCancelEventInBatches(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, testdb.SQLite(t))
	e := h.event(t, 200, 4)
	var orders []*boxoffice.Order
	for _, f := range h.users(t, 26) {
		for range 4 {
			orders = append(orders, h.buy(t, f, e, 1, false))
		}
	}
	out, err := h.svc.Orders.CancelEvent(ctx, h.admin, e.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if out.Complete || out.Cancelled != 100 || out.Refunded != 0 {
		t.Fatalf("cancellation of 104 orders: %+v", out)
	}
	if n, err := h.svc.Orders.SettleCancelled(ctx); n != 4 || err != nil {
		t.Fatalf("SettleCancelled: %d, %v", n, err)
	}
	for _, o := range orders {
		got, err := h.store.Order(ctx, o.ID)
		if err != nil || got.Status != boxoffice.OrderCancelled {
			t.Fatalf("order %s: %v, %v", o.ID, got.Status, err)
		}
	}
	h.checkSales(t, e.ID, 0)

	// With the background work running, an incomplete cancellation wakes
	// it at once.
	e = h.event(t, 200, 4)
	for _, f := range h.users(t, 26) {
		for range 4 {
			h.buy(t, f, e, 1, false)
		}
	}
	run(t, h.svc)
	if out, err := h.svc.Orders.CancelEvent(ctx, h.admin, e.ID, ""); err != nil || out.Complete {
		t.Fatalf("second cancellation: %+v, %v", out, err)
	}
	waitFor(t, func() bool {
		s, err := h.svc.Sales(ctx, h.admin, e.ID)
		return err == nil && s.Tiers[0].Held == 0 && s.Tiers[0].Available == 200
	})
}
