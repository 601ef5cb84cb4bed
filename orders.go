package boxoffice

import (
	"errors"
	"fmt"
	"time"
)

// This file is the order: one checkout of tickets from one or more tiers of
// one event, held all or nothing, paid once, refunded in whole or in part.
// Its life cycle, and the one place that decides each step:
//
//	pending  → paid                a payment succeeded while the tickets were held (Settle)
//	pending  → cancelled           by its buyer or an admin (OrderCancelStep)
//	pending  → expired             the hold ran out unpaid (OrderExpireStep)
//	expired  → paid                a payment succeeded late and the tickets could be taken again (Settle)
//	cancelled → paid               the same, for a payment that was already under way when the order was cancelled
//	paid     → partially_refunded  some tickets refunded (DecideRefund)
//	paid     → refunded            every ticket refunded
//	partially_refunded → partially_refunded | refunded
//
// A payment that succeeds for an order whose tickets are gone, or for an
// order already paid by another payment, is refunded in full (Settle): money
// is never kept for tickets the buyer does not have.

// OrderStatus is the state of an order.
type OrderStatus string

// The order states.
const (
	OrderPending           OrderStatus = "pending"
	OrderPaid              OrderStatus = "paid"
	OrderExpired           OrderStatus = "expired"
	OrderCancelled         OrderStatus = "cancelled"
	OrderRefunded          OrderStatus = "refunded"
	OrderPartiallyRefunded OrderStatus = "partially_refunded"
)

// Valid reports whether s is one of the order states.
func (s OrderStatus) Valid() bool {
	switch s {
	case OrderPending, OrderPaid, OrderExpired, OrderCancelled, OrderRefunded, OrderPartiallyRefunded:
		return true
	}
	return false
}

// Holds reports whether an order in state s holds tickets: its lines'
// quantities less what was refunded count against their tiers and its
// user's limit.
func (s OrderStatus) Holds() bool {
	return s == OrderPending || s == OrderPaid || s == OrderPartiallyRefunded
}

// Sold reports whether an order in state s was paid for (refunded orders
// included: their money history stays).
func (s OrderStatus) Sold() bool {
	return s == OrderPaid || s == OrderPartiallyRefunded || s == OrderRefunded
}

// MaxOrderLines caps the lines of one order.
const MaxOrderLines = 20

// maxRefundTickets caps the tickets one refund names: no order holds more
// than one user may buy.
const maxRefundTickets = maxPerUserLimit

// OrderLine is the tickets of one tier in an order.
type OrderLine struct {
	TierID    string
	Quantity  int
	UnitPrice Money
	// Amount is UnitPrice × Quantity.
	Amount Money
	// Refunded is how many of the line's tickets were refunded; they are
	// back on sale.
	Refunded int
	// Attendees names the person of each ticket, when the buyer gave them
	// (at most Quantity).
	Attendees []Attendee
}

// Kept is the number of the line's tickets the order still holds.
func (l *OrderLine) Kept() int { return l.Quantity - l.Refunded }

// Order is a checkout of tickets of one event.
type Order struct {
	ID      string
	EventID string
	UserID  string
	// Email is where the order's mail goes.
	Email  string
	Status OrderStatus
	Lines  []OrderLine
	// Total is the sum of the lines' amounts; Refunded the sum of the
	// refunds made for the order (pending ones included: a refund once
	// decided is owed until it is done).
	Total    Money
	Refunded Money
	// HoldExpiresAt is when an unpaid order's tickets go back on sale.
	HoldExpiresAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	PaidAt        *time.Time
	// PaidBy is the payment that paid the order ("" until paid).
	PaidBy string
	// Payment is the order's latest payment, when the store loads it.
	Payment *Payment
	// Issued is the order's tickets, when the store loads them (issued
	// once it is paid).
	Issued []*Ticket
}

// Tickets returns the number of tickets the order holds now.
func (o *Order) Tickets() int {
	n := 0
	for i := range o.Lines {
		n += o.Lines[i].Kept()
	}
	return n
}

// PerTier returns the tickets each of the order's tiers has in it, less
// those refunded.
func (o *Order) PerTier() map[string]int {
	m := make(map[string]int, len(o.Lines))
	for i := range o.Lines {
		m[o.Lines[i].TierID] += o.Lines[i].Kept()
	}
	return m
}

// HoldRunOut reports whether an unpaid order's hold has run out at now.
func (o *Order) HoldRunOut(now time.Time) bool { return !now.Before(o.HoldExpiresAt) }

// LineError is a refusal that names the order line it is about. It unwraps
// to the domain error (ErrSoldOut, ErrLimitExceeded, ErrSalesClosed).
type LineError struct {
	Line   int // index into the order's lines
	TierID string
	Err    error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d (tier %s): %v", e.Line, e.TierID, e.Err)
}
func (e *LineError) Unwrap() error { return e.Err }

// OrderRequest is one order to place, decided together with others for the
// same event in one transaction by Store.CreateOrders.
type OrderRequest struct {
	// Order is fully built by the service (ID, lines, amounts, times,
	// status pending); the store inserts it when it is granted.
	Order *Order
	// MaxPerUser is the event's max_tickets_per_user.
	MaxPerUser int
	// Idempotency, when not nil, is inserted with the order.
	Idempotency *Idempotency
	// Err is the store's verdict: nil when the order was committed, a
	// *LineError wrapping ErrSoldOut or ErrLimitExceeded, or
	// ErrIdempotencyKeyReused.
	Err error
}

// OrderFacts is what the order decision reads from the system of record, in
// the transaction that writes its verdicts.
type OrderFacts struct {
	// Left is the number of tickets left in each tier the batch asks for.
	Left map[string]int
	// Tickets is each user's held + confirmed tickets for the event before
	// the batch (v1 reservations and orders alike).
	Tickets map[string]int
	// Recorded holds the idempotency keys already on record.
	Recorded map[IdempotencyKey]bool
}

// DecideOrders decides a batch of orders for one event, in slice order, and
// sets each request's Err. An order is granted whole or refused whole: every
// line must fit in its tier's tickets left (after the orders granted before
// it in the batch), and the order's tickets with the user's must stay within
// MaxPerUser. The refusal names the first line that does not fit (for the
// limit: the line that takes the user over it). A refused order takes
// nothing. It returns the tickets granted per tier.
func DecideOrders(reqs []*OrderRequest, f OrderFacts) map[string]int {
	left := make(map[string]int, len(f.Left))
	for t, n := range f.Left {
		left[t] = n
	}
	granted := make(map[string]int)
	batch := make(map[string]int) // tickets granted per user in this batch
	keys := keyClaims{recorded: f.Recorded}
	for _, req := range reqs {
		o := req.Order
		if !keys.claimKey(req.Idempotency) {
			req.Err = ErrIdempotencyKeyReused
			continue
		}
		req.Err = decideOrder(o, left, f.Tickets[o.UserID]+batch[o.UserID], req.MaxPerUser)
		if req.Err != nil {
			continue
		}
		for i := range o.Lines {
			l := &o.Lines[i]
			left[l.TierID] -= l.Quantity
			granted[l.TierID] += l.Quantity
			batch[o.UserID] += l.Quantity
		}
	}
	return granted
}

// decideOrder is the rule for one order against the tickets left per tier
// and the user's tickets: each line as decideOne decides a hold, with the
// earlier lines of the order counted.
func decideOrder(o *Order, left map[string]int, tickets, maxPerUser int) error {
	used := make(map[string]int, len(o.Lines))
	for i := range o.Lines {
		l := &o.Lines[i]
		if err := decideOne(l.Quantity, left[l.TierID]-used[l.TierID], tickets, maxPerUser); err != nil {
			return &LineError{Line: i, TierID: l.TierID, Err: err}
		}
		used[l.TierID] += l.Quantity
		tickets += l.Quantity
	}
	return nil
}

// OrderCancelStep decides a cancellation of o: a pending order is cancelled
// and its tickets go back on sale at once; any other state answers
// ErrInvalidState (a paid order is refunded, not cancelled).
func OrderCancelStep(o *Order) (OrderStatus, error) {
	if o.Status != OrderPending {
		return "", errOrderState(o, "cancelled")
	}
	return OrderCancelled, nil
}

// OrderExpireStep reports whether the sweeper expires o at now: a pending
// order whose hold ran out.
func OrderExpireStep(o *Order, now time.Time) bool {
	return o.Status == OrderPending && o.HoldRunOut(now)
}

// ApplyStatus moves o to status at now (PaidAt for paid).
func (o *Order) ApplyStatus(status OrderStatus, now time.Time) {
	o.Status, o.UpdatedAt = status, now
	if status == OrderPaid && o.PaidAt == nil {
		o.PaidAt = &now
	}
}

func errOrderState(o *Order, want string) error {
	return Errorf(CodeInvalidState, "the order is %s and cannot be %s", o.Status, want)
}

var errNothingToRefund = Errorf(CodeInvalidState, "nothing of this order is left to refund")

// RefundLine is how many tickets of one tier of an order to refund.
type RefundLine struct {
	TierID   string
	Quantity int
}

// RefundRequest is a refund asked for by a fan (ByOrganizer false) or an
// organizer. TicketIDs names the tickets to refund; else Lines says how
// many of each tier; both nil refunds every ticket the order still holds.
type RefundRequest struct {
	TicketIDs   []string
	Lines       []RefundLine
	Reason      string
	ByOrganizer bool
}

// DecideRefund decides a refund of o at now, paid by payment p, and applies
// it to o: the lines' Refunded counts, o.Refunded, the status (refunded
// when nothing is left, else partially_refunded) and the issued tickets it
// takes back (void: the named ones, else per line the unused ones first).
// It returns the refund to make (status pending), whose Lines are the
// tickets that go back on sale and TicketIDs the tickets voided. A fan may refund only until the event's fan refund deadline
// (ErrRefundClosed); nobody may refund an unpaid order or more tickets than
// a line holds (ErrInvalidState, *ValidationError).
func DecideRefund(o *Order, p *Payment, req RefundRequest, fanDeadline time.Time, fanRefunds bool, now time.Time) (*Refund, error) {
	if !o.Status.Sold() || p == nil || p.ID != o.PaidBy {
		return nil, errOrderState(o, "refunded")
	}
	if !req.ByOrganizer && (!fanRefunds || !now.Before(fanDeadline)) {
		return nil, ErrRefundClosed
	}
	lines := req.Lines
	var v ValidationError
	if req.TicketIDs != nil {
		if len(req.TicketIDs) == 0 {
			// Not nil: the caller chose tickets, and chose none.
			v.Add("ticket_ids", "must name at least one ticket")
		}
		lines = refundLinesOf(o, req.TicketIDs, &v)
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	if lines == nil {
		for _, l := range o.Lines {
			if l.Kept() > 0 {
				lines = append(lines, RefundLine{TierID: l.TierID, Quantity: l.Kept()})
			}
		}
		if len(lines) == 0 {
			return nil, errNothingToRefund
		}
	}
	// Validate against a copy, so a refused refund changes nothing.
	next := append([]OrderLine(nil), o.Lines...)
	var amount int64
	for i, rl := range lines {
		want := rl.Quantity
		if want < 1 {
			v.Add(fmt.Sprintf("lines[%d].quantity", i), "must be at least 1")
			continue
		}
		for j := range next {
			if want == 0 {
				break
			}
			if next[j].TierID != rl.TierID {
				continue
			}
			n := min(want, next[j].Kept())
			next[j].Refunded += n
			amount += next[j].UnitPrice.Amount * int64(n)
			want -= n
		}
		if want > 0 {
			v.Add(fmt.Sprintf("lines[%d].quantity", i), "is more than the order has left to refund in this tier")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	o.Lines = next
	var voided []string
	if req.TicketIDs != nil {
		voided = voidNamed(o, req.TicketIDs, now)
	} else {
		voided = voidTickets(o, lines, now)
	}
	o.Refunded.Amount += amount
	o.Refunded.Currency = o.Total.Currency
	status := OrderPartiallyRefunded
	if o.Tickets() == 0 {
		status = OrderRefunded
	}
	o.ApplyStatus(status, now)
	return &Refund{
		ID: NewID(), OrderID: o.ID, PaymentID: p.ID, Provider: p.Provider,
		Amount: Money{Amount: amount, Currency: o.Total.Currency}, Status: RefundPending,
		Reason: req.Reason, Lines: lines, TicketIDs: voided, ByOrganizer: req.ByOrganizer,
		CreatedAt: now, UpdatedAt: now, NextAttemptAt: now,
	}, nil
}

// SettleFacts is what Settle reads, under the locks of the payment, its
// order, the order's user's counter and its tiers.
type SettleFacts struct {
	Payment *Payment
	Order   *Order
	// Left is the tickets left in each of the order's tiers.
	Left map[string]int
	// Tickets is the order's user's held + confirmed tickets for the event.
	Tickets int
	// MaxPerUser is the event's max_tickets_per_user.
	MaxPerUser int
}

// Settlement is what Settle decided; the store writes it in the same
// transaction.
type Settlement struct {
	// Payment is the payment as it is now (always written).
	Payment *Payment
	// Order is the order as it is now; OrderChanged says whether to write
	// it.
	Order        *Order
	OrderChanged bool
	// Reserve says to take the order's tickets again (a late payment for an
	// expired or cancelled order whose tickets were still there).
	Reserve bool
	// Refund, when not nil, is a refund of the whole payment to make: its
	// tickets are gone, or the order was paid by another payment.
	Refund *Refund
	// Tickets are the tickets the order issues now that it is paid.
	Tickets []*Ticket
	// Mail, when not nil, goes to the outbox (set by the service).
	Mail *OutboxMessage
	// Webhooks go to the webhook outbox (set by the service).
	Webhooks []*WebhookMessage
}

// SettleRequest is one report on a payment for Store.SettlePayments.
type SettleRequest struct {
	PaymentID string
	// EventKey names the provider event being applied ("" for a report
	// from a call); see SettlePayment.
	EventKey string
	// Decide is called with the payment's facts and returns what to write,
	// whether anything changed, or an error refusing the report.
	Decide func(SettleFacts) (Settlement, bool, error)

	// Set by the store: the order as written with Payment the payment as
	// written, and what Decide returned when it was written (Changed).
	Order      *Order
	Settlement Settlement
	Changed    bool
	Err        error
}

// Settle applies a payment's state as the provider reports it (at the time
// at) to the payment and its order at now:
//
//   - the payment's status moves as NextPaymentStatus says; a report that
//     changes nothing changes nothing (a duplicate or a stale event);
//   - when the payment has just succeeded: a pending order is paid (its
//     tickets were held for it, even if its hold ran out a moment ago and
//     the sweeper has not released them); an expired or cancelled order is
//     paid when every line's tickets are still there and the user stays
//     within the event's limit (Reserve), and otherwise the payment is
//     refunded in full; an order already paid by another payment gets this
//     one refunded in full.
//
// A payment that fails changes nothing else: the order keeps its tickets
// until its hold runs out, and the buyer may pay again.
func Settle(f SettleFacts, st PaymentState, at, now time.Time) (s Settlement, changed bool) {
	p, o := f.Payment, f.Order
	s.Payment, s.Order = p, o
	if !p.Advance(st, at, now) {
		return s, false
	}
	if p.Status != PaymentSucceeded {
		return s, true
	}
	switch {
	case o.Status == OrderPending:
		o.ApplyStatus(OrderPaid, now)
		o.PaidBy, s.OrderChanged = p.ID, true
		s.Tickets = IssueTickets(o, now)
	case (o.Status == OrderExpired || o.Status == OrderCancelled) && fitsAgain(o, f):
		o.ApplyStatus(OrderPaid, now)
		o.PaidBy, s.OrderChanged, s.Reserve = p.ID, true, true
		s.Tickets = IssueTickets(o, now)
	default: // tickets gone, or paid by another payment
		s.Refund = &Refund{
			ID: NewID(), OrderID: o.ID, PaymentID: p.ID, Provider: p.Provider, Amount: p.Amount,
			Status: RefundPending, Reason: refundReason(o), Automatic: true,
			CreatedAt: now, UpdatedAt: now, NextAttemptAt: now,
		}
	}
	return s, true
}

// fitsAgain reports whether every line of o fits in its tier's tickets left
// and the user stays within the limit with them.
func fitsAgain(o *Order, f SettleFacts) bool {
	return decideOrder(o, f.Left, f.Tickets, f.MaxPerUser) == nil
}

func refundReason(o *Order) string {
	if o.Status.Sold() {
		return "the order was already paid by another payment"
	}
	return "the payment arrived after the order's tickets had gone back on sale and were sold"
}

// ErrRefundClosed is the refusal of a fan's refund after the event's
// refund deadline.
var ErrRefundClosed = &Error{CodeRefundClosed, "refunds for this event are closed; ask the organizer"}

// IsLineError reports whether err names an order line, and returns it.
func IsLineError(err error) (*LineError, bool) {
	var le *LineError
	ok := errors.As(err, &le)
	return le, ok
}
