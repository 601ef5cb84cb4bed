package boxoffice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"
)

// Orders is the checkout aggregate: orders of several tiers held all or
// nothing (through the group-commit engine, batched per event), payments
// through the configured PaymentProvider, provider callbacks, refunds sent
// through an outbox, and a reconciliation job that asks the provider about
// every payment still under way. It is safe for concurrent use; Run must be
// running for orders to expire, refunds to be sent and payments to be
// reconciled.
type Orders struct {
	store      Store
	provider   PaymentProvider // nil: nothing can be paid
	admissions Admissions
	log        *slog.Logger
	now        func() time.Time
	events     *eventCache
	access     *Access
	keys       *keyCache
	limits     *Limiter
	engine     *orderEngine
	settler    *settleEngine
	parties    *partyReader
	inflight   *inflightKeys
	outbox     *Outbox
	hooks      *Webhooks
	audit      *Audit
	publicURL  string
	sweep      time.Duration
	timeout    time.Duration // of one background store or provider call

	refundsDue chan struct{} // wakes the refund sender
	cancelsDue chan struct{} // wakes the settling of cancelled events' orders
}

func (s *Orders) clock() time.Time { return normTime(s.now()) }

// OrderLineInput is one line of a new order.
type OrderLineInput struct {
	TierID    string
	Quantity  int
	Attendees []Attendee
}

// OrderInput is a new order.
type OrderInput struct {
	EventID string
	Lines   []OrderLineInput
	// Email is where the order's mail goes; "" = the buyer's account email.
	Email          string
	AdmissionToken string
	IdempotencyKey string
	Fingerprint    string
}

// OrderQuery selects a page of the caller's orders.
type OrderQuery struct {
	Status OrderStatus
	Limit  int
	Cursor string
}

// CreateOrder places an order: every line is held, or none is. It returns
// ErrNotFound (event), a *ValidationError, ErrSalesClosed, ErrNotAdmitted,
// ErrEmailNotVerified, a *LineError (ErrSoldOut, ErrLimitExceeded) naming
// the line refused, ErrIdempotencyKeyReused or ErrRequestInProgress. With an
// idempotency key that already succeeded it returns that order as it is
// now. Orders count against the same hold rate limits as reservations, and
// on an event with a waiting room need an admission.
func (s *Orders) CreateOrder(ctx context.Context, c Caller, in OrderInput) (*Order, error) {
	if err := s.limits.Hold(ctx, c); err != nil {
		return nil, err
	}
	if !ValidID(in.EventID) {
		return nil, ErrNotFound
	}
	var v ValidationError
	checkKey(&v, in.IdempotencyKey)
	if in.Email != "" {
		if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 {
			v.Add("email", "must be an email address")
		}
	}
	switch {
	case len(in.Lines) == 0:
		v.Add("lines", "must have at least one line")
	case len(in.Lines) > MaxOrderLines:
		v.Add("lines", "must have at most %d lines", MaxOrderLines)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	e, err := s.events.load(ctx, s.store, in.EventID)
	if err != nil {
		return nil, err
	}
	if !e.Public() {
		return nil, ErrNotFound // a draft sells to nobody and is not revealed
	}
	now := s.clock()
	o := &Order{
		ID: NewID(), EventID: e.ID, UserID: c.UserID, Email: in.Email, Status: OrderPending,
		HoldExpiresAt: now.Add(time.Duration(e.HoldSeconds) * time.Second),
		CreatedAt:     now, UpdatedAt: now,
	}
	if err := buildLines(o, e, in.Lines); err != nil {
		return nil, err
	}
	switch {
	case !e.Selling() || !e.OnSale(now) || closedLine(o, e):
		return nil, ErrSalesClosed
	case e.Queue.Enabled && (in.AdmissionToken == "" || s.admissions == nil || !s.admissions.Admits(in.AdmissionToken, c.UserID, e.ID)):
		return nil, ErrNotAdmitted
	}
	if err := decideOrder(o, unlimited(o), 0, e.MaxTicketsPerUser); err != nil {
		return nil, err // more than the limit on its own
	}
	if err := checkBuyer(ctx, s.store, c, e); err != nil {
		return nil, err
	}
	req := OrderRequest{Order: o, MaxPerUser: e.MaxTicketsPerUser}
	if in.IdempotencyKey != "" {
		if !s.inflight.begin(c.UserID, in.IdempotencyKey) {
			return nil, ErrRequestInProgress
		}
		defer s.inflight.end(c.UserID, in.IdempotencyKey)
		req.Idempotency = &Idempotency{
			UserID: c.UserID, Key: in.IdempotencyKey, Fingerprint: in.Fingerprint, CreatedAt: now,
			Outcome: Outcome{Kind: OutcomeOrder, ReservationID: o.ID},
		}
	}
	err = s.engine.hold(ctx, e.ID, req)
	if errors.Is(err, ErrIdempotencyKeyReused) {
		if o, err := s.replay(ctx, c.UserID, in.IdempotencyKey, in.Fingerprint); o != nil || err != nil {
			return o, err
		}
		return nil, ErrRequestInProgress
	}
	if err != nil {
		return nil, err
	}
	if e.Queue.Enabled {
		s.admissions.AdmissionUsed(e.ID, c.UserID)
	}
	return o, nil
}

// buildLines validates the lines of a new order against its event and
// writes them, with prices and the total, into o.
func buildLines(o *Order, e *Event, lines []OrderLineInput) error {
	var v ValidationError
	seen := make(map[string]bool, len(lines))
	for i, in := range lines {
		field := fmt.Sprintf("lines[%d]", i)
		t := e.Tier(in.TierID)
		switch {
		case t == nil:
			v.Add(field+".tier_id", "is not a tier of this event")
			continue
		case t.Hidden:
			v.Add(field+".tier_id", "is not a tier of this event") // a hidden tier is not shown: do not reveal it
			continue
		case seen[t.ID]:
			v.Add(field+".tier_id", "appears in another line; one line per tier")
			continue
		case in.Quantity < 1:
			v.Add(field+".quantity", "must be at least 1")
			continue
		case len(in.Attendees) > in.Quantity:
			v.Add(field+".attendees", "must not name more people than the line has tickets")
			continue
		}
		seen[t.ID] = true
		for j, a := range in.Attendees {
			checkText(&v, fmt.Sprintf("%s.attendees[%d].name", field, j), a.Name, 1, 100)
			checkText(&v, fmt.Sprintf("%s.attendees[%d].phone", field, j), a.Phone, 0, 40)
		}
		switch {
		case o.Total.Currency == "":
			o.Total.Currency = t.Price.Currency
		case o.Total.Currency != t.Price.Currency:
			v.Add(field+".tier_id", "is sold in %s; one order is paid in one currency", t.Price.Currency)
			continue
		}
		amount := Money{Amount: t.Price.Amount * int64(in.Quantity), Currency: t.Price.Currency}
		o.Lines = append(o.Lines, OrderLine{TierID: t.ID, Quantity: in.Quantity, UnitPrice: t.Price, Amount: amount,
			Attendees: in.Attendees})
		o.Total.Amount += amount.Amount
	}
	o.Refunded.Currency = o.Total.Currency
	return v.Err()
}

// unlimited returns tickets left per tier that fit any line of o: with it,
// decideOrder checks only the user's limit.
func unlimited(o *Order) map[string]int {
	m := make(map[string]int, len(o.Lines))
	for _, l := range o.Lines {
		m[l.TierID] += l.Quantity
	}
	return m
}

// replay returns the order recorded for (userID, key) as it is now, nil
// when there is no record, or ErrIdempotencyKeyReused when the record is of
// another request.
func (s *Orders) replay(ctx context.Context, userID, key, fingerprint string) (*Order, error) {
	rec, err := s.store.Idempotency(ctx, userID, key)
	if errors.Is(err, ErrNotFound) || err == nil && s.clock().Sub(rec.CreatedAt) > IdempotencyTTL {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.Fingerprint != fingerprint || rec.Outcome.Kind != OutcomeOrder {
		return nil, ErrIdempotencyKeyReused
	}
	return s.store.Order(ctx, rec.Outcome.ReservationID)
}

// Order returns an order its buyer, a platform admin or a member of the
// event's organizer who may view its sales may see, with its latest
// payment, or ErrNotFound.
func (s *Orders) Order(ctx context.Context, c Caller, id string) (*Order, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.UserID != "" && o.UserID == c.UserID {
		return o, nil
	}
	if _, err := s.access.Event(ctx, c, o.EventID, ActionViewSales); err != nil {
		if errors.Is(err, ErrForbidden) || errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound // never reveal that someone else's exists
		}
		return nil, err
	}
	return o, nil
}

// buyerOrder returns an order its buyer or a platform admin may act on as
// the buyer (cancel, pay), or ErrNotFound.
func (s *Orders) buyerOrder(ctx context.Context, c Caller, id string) (*Order, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	if (c.UserID == "" || o.UserID != c.UserID) && !c.IsAdmin() {
		return nil, ErrNotFound
	}
	return o, nil
}

// closedLine reports whether an order asks for a closed tier.
func closedLine(o *Order, e *Event) bool {
	for _, l := range o.Lines {
		if t := e.Tier(l.TierID); t != nil && t.Closed {
			return true
		}
	}
	return false
}

// ListOrders returns the caller's orders, newest first.
func (s *Orders) ListOrders(ctx context.Context, c Caller, q OrderQuery) (Page[*Order], error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page[*Order]{}, err
	}
	if q.Status != "" && !q.Status.Valid() {
		var v ValidationError
		v.Add("status", "must be one of pending, paid, expired, cancelled, refunded, partially_refunded")
		return Page[*Order]{}, &v
	}
	f := OrderFilter{UserID: c.UserID, Status: q.Status, Limit: limit + 1}
	if q.Cursor != "" {
		id, ok := decodeIDCursor(q.Cursor)
		if !ok {
			return Page[*Order]{}, badCursor()
		}
		f.BeforeID = id
	}
	items, err := s.store.ListOrders(ctx, f)
	if err != nil {
		return Page[*Order]{}, err
	}
	p := Page[*Order]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = encodeIDCursor(p.Items[limit-1].ID)
	}
	return p, nil
}

// CancelOrder cancels a pending order; its tickets go back on sale at once
// (OrderCancelStep). A payment still under way for it is refunded if it
// succeeds, unless the tickets are still there (Settle). It returns
// ErrNotFound, ErrInvalidState, ErrIdempotencyKeyReused or
// ErrRequestInProgress; with a key that already succeeded, the order as it
// is now.
func (s *Orders) CancelOrder(ctx context.Context, c Caller, id string, idem Idempotent) (*Order, error) {
	var v ValidationError
	checkKey(&v, idem.Key)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if idem.Key != "" {
		if !s.inflight.begin(c.UserID, idem.Key) {
			return nil, ErrRequestInProgress
		}
		defer s.inflight.end(c.UserID, idem.Key)
		if o, err := s.replay(ctx, c.UserID, idem.Key, idem.Fingerprint); o != nil || err != nil {
			return o, err
		}
	}
	o, err := s.buyerOrder(ctx, c, id)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var rec *Idempotency
	if idem.Key != "" {
		rec = &Idempotency{UserID: c.UserID, Key: idem.Key, Fingerprint: idem.Fingerprint, CreatedAt: now,
			Outcome: Outcome{Kind: OutcomeOrder, ReservationID: o.ID}}
	}
	return s.store.CancelOrder(ctx, o.ID, now, rec)
}

// paymentCallTimeout bounds one call to the payment provider.
const paymentCallTimeout = 20 * time.Second

// StartPayment starts paying for a pending order with the configured
// provider and token (a payment method from the buyer's client; "" to get a
// client secret for the provider's own client flow). It returns the
// payment: succeeded (the order is paid), requires_action, processing, or
// ErrPaymentDeclined (the order keeps its tickets until its hold runs out;
// the buyer may pay again). It returns ErrNotFound, ErrHoldExpired,
// ErrInvalidState (not pending, or a payment already under way or done),
// or ErrUnavailable when no provider is configured or it cannot be reached
// (the payment is then reconciled in the background, and the order shows
// it as processing).
func (s *Orders) StartPayment(ctx context.Context, c Caller, orderID, token string) (*Payment, *Order, error) {
	var v ValidationError
	checkLen(&v, "payment_token", token, 0, 255)
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	if s.provider == nil {
		return nil, nil, Errorf(CodeUnavailable, "no payment provider is configured")
	}
	o, err := s.buyerOrder(ctx, c, orderID)
	if err != nil {
		return nil, nil, err
	}
	now := s.clock()
	p := &Payment{ID: NewID(), OrderID: o.ID, Provider: s.provider.Name(), Status: PaymentProcessing,
		Amount: o.Total, StatusAt: now, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreatePayment(ctx, p, func(o *Order) error { return PaymentAllowed(o, now) }); err != nil {
		return nil, nil, err
	}
	// The provider call and what follows run to the end even when the
	// client leaves: the money may move.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), paymentCallTimeout)
	defer cancel()
	st, err := s.provider.StartPayment(pctx, p, o, token)
	if err != nil {
		s.log.Warn("starting a payment failed; it will be reconciled", "payment", p.ID, "order", o.ID, "err", err)
		return nil, nil, &RetryableError{Err: fmt.Errorf("payment provider: %w", err)}
	}
	o, err = s.settle(pctx, p.ID, "", st, s.clock())
	if err != nil {
		return nil, nil, err
	}
	p = o.Payment
	if p.Status == PaymentFailed {
		if p.FailureReason != "" {
			return p, o, Errorf(CodePaymentDeclined, "%s", p.FailureReason)
		}
		return p, o, ErrPaymentDeclined
	}
	return p, o, nil
}

// PaymentAllowed decides whether a new payment may start for o at now: the
// order is pending, its hold has not run out, and no payment of it is under
// way or done (one in requires_action may be replaced: it was never
// confirmed with a payment method).
func PaymentAllowed(o *Order, now time.Time) error {
	switch {
	case o.Status == OrderPending && o.HoldRunOut(now):
		return ErrHoldExpired
	case o.Status != OrderPending:
		return errOrderState(o, "paid for")
	case o.Payment != nil && (o.Payment.Status == PaymentProcessing || o.Payment.Status == PaymentSucceeded):
		return Errorf(CodeInvalidState, "a payment for this order is already %s", o.Payment.Status)
	}
	return nil
}

// settle applies a provider's report on a payment (Settle) in one store
// transaction (shared with the event's other reports of the moment), with
// the mail it owes, and returns the order with the
// payment as written in Payment. eventKey names the provider event ("" for
// a report from a call).
func (s *Orders) settle(ctx context.Context, paymentID, eventKey string, st PaymentState, at time.Time) (*Order, error) {
	// One read for what the decision needs besides the locked rows, and
	// the event's rules from the cache: decide itself never waits for
	// another connection while the transaction holds one.
	pr := &partyRead{PaymentID: paymentID}
	if err := s.parties.hold(ctx, "", refCall[partyRead]{pr}); err != nil {
		return nil, err
	}
	party := pr.Party
	e, err := s.events.load(ctx, s.store, party.EventID)
	if err != nil {
		return nil, err
	}
	k, err := s.keys.get(ctx, s.store, party.EventID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	paidHook := s.hooks.hookFor(ctx, e, HookOrderPaid)
	req := &SettleRequest{PaymentID: paymentID, EventKey: eventKey, Decide: func(f SettleFacts) (Settlement, bool, error) {
		f.MaxPerUser = e.MaxTicketsPerUser
		d, changed := Settle(f, st, at, now)
		switch {
		case d.OrderChanged && d.Order.Status == OrderPaid:
			links := ticketLinks(k, s.publicURL, e, d.Order, d.Tickets)
			d.Mail = newOutboxMessage(orderPaidMail(party.Email, e, d.Order, links), now)
			if paidHook != "" {
				d.Webhooks = []*WebhookMessage{NewWebhookMessage(paidHook, HookOrderPaid, orderPaidData(d.Order, party.Email), now)}
			}
		case d.Refund != nil:
			d.Mail = newOutboxMessage(paymentRefundedMail(party.Email, e, d.Order, d.Refund), now)
		}
		return d, changed, nil
	}}
	// The event's reports share transactions (settleEngine).
	if err := s.settler.hold(ctx, party.EventID, refCall[SettleRequest]{req}); err != nil {
		return nil, err
	}
	o, out := req.Order, req.Settlement
	if out.Mail != nil {
		s.outbox.wake()
	}
	if len(out.Webhooks) > 0 {
		s.hooks.wake()
	}
	if out.OrderChanged && out.Order.Status == OrderPaid {
		s.hooks.checkSoldOut(e)
	}
	if out.Refund != nil {
		s.log.Warn("a payment succeeded for an order that cannot keep it; refunding it",
			"payment", paymentID, "order", o.ID, "status", o.Status)
		s.wakeRefunds()
	}
	return o, nil
}

// recipient returns where o's mail goes.
func (s *Orders) recipient(ctx context.Context, o *Order) (string, error) {
	if o.Email != "" {
		return o.Email, nil
	}
	u, err := s.store.User(ctx, o.UserID)
	if err != nil {
		return "", err
	}
	return u.Email, nil
}

// HandleWebhook applies a provider's callback: the payment or refund it
// reports moves as the rules say, once per provider event (a repeated
// event changes nothing, an older one never overrides a newer state). It
// returns ErrNotFound for a provider that is not configured and
// ErrWebhookSignature for a callback that does not verify. A callback about
// a payment boxoffice does not know is acknowledged and ignored.
func (s *Orders) HandleWebhook(ctx context.Context, provider string, body []byte, header func(string) string) error {
	if s.provider == nil || provider != s.provider.Name() {
		return ErrNotFound
	}
	ev, err := s.provider.ParseWebhook(body, header)
	switch {
	case errors.Is(err, ErrWebhookSignature):
		return err
	case err != nil:
		// Signed, but not a callback this provider sends: answer the
		// sender's mistake, never a 500 it would retry for days.
		s.log.Info("webhook that verifies but cannot be read", "provider", provider, "err", err)
		var v ValidationError
		v.Add("body", "is not a callback of this provider")
		return &v
	}
	key := provider + ":" + ev.ID
	switch ev.Kind {
	case WebhookPayment:
		id := ev.PaymentID
		if id == "" || !ValidID(id) {
			p, err := s.store.PaymentByRef(ctx, provider, ev.Payment.Ref)
			if errors.Is(err, ErrNotFound) {
				s.log.Info("webhook for an unknown payment ignored", "event", ev.ID, "ref", ev.Payment.Ref)
				return nil
			}
			if err != nil {
				return err
			}
			id = p.ID
		}
		_, err := s.settle(ctx, id, key, ev.Payment, ev.At)
		return ignoreKnown(err)
	case WebhookRefund:
		if !ValidID(ev.RefundID) {
			return nil
		}
		r, err := s.store.Refund(ctx, ev.RefundID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !r.Advance(ev.Refund, s.clock()) {
			return nil
		}
		return ignoreKnown(s.store.UpdateRefund(ctx, r, key))
	}
	return nil
}

// ignoreKnown turns the answers to a callback that changes nothing (a
// repeated event, an unknown payment) into success.
func ignoreKnown(err error) error {
	if errors.Is(err, ErrDuplicateEvent) || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Advance moves r to the provider's report st at now and reports whether r
// changed. succeeded is final; a report without a state changes nothing.
func (r *Refund) Advance(st RefundState, now time.Time) bool {
	changed := false
	if r.Ref == "" && st.Ref != "" {
		r.Ref, changed = st.Ref, true
	}
	switch st.Status {
	case RefundPending, RefundSucceeded, RefundFailed:
		if r.Status != RefundSucceeded && st.Status != r.Status {
			r.Status, changed = st.Status, true
			if st.Status == RefundFailed {
				r.LastError = st.FailureReason
			}
		}
	}
	if changed {
		r.UpdatedAt = now
	}
	return changed
}

// RefundInput asks for a refund of an order: TicketIDs names the tickets
// to refund, else Lines how many of each tier; both nil refunds everything
// the order still holds.
type RefundInput struct {
	TicketIDs []string
	Lines     []RefundLine
	Reason    string
}

// RefundOrder refunds tickets of a paid order (DecideRefund): its buyer
// within the event's refund policy, an admin at any time. The tickets go
// back on sale at once; the money goes back through the refund outbox. It
// returns the refund (pending until the provider confirms it), ErrNotFound,
// ErrRefundClosed, ErrInvalidState or a *ValidationError.
func (s *Orders) RefundOrder(ctx context.Context, c Caller, orderID string, in RefundInput) (*Refund, error) {
	var v ValidationError
	checkMultiline(&v, "reason", in.Reason, 0, 500)
	if in.Lines != nil && len(in.Lines) == 0 {
		v.Add("lines", "must name at least one line, or be left out to refund everything")
	}
	switch {
	case in.TicketIDs != nil && in.Lines != nil:
		v.Add("ticket_ids", "name the tickets or the lines to refund, not both")
	case in.TicketIDs != nil && (len(in.TicketIDs) == 0 || len(in.TicketIDs) > maxRefundTickets):
		v.Add("ticket_ids", "must name between 1 and %d tickets, or be left out", maxRefundTickets)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	o, err := s.Order(ctx, c, orderID)
	if err != nil {
		return nil, err
	}
	e, err := s.store.Event(ctx, o.EventID)
	if err != nil {
		return nil, err
	}
	to, err := s.recipient(ctx, o)
	if err != nil {
		return nil, err
	}
	deadline, fanRefunds := e.FanRefundDeadline()
	byOrganizer := false
	if _, err := s.access.Event(ctx, c, o.EventID, ActionRefund); err == nil {
		byOrganizer = true
	} else if !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if !byOrganizer && (c.UserID == "" || o.UserID != c.UserID) {
		return nil, ErrForbidden // sees the order (its sales) but may not refund it
	}
	req := RefundRequest{TicketIDs: in.TicketIDs, Lines: in.Lines, Reason: in.Reason, ByOrganizer: byOrganizer}
	now := s.clock()
	hook := s.hooks.hookFor(ctx, e, HookOrderRefunded)
	r, err := s.store.RefundOrder(ctx, o.ID, func(o *Order, p *Payment) (*Refund, *OutboxMessage, error) {
		r, err := DecideRefund(o, p, req, deadline, fanRefunds, now)
		if err != nil {
			return nil, nil, err
		}
		if hook != "" {
			r.Webhooks = []*WebhookMessage{NewWebhookMessage(hook, HookOrderRefunded, orderRefundedData(o, r), now)}
		}
		return r, newOutboxMessage(orderRefundedMail(to, e, o, r), now), nil
	})
	if err != nil {
		return nil, err
	}
	s.outbox.wake()
	s.wakeRefunds()
	if hook != "" {
		s.hooks.wake()
	}
	if byOrganizer {
		s.audit.record(ctx, c, e.OrganizerOf(), "order.refunded", "order", o.ID, map[string]any{"refund_id": r.ID,
			"amount": r.Amount.Amount, "currency": r.Amount.Currency, "tickets": len(r.TicketIDs), "reason": r.Reason})
	}
	return r, nil
}

// Refunds returns the refunds of an order the caller may see.
func (s *Orders) Refunds(ctx context.Context, c Caller, orderID string) ([]*Refund, error) {
	o, err := s.Order(ctx, c, orderID)
	if err != nil {
		return nil, err
	}
	return s.store.OrderRefunds(ctx, o.ID)
}

// SendRefundsNow asks the refund sender to look for due refunds now rather
// than at its next tick (after the provider is back, say).
func (s *Orders) SendRefundsNow() { s.wakeRefunds() }

func (s *Orders) wakeRefunds() {
	select {
	case s.refundsDue <- struct{}{}:
	default:
	}
}

// Background work of the checkout.
const (
	// refundLease is how long a sender holds claimed refunds.
	refundLease = 2 * time.Minute
	// refundBatch is how many refunds a sender claims at once.
	refundBatch = 16
	// reconcileAfter is how long a payment may stay under way before the
	// reconciliation job asks its provider; reconcileFor how long it keeps
	// asking (a payment the buyer abandoned in requires_action stays so).
	reconcileAfter = time.Minute
	reconcileFor   = 7 * 24 * time.Hour
	// reconcileEvery is how often the reconciliation job runs.
	reconcileEvery = 30 * time.Second
	// refundLookEvery is how often a refund the provider accepted but has
	// not finished is looked at, besides its callbacks.
	refundLookEvery = 10 * time.Minute
	// RefundRetryBase and RefundRetryMax shape the refund outbox's backoff.
	RefundRetryBase = 10 * time.Second
	RefundRetryMax  = time.Hour
)

// Run does the checkout's background work until ctx is done: it expires
// unpaid orders every sweep interval, settles the orders of cancelled
// events (cancel.go), sends due refunds to the provider
// (retrying failures with backoff, forever: a refund once owed is owed until
// it is done), and reconciles payments under way for longer than a minute.
// Every store and provider call runs under its own deadline.
func (s *Orders) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.expireLoop(ctx) })
	wg.Go(func() { s.cancelLoop(ctx) })
	if s.provider != nil {
		wg.Go(func() { s.refundLoop(ctx) })
		wg.Go(func() { s.reconcileLoop(ctx) })
	}
	wg.Wait()
	return nil
}

func (s *Orders) expireLoop(ctx context.Context) {
	t := time.NewTicker(s.sweep)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			const batch = 1000
			bctx, cancel := context.WithTimeout(ctx, s.timeout)
			n, err := s.store.ExpireOrders(bctx, s.clock(), batch)
			cancel()
			if err != nil && ctx.Err() == nil {
				s.log.Warn("expiring orders", "err", err)
			}
			if err != nil || n < batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Orders) refundLoop(ctx context.Context) {
	t := time.NewTicker(s.sweep * 5)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := s.sendRefunds(ctx)
			if err != nil || n < refundBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.refundsDue:
		}
	}
}

// sendRefunds claims due refunds and asks the provider for each. It returns
// how many it claimed.
func (s *Orders) sendRefunds(ctx context.Context) (int, error) {
	now := s.clock()
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	due, err := s.store.ClaimRefunds(cctx, now, now.Add(refundLease), refundBatch)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("claiming refunds", "err", err)
		}
		return 0, err
	}
	for _, r := range due {
		s.sendRefund(ctx, r)
	}
	return len(due), nil
}

func (s *Orders) sendRefund(ctx context.Context, r *Refund) {
	pctx, cancel := context.WithTimeout(ctx, paymentCallTimeout)
	defer cancel()
	var st RefundState
	var err error
	if r.Ref != "" && r.Status == RefundPending {
		// The provider has it: ask how it went, never request it again.
		st, err = s.provider.LookupRefund(pctx, r)
	} else {
		var p *Payment
		p, err = s.store.Payment(pctx, r.PaymentID)
		if err == nil {
			st, err = s.provider.Refund(pctx, r, p)
		}
	}
	now := s.clock()
	delay := RefundRetryBase
	if err != nil {
		// The provider could not be asked, or did not answer: the refund
		// stays as it was, with the error to show, and the next try uses
		// the same idempotency key (Attempts unchanged), so a refund the
		// provider did make is not made twice.
		r.LastError = err.Error()
	} else {
		r.Advance(st, now)
		if r.Status == RefundFailed {
			// The provider refused it: the next try is a new request.
			r.Attempts++
			delay, _ = MailRetryDelay(r.Attempts, RefundRetryBase, RefundRetryMax)
		}
	}
	if r.Status != RefundSucceeded {
		// Pending: the provider confirms later (a callback, or the next
		// look); failed or not asked: try again after the delay.
		if r.Status == RefundPending && r.Ref != "" {
			delay = refundLookEvery
		}
		r.NextAttemptAt = now.Add(delay)
	}
	r.UpdatedAt = now
	if err != nil || r.Status == RefundFailed {
		s.log.Warn("refund not done; will retry", "refund", r.ID, "order", r.OrderID, "attempts", r.Attempts,
			"err", r.LastError)
	}
	uctx, cancel2 := context.WithTimeout(ctx, s.timeout)
	defer cancel2()
	if err := s.store.UpdateRefund(uctx, r, ""); err != nil && ctx.Err() == nil {
		s.log.Warn("recording a refund", "refund", r.ID, "err", err)
	}
}

func (s *Orders) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.Reconcile(ctx)
	}
}

// Reconcile asks the provider about every payment under way for longer
// than reconcileAfter (and created within reconcileFor) and applies what it
// says, as a callback would. It returns how many payments it asked about.
func (s *Orders) Reconcile(ctx context.Context) int {
	if s.provider == nil {
		return 0
	}
	now := s.clock()
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	stuck, err := s.store.StuckPayments(cctx, now.Add(-reconcileAfter), now.Add(-reconcileFor), 100)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("finding payments to reconcile", "err", err)
		}
		return 0
	}
	for _, p := range stuck {
		if p.Provider != s.provider.Name() {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, paymentCallTimeout)
		o, err := s.store.Order(pctx, p.OrderID)
		var st PaymentState
		if err == nil {
			st, err = s.provider.LookupPayment(pctx, p, o)
		}
		if err == nil {
			// A look is as fresh as now; touching the payment moves it to
			// the back of the line even when nothing changed.
			_, err = s.settle(pctx, p.ID, "", st, s.clock())
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("reconciling a payment", "payment", p.ID, "err", err)
		}
	}
	return len(stuck)
}

// orderPaidMail is the confirmation of a paid order.
func orderPaidMail(to string, e *Event, o *Order, links []string) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Thank you: your order for %s is paid.\n\n", e.Title)
	writeOrderLines(&b, e, o)
	fmt.Fprintf(&b, "\nWhen: %s\nWhere: %s\nOrder: %s\n", e.StartsAt.Format(time.RFC1123), e.Venue, o.ID)
	fmt.Fprintf(&b, "\nAll your tickets in one PDF:\n%s\n", links[0])
	if len(links) > 1 {
		b.WriteString("\nEach ticket on its own:\n")
		for i, l := range links[1:] {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, l)
		}
	}
	b.WriteString("\nShow the code on each ticket at the entrance, on paper or on your phone. " +
		"Each code admits one person once; keep it to yourself.\n")
	return Message{Kind: MailOrderPaid, To: to, Subject: "Your tickets for " + e.Title, Text: b.String()}
}

// orderRefundedMail tells the buyer about a refund of their tickets.
func orderRefundedMail(to string, e *Event, o *Order, r *Refund) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "We are refunding %s to you for your order for %s.\n\n", FormatMoney(r.Amount), e.Title)
	for _, l := range r.Lines {
		fmt.Fprintf(&b, "  %d × %s\n", l.Quantity, tierName(e, l.TierID))
	}
	fmt.Fprintf(&b, "\nOrder: %s\nThe money reaches your account in a few days.\n", o.ID)
	return Message{Kind: MailOrderRefunded, To: to, Subject: "Refund for " + e.Title, Text: b.String()}
}

// paymentRefundedMail tells a buyer that their payment arrived when the
// tickets were no longer there, and that it is refunded in full.
func paymentRefundedMail(to string, e *Event, o *Order, r *Refund) Message {
	text := fmt.Sprintf("Your payment of %s for %s arrived after your order's tickets had gone back on sale, "+
		"and they were sold meanwhile (or the order was already paid). We are refunding the whole payment; "+
		"the money reaches your account in a few days.\n\nOrder: %s\n", FormatMoney(r.Amount), e.Title, o.ID)
	return Message{Kind: MailPaymentRefunded, To: to, Subject: "Your payment for " + e.Title + " is refunded", Text: text}
}

func writeOrderLines(b *strings.Builder, e *Event, o *Order) {
	for _, l := range o.Lines {
		fmt.Fprintf(b, "  %d × %s  %s\n", l.Quantity, tierName(e, l.TierID), FormatMoney(l.Amount))
	}
	fmt.Fprintf(b, "  Total: %s\n", FormatMoney(o.Total))
}

func tierName(e *Event, tierID string) string {
	if t := e.Tier(tierID); t != nil {
		return t.Name
	}
	return tierID
}

// zeroDecimal lists the ISO 4217 currencies whose minor unit is the unit
// itself.
var zeroDecimal = map[string]bool{"BIF": true, "CLP": true, "DJF": true, "GNF": true, "ISK": true, "JPY": true,
	"KMF": true, "KRW": true, "PYG": true, "RWF": true, "UGX": true, "UYI": true, "VND": true, "VUV": true,
	"XAF": true, "XOF": true, "XPF": true}

// FormatMoney writes m for people: "USD 50.00", "JPY 5000".
func FormatMoney(m Money) string {
	if zeroDecimal[m.Currency] {
		return fmt.Sprintf("%s %d", m.Currency, m.Amount)
	}
	sign, a := "", m.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s %s%d.%02d", m.Currency, sign, a/100, a%100)
}
