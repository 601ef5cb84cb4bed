package boxoffice

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file is the cancellation of an event. Cancelling is two steps, so
// that a crash between them loses nothing:
//
//  1. CancelEvent moves the event to cancelled in one transaction
//     (Event.Transition); from then on it sells nothing, its waiting room
//     answers QueueCancelled, and it stays readable with its status. The
//     event.cancelled webhook and the audit entry are written right after
//     that commit (a crash in between loses them, not the refunds).
//  2. Its orders are settled: every paid or partially refunded order is
//     refunded in full as by its organizer (through Store.RefundOrder, so
//     the refund outbox sends the money back and retries until done, the
//     tickets are voided, and the buyer gets one MailEventCancelled), and
//     every pending order is cancelled (its tickets released). CancelEvent
//     settles up to cancelInline orders itself; the rest, and whatever a
//     crash left, is settled by Orders.Run (cancelLoop), which asks the
//     store for the open orders of cancelled events
//     (Store.CancelledEventOrders) in batches. CancelEvent wakes it when
//     it leaves orders (Cancellation.Complete false). Settling an order again
//     changes nothing: DecideRefund refuses an order with nothing left to
//     refund, OrderCancelStep one that is no longer pending.

// MailEventCancelled tells a buyer that the event is cancelled and their
// money is on its way back.
const MailEventCancelled = "event_cancelled"

// cancelInline is how many orders CancelEvent settles before it answers;
// the background job settles the rest.
const cancelInline = 100

// cancelBatch is how many open orders of cancelled events the background
// job settles per round; cancelEvery how often it looks.
const (
	cancelBatch = 100
	cancelEvery = 30 * time.Second
)

// maxCancelReason bounds the reason of a cancellation.
const maxCancelReason = 500

// Cancellation is what CancelEvent did.
type Cancellation struct {
	Event *Event
	// Refunded and Cancelled count the orders refunded and cancelled by
	// this call.
	Refunded  int
	Cancelled int
	// Complete is true when no order of the event is left to settle;
	// false when the background job settles the rest.
	Complete bool
}

// CancelEvent calls off an event (its organizer's owners and managers,
// platform admins): the event becomes cancelled, the event.cancelled
// webhook is sent, and its orders are settled (see the top of cancel.go):
// up to cancelInline of them before it returns, the rest in the
// background. It returns ErrNotFound, ErrForbidden, ErrInvalidState (the
// event is archived or already cancelled) or a *ValidationError.
func (s *Orders) CancelEvent(ctx context.Context, c Caller, id, reason string) (*Cancellation, error) {
	var v ValidationError
	checkMultiline(&v, "reason", reason, 0, maxCancelReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, err := s.access.Event(ctx, c, id, ActionManageEvent); err != nil {
		return nil, err
	}
	now := s.clock()
	e, err := s.store.UpdateEvent(ctx, id, func(e *Event) error {
		if err := e.Transition(EventCancelled, now); err != nil {
			return err
		}
		e.Status = EventCancelled
		e.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.events.forget(id)
	if err := s.hooks.EventCancelled(ctx, e, reason, now); err != nil {
		s.log.Warn("writing the event.cancelled webhook", "event", id, "err", err)
	}
	s.audit.record(ctx, c, e.OrganizerOf(), "event.cancelled", "event", e.ID, map[string]any{"reason": reason})
	out := &Cancellation{Event: e}
	out.Refunded, out.Cancelled, out.Complete, err = s.settleEvent(ctx, e, reason, cancelInline)
	if err != nil {
		// The event is cancelled; the background job settles its orders.
		s.log.Warn("settling the orders of a cancelled event", "event", id, "err", err)
		out.Complete = false
	}
	if !out.Complete {
		select {
		case s.cancelsDue <- struct{}{}:
		default:
		}
	}
	return out, nil
}

// settleEvent settles up to limit open orders of the cancelled event e. It
// reports whether none is left.
func (s *Orders) settleEvent(ctx context.Context, e *Event, reason string, limit int) (refunded, cancelled int, complete bool, err error) {
	for _, st := range []OrderStatus{OrderPaid, OrderPartiallyRefunded, OrderPending} {
		for {
			if refunded+cancelled >= limit {
				return refunded, cancelled, false, nil
			}
			os, err := s.store.ListOrders(ctx, OrderFilter{EventID: e.ID, Status: st, Limit: min(limit-refunded-cancelled, 100)})
			if err != nil {
				return refunded, cancelled, false, err
			}
			if len(os) == 0 {
				break
			}
			for _, o := range os {
				r, c, err := s.settleOrder(ctx, e, o.ID, reason)
				if err != nil {
					return refunded, cancelled, false, err
				}
				refunded, cancelled = refunded+r, cancelled+c
				if r+c == 0 {
					// Nothing to do for an order listed as open: leave it
					// to the background job rather than list it forever.
					return refunded, cancelled, false, nil
				}
			}
		}
	}
	return refunded, cancelled, true, nil
}

// settleOrder settles one order of the cancelled event e: a paid or
// partially refunded order is refunded in full (1, 0), a pending one
// cancelled (0, 1); an order settled already is left as it is (0, 0).
func (s *Orders) settleOrder(ctx context.Context, e *Event, orderID, reason string) (refunded, cancelled int, err error) {
	o, err := s.store.Order(ctx, orderID)
	if err != nil {
		return 0, 0, err
	}
	now := s.clock()
	switch {
	case o.Status == OrderPending:
		_, err := s.store.CancelOrder(ctx, o.ID, now, nil)
		if errors.Is(err, ErrInvalidState) {
			return 0, 0, nil // paid or expired meanwhile: the next round sees it
		}
		if err != nil {
			return 0, 0, err
		}
		return 0, 1, nil
	case !o.Status.Sold():
		return 0, 0, nil
	}
	to, err := s.recipient(ctx, o)
	if err != nil {
		return 0, 0, err
	}
	req := RefundRequest{Reason: cancelRefundReason(reason), ByOrganizer: true}
	hook := s.hooks.hookFor(ctx, e, HookOrderRefunded)
	r, err := s.store.RefundOrder(ctx, o.ID, func(o *Order, p *Payment) (*Refund, *OutboxMessage, error) {
		r, err := DecideRefund(o, p, req, time.Time{}, false, now)
		if err != nil {
			return nil, nil, err
		}
		if hook != "" {
			r.Webhooks = []*WebhookMessage{NewWebhookMessage(hook, HookOrderRefunded, orderRefundedData(o, r), now)}
		}
		return r, newOutboxMessage(eventCancelledMail(to, e, o, r, reason), now), nil
	})
	if errors.Is(err, errNothingToRefund) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	s.outbox.wake()
	s.wakeRefunds()
	if hook != "" {
		s.hooks.wake()
	}
	if s.audit != nil {
		s.audit.recordAs(ctx, "system", "", e.OrganizerOf(), "order.refunded", "order", o.ID,
			map[string]any{"refund_id": r.ID, "amount": r.Amount.Amount, "currency": r.Amount.Currency, "event_cancelled": true})
	}
	return 1, 0, nil
}

// cancelRefundReason is the reason of the refunds of a cancelled event.
func cancelRefundReason(reason string) string {
	if reason == "" {
		return "event cancelled"
	}
	return "event cancelled: " + reason
}

// eventCancelledMail tells a buyer that the event is cancelled and what
// comes back to them.
func eventCancelledMail(to string, e *Event, o *Order, r *Refund, reason string) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "We are sorry: %s, planned for %s, is cancelled.\n", e.Title, e.StartsAt.Format(time.RFC1123))
	if reason != "" {
		fmt.Fprintf(&b, "\n%s\n", reason)
	}
	fmt.Fprintf(&b, "\nYour tickets are no longer valid, and we are refunding %s to you:\n\n", FormatMoney(r.Amount))
	for _, l := range r.Lines {
		fmt.Fprintf(&b, "  %d × %s\n", l.Quantity, tierName(e, l.TierID))
	}
	fmt.Fprintf(&b, "\nOrder: %s\nThe money goes back to the way you paid and reaches your account in a few days; "+
		"you need not do anything.\n", o.ID)
	return Message{Kind: MailEventCancelled, To: to, Subject: e.Title + " is cancelled: your money is coming back", Text: b.String()}
}

// cancelLoop settles the open orders of cancelled events every
// cancelEvery (and at start), in batches: the orders CancelEvent left, and
// those of a cancellation a crash interrupted.
func (s *Orders) cancelLoop(ctx context.Context) {
	t := time.NewTicker(min(cancelEvery, s.sweep*30))
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := s.SettleCancelled(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("settling the orders of cancelled events", "err", err)
			}
			if err != nil || n < cancelBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.cancelsDue:
		}
	}
}

// SettleCancelled settles one batch of the open orders of cancelled events
// (paid, partially refunded, pending) and returns how many it found.
// Orders.Run calls it every 30 seconds at most; running it again, or on several
// instances at once, refunds nothing twice.
func (s *Orders) SettleCancelled(ctx context.Context) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	ids, err := s.store.CancelledEventOrders(cctx, cancelBatch)
	cancel()
	if err != nil {
		return 0, err
	}
	var first error
	for _, id := range ids {
		octx, cancel := context.WithTimeout(ctx, s.timeout)
		err := s.settleCancelledOrder(octx, id)
		cancel()
		if err != nil && first == nil {
			first = err
		}
	}
	return len(ids), first
}

func (s *Orders) settleCancelledOrder(ctx context.Context, orderID string) error {
	o, err := s.store.Order(ctx, orderID)
	if err != nil {
		return err
	}
	e, err := s.store.Event(ctx, o.EventID)
	if err != nil {
		return err
	}
	if e.StatusOf() != EventCancelled {
		return nil
	}
	_, _, err = s.settleOrder(ctx, e, o.ID, "")
	return err
}
