package boxoffice

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func usd(a int64) Money { return Money{Amount: a, Currency: "USD"} }

// order returns a pending order of user u with lines of (tier, quantity)
// pairs at 10 USD a ticket.
func testOrder(u string, lines ...any) *Order {
	o := &Order{ID: NewID(), EventID: "E", UserID: u, Status: OrderPending, HoldExpiresAt: t0.Add(10 * time.Minute),
		Total: usd(0), Refunded: usd(0)}
	for i := 0; i < len(lines); i += 2 {
		q := lines[i+1].(int)
		o.Lines = append(o.Lines, OrderLine{TierID: lines[i].(string), Quantity: q, UnitPrice: usd(1000), Amount: usd(int64(q) * 1000)})
		o.Total.Amount += int64(q) * 1000
	}
	return o
}

func TestDecideOrdersAllOrNothing(t *testing.T) {
	a := &OrderRequest{Order: testOrder("u1", "A", 2, "B", 1), MaxPerUser: 10}
	b := &OrderRequest{Order: testOrder("u2", "A", 1, "B", 2), MaxPerUser: 10} // B has 1 left after a
	c := &OrderRequest{Order: testOrder("u3", "A", 1), MaxPerUser: 10}
	granted := DecideOrders([]*OrderRequest{a, b, c}, OrderFacts{Left: map[string]int{"A": 4, "B": 2}})
	if a.Err != nil || c.Err != nil {
		t.Fatalf("a, c = %v, %v; want granted", a.Err, c.Err)
	}
	le, ok := IsLineError(b.Err)
	if !ok || !errors.Is(b.Err, ErrSoldOut) || le.Line != 1 || le.TierID != "B" {
		t.Fatalf("b = %v; want sold_out naming line 1 (tier B)", b.Err)
	}
	// The refused order took nothing: c got its A ticket, and A, B moved
	// only by a and c.
	if granted["A"] != 3 || granted["B"] != 1 {
		t.Errorf("granted = %v; want A 3, B 1", granted)
	}
}

func TestDecideOrdersLimitCountsTheWholeOrder(t *testing.T) {
	// The user has 2 tickets already (a v1 hold, say); the limit is 4: an
	// order of 1 + 2 goes over at its second line.
	r := &OrderRequest{Order: testOrder("u", "A", 1, "B", 2), MaxPerUser: 4}
	DecideOrders([]*OrderRequest{r}, OrderFacts{Left: map[string]int{"A": 9, "B": 9}, Tickets: map[string]int{"u": 2}})
	if le, ok := IsLineError(r.Err); !ok || !errors.Is(r.Err, ErrLimitExceeded) || le.Line != 1 {
		t.Fatalf("err = %v; want limit_exceeded naming line 1", r.Err)
	}
	// Two orders of the same user in one batch count together.
	x := &OrderRequest{Order: testOrder("v", "A", 2), MaxPerUser: 3}
	y := &OrderRequest{Order: testOrder("v", "B", 2), MaxPerUser: 3}
	DecideOrders([]*OrderRequest{x, y}, OrderFacts{Left: map[string]int{"A": 9, "B": 9}})
	if x.Err != nil || !errors.Is(y.Err, ErrLimitExceeded) {
		t.Fatalf("x, y = %v, %v; want nil, limit_exceeded", x.Err, y.Err)
	}
}

func TestDecideOrdersIdempotencyKeys(t *testing.T) {
	idem := func(k string) *Idempotency { return &Idempotency{UserID: "u", Key: k} }
	a := &OrderRequest{Order: testOrder("u", "A", 1), MaxPerUser: 9, Idempotency: idem("k1")}
	b := &OrderRequest{Order: testOrder("u", "A", 1), MaxPerUser: 9, Idempotency: idem("k1")}
	c := &OrderRequest{Order: testOrder("u", "A", 1), MaxPerUser: 9, Idempotency: idem("old")}
	DecideOrders([]*OrderRequest{a, b, c}, OrderFacts{Left: map[string]int{"A": 9},
		Recorded: map[IdempotencyKey]bool{{"u", "old"}: true}})
	if a.Err != nil || !errors.Is(b.Err, ErrIdempotencyKeyReused) || !errors.Is(c.Err, ErrIdempotencyKeyReused) {
		t.Fatalf("a, b, c = %v, %v, %v", a.Err, b.Err, c.Err)
	}
}

func testPayment(o *Order) *Payment {
	return &Payment{ID: NewID(), OrderID: o.ID, Provider: "test", Status: PaymentProcessing, Amount: o.Total,
		StatusAt: t0, CreatedAt: t0, UpdatedAt: t0}
}

func succeeded(ref string) PaymentState { return PaymentState{Ref: ref, Status: PaymentSucceeded} }

func TestSettlePendingOrderIsPaid(t *testing.T) {
	o := testOrder("u", "A", 2)
	p := testPayment(o)
	// Even a moment after its hold ran out: until the sweeper releases
	// them, the tickets are held for it.
	now := o.HoldExpiresAt.Add(time.Second)
	s, changed := Settle(SettleFacts{Payment: p, Order: o, MaxPerUser: 4}, succeeded("pi_1"), now, now)
	if !changed || !s.OrderChanged || s.Reserve || s.Refund != nil || o.Status != OrderPaid || o.PaidBy != p.ID || o.PaidAt == nil {
		t.Fatalf("settle = %+v, order %s; want paid without reserving or refunding", s, o.Status)
	}
	if p.Ref != "pi_1" || p.Status != PaymentSucceeded {
		t.Errorf("payment = %+v", p)
	}
}

// The never-paid-but-released cases: a payment that succeeds after the
// order's hold expired.
func TestSettleLatePaymentTakesTheTicketsAgain(t *testing.T) {
	o := testOrder("u", "A", 2, "B", 1)
	o.Status = OrderExpired
	p := testPayment(o)
	now := t0.Add(time.Hour)
	s, _ := Settle(SettleFacts{Payment: p, Order: o, Left: map[string]int{"A": 2, "B": 5}, Tickets: 1, MaxPerUser: 4},
		succeeded("pi_1"), now, now)
	if o.Status != OrderPaid || !s.Reserve || s.Refund != nil {
		t.Fatalf("order %s, settlement %+v; want paid with the tickets taken again", o.Status, s)
	}
}

func TestSettleLatePaymentWithTicketsGoneIsRefunded(t *testing.T) {
	for name, f := range map[string]SettleFacts{
		"one tier sold out":  {Left: map[string]int{"A": 1, "B": 5}, MaxPerUser: 4},
		"over the limit now": {Left: map[string]int{"A": 9, "B": 9}, Tickets: 2, MaxPerUser: 4},
	} {
		t.Run(name, func(t *testing.T) {
			o := testOrder("u", "A", 2, "B", 1)
			o.Status = OrderCancelled
			p := testPayment(o)
			f.Order, f.Payment = o, p
			s, changed := Settle(f, succeeded("pi_1"), t0, t0)
			if !changed || s.Reserve || s.OrderChanged || o.Status != OrderCancelled {
				t.Fatalf("settlement %+v, order %s; want the order left as it is", s, o.Status)
			}
			if s.Refund == nil || s.Refund.Amount != p.Amount || s.Refund.PaymentID != p.ID || !s.Refund.Automatic ||
				s.Refund.Status != RefundPending || len(s.Refund.Lines) != 0 {
				t.Fatalf("refund = %+v; want the whole payment back, no tickets", s.Refund)
			}
		})
	}
}

func TestSettleSecondPaymentIsRefunded(t *testing.T) {
	o := testOrder("u", "A", 1)
	first, second := testPayment(o), testPayment(o)
	Settle(SettleFacts{Payment: first, Order: o, MaxPerUser: 4}, succeeded("pi_1"), t0, t0)
	s, _ := Settle(SettleFacts{Payment: second, Order: o, MaxPerUser: 4}, succeeded("pi_2"), t0, t0)
	if o.PaidBy != first.ID || s.Refund == nil || s.Refund.PaymentID != second.ID || s.Reserve {
		t.Fatalf("paid by %s, settlement %+v; want the second payment refunded", o.PaidBy, s)
	}
}

func TestSettleDuplicateAndOutOfOrderReports(t *testing.T) {
	o := testOrder("u", "A", 1)
	p := testPayment(o)
	at := t0.Add(time.Minute)
	if _, changed := Settle(SettleFacts{Payment: p, Order: o}, PaymentState{Ref: "pi", Status: PaymentFailed}, at, at); !changed {
		t.Fatal("a failure changed nothing")
	}
	if o.Status != OrderPending {
		t.Fatalf("a failed payment moved the order to %s; it keeps its tickets until the hold runs out", o.Status)
	}
	// An older report (processing, sent before the failure) arrives late.
	if _, changed := Settle(SettleFacts{Payment: p, Order: o}, PaymentState{Status: PaymentProcessing}, t0, at); changed || p.Status != PaymentFailed {
		t.Fatalf("an older report changed the payment to %s", p.Status)
	}
	// The same report twice changes nothing.
	if _, changed := Settle(SettleFacts{Payment: p, Order: o}, PaymentState{Ref: "pi", Status: PaymentFailed}, at, at); changed {
		t.Fatal("a repeated report changed something")
	}
	// A success, even with an older time, wins and is final.
	if _, changed := Settle(SettleFacts{Payment: p, Order: o, MaxPerUser: 4}, succeeded("pi"), t0, at); !changed || o.Status != OrderPaid {
		t.Fatalf("success after failure: order %s", o.Status)
	}
	if _, changed := Settle(SettleFacts{Payment: p, Order: o}, PaymentState{Status: PaymentFailed}, at.Add(time.Hour), at); changed || p.Status != PaymentSucceeded {
		t.Fatalf("a failure after success changed the payment to %s", p.Status)
	}
}

func TestDecideRefund(t *testing.T) {
	paid := func() (*Order, *Payment) {
		o := testOrder("u", "A", 2, "B", 1)
		p := testPayment(o)
		Settle(SettleFacts{Payment: p, Order: o, MaxPerUser: 9}, succeeded("pi"), t0, t0)
		return o, p
	}
	start := t0.Add(48 * time.Hour)

	o, p := paid()
	r, err := DecideRefund(o, p, RefundRequest{Lines: []RefundLine{{"A", 1}}}, start, true, t0)
	if err != nil || r.Amount != usd(1000) || o.Status != OrderPartiallyRefunded || o.Lines[0].Refunded != 1 || o.Refunded != usd(1000) {
		t.Fatalf("partial refund: %+v, %v; order %s %+v", r, err, o.Status, o.Refunded)
	}
	r, err = DecideRefund(o, p, RefundRequest{}, start, true, t0)
	if err != nil || r.Amount != usd(2000) || o.Status != OrderRefunded || o.Tickets() != 0 || o.Refunded != o.Total {
		t.Fatalf("refund of the rest: %+v, %v; order %s", r, err, o.Status)
	}
	if _, err := DecideRefund(o, p, RefundRequest{}, start, true, t0); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("refunding a refunded order: %v", err)
	}

	o, p = paid()
	before := *o
	if _, err := DecideRefund(o, p, RefundRequest{Lines: []RefundLine{{"A", 1}, {"B", 2}}}, start, true, t0); err == nil {
		t.Fatal("refunding more than a line has: no error")
	}
	if o.Status != before.Status || o.Lines[0].Refunded != 0 || o.Refunded != before.Refunded {
		t.Fatal("a refused refund changed the order")
	}
	if _, err := DecideRefund(o, p, RefundRequest{}, start, true, start); !errors.Is(err, ErrRefundClosed) {
		t.Fatalf("a fan's refund at the deadline: %v; want refund_closed", err)
	}
	if _, err := DecideRefund(o, p, RefundRequest{}, start, false, t0); !errors.Is(err, ErrRefundClosed) {
		t.Fatalf("a fan's refund without fan refunds: %v; want refund_closed", err)
	}
	if _, err := DecideRefund(o, p, RefundRequest{ByOrganizer: true}, start, false, start.Add(time.Hour)); err != nil {
		t.Fatalf("an organizer's refund after the deadline: %v", err)
	}

	// An empty list of tickets names none: refused, not a refund of all.
	o, p = paid()
	o.Issued = IssueTickets(o, t0)
	var ve *ValidationError
	if _, err := DecideRefund(o, p, RefundRequest{TicketIDs: []string{}, ByOrganizer: true}, start, true, t0); !errors.As(err, &ve) {
		t.Fatalf("a refund of no named tickets: %v; want a validation error", err)
	}
	if o.Refunded.Amount != 0 || o.Issued[0].Status != TicketValid {
		t.Fatal("a refused refund of no named tickets changed the order")
	}

	pending := testOrder("u", "A", 1)
	if _, err := DecideRefund(pending, testPayment(pending), RefundRequest{ByOrganizer: true}, start, true, t0); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("refunding an unpaid order: %v", err)
	}
}

func TestPaymentAllowed(t *testing.T) {
	o := testOrder("u", "A", 1)
	if err := PaymentAllowed(o, t0); err != nil {
		t.Fatalf("pending order: %v", err)
	}
	if err := PaymentAllowed(o, o.HoldExpiresAt); !errors.Is(err, ErrHoldExpired) {
		t.Fatalf("hold run out: %v", err)
	}
	o.Payment = &Payment{Status: PaymentProcessing}
	if err := PaymentAllowed(o, t0); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("payment under way: %v", err)
	}
	o.Payment.Status = PaymentRequiresAction
	if err := PaymentAllowed(o, t0); err != nil {
		t.Fatalf("replacing a payment that needs action: %v", err)
	}
	o.Status = OrderCancelled
	if err := PaymentAllowed(o, t0); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("cancelled order: %v", err)
	}
}

func TestOrderLifeCycleSteps(t *testing.T) {
	o := testOrder("u", "A", 1)
	if OrderExpireStep(o, t0) || !OrderExpireStep(o, o.HoldExpiresAt) {
		t.Fatal("expiry step")
	}
	if to, err := OrderCancelStep(o); err != nil || to != OrderCancelled {
		t.Fatalf("cancel pending: %s, %v", to, err)
	}
	o.Status = OrderPaid
	if _, err := OrderCancelStep(o); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("cancel paid: %v", err)
	}
}

func TestFormatMoney(t *testing.T) {
	for m, want := range map[Money]string{usd(5000): "USD 50.00", usd(5): "USD 0.05", {Amount: 5000, Currency: "JPY"}: "JPY 5000"} {
		if got := formatMoney(m); got != want {
			t.Errorf("formatMoney(%v) = %q, want %q", m, got, want)
		}
	}
}
